"""Queue messages: one class per type, the same JSON as the dicts of before, checked when read."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest

from adapters import messages
from adapters.messages import (
    AccountCreated,
    AccountUpdated,
    DigestDue,
    DocumentDeleted,
    HashDocuments,
    IndexAccount,
    IndexDocument,
    Malformed,
    PlanChanged,
    QueueMessage,
    UploadCompleted,
    UploadStarted,
)
from adapters.queue import ACCOUNT_EVENTS, BACKFILL, QUEUES, SEARCH_INDEX, UPLOAD_EVENTS

#: Each message and the dict the code built for it before it was typed, key for key, in order.
BEFORE: list[tuple[QueueMessage, dict[str, Any]]] = [
    (
        UploadStarted(account_id="A", document_id="D"),
        {"type": "upload.started", "account_id": "A", "document_id": "D"},
    ),
    (
        UploadCompleted(account_id="A", document_id="D"),
        {"type": "upload.completed", "account_id": "A", "document_id": "D"},
    ),
    (
        DocumentDeleted(account_id="A", document_id="D"),
        {"type": "document.deleted", "account_id": "A", "document_id": "D"},
    ),
    (AccountCreated(account_id="A"), {"type": "account.created", "account_id": "A"}),
    (AccountUpdated(account_id="A", key="K"), {"type": "account.updated", "account_id": "A", "key": "K"}),
    (DigestDue(account_id="A", key="K"), {"type": "digest.due", "account_id": "A", "key": "K"}),
    (
        IndexDocument(account_id="A", document_id="D", key="K"),
        {"type": "index.document", "account_id": "A", "document_id": "D", "key": "K"},
    ),
    (IndexAccount(account_id="A", key="K"), {"type": "index.account", "account_id": "A", "key": "K"}),
    (PlanChanged(account_id="A", key="K"), {"type": "plan.changed", "account_id": "A", "key": "K"}),
    (
        PlanChanged(account_id="A", key="K", after="D"),
        {"type": "plan.changed", "account_id": "A", "key": "K", "after": "D"},
    ),
]


@pytest.mark.parametrize(("message", "before"), BEFORE, ids=lambda value: getattr(value, "kind", ""))
def test_a_message_encodes_to_the_very_json_of_before(message: QueueMessage, before: dict[str, Any]) -> None:
    # As SQS gets it (json.dumps) and as the outbox stores it (compact): the same text as before.
    assert json.dumps(msgspec.to_builtins(message)) == json.dumps(before)
    assert json.dumps(msgspec.to_builtins(message), separators=(",", ":")) == json.dumps(before, separators=(",", ":"))


@pytest.mark.parametrize(("message", "before"), BEFORE, ids=lambda value: getattr(value, "kind", ""))
def test_the_json_of_before_reads_as_the_message(message: QueueMessage, before: dict[str, Any]) -> None:
    for text in (json.dumps(before), json.dumps(before, separators=(",", ":"))):
        assert messages.parse_on(message.queue, text) == message


def test_each_queue_carries_its_kinds_and_every_kind_has_a_queue() -> None:
    assert {queue: [kind.__name__ for kind in messages.on_queue(queue)] for queue in QUEUES} == {
        UPLOAD_EVENTS: ["UploadStarted", "UploadCompleted", "DocumentDeleted"],
        ACCOUNT_EVENTS: ["AccountCreated", "AccountUpdated", "DigestDue"],
        SEARCH_INDEX: ["IndexDocument", "IndexAccount"],
        BACKFILL: ["PlanChanged", "HashDocuments"],
    }


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (HashDocuments(account_id="A", key="K"), '{"type":"hash.documents","account_id":"A","key":"K"}'),
        (
            HashDocuments(account_id="A", key="K", after="D"),
            '{"type":"hash.documents","account_id":"A","key":"K","after":"D"}',
        ),
    ],
)
def test_hash_documents_goes_on_the_backfill_queue_and_reads_as_written(message: HashDocuments, text: str) -> None:
    assert json.dumps(msgspec.to_builtins(message), separators=(",", ":")) == text
    assert messages.parse_on(BACKFILL, text) == message
    assert message.dedupe_key == "hash.documents:A:K"


def test_fields_a_message_does_not_declare_are_ignored() -> None:
    text = '{"type": "account.created", "account_id": "A", "region": "later"}'

    assert messages.parse_on(ACCOUNT_EVENTS, text) == AccountCreated(account_id="A")


@pytest.mark.parametrize(
    ("queue", "text", "reason"),
    [
        (BACKFILL, '{"type": "plan.changed", "account_id": "A", "key": "K", "after": 3}', "Expected `str | null`"),
        (SEARCH_INDEX, '{"type": "index.document", "account_id": "A", "key": "K"}', "missing required field"),
        (UPLOAD_EVENTS, '{"type": "upload.completed", "account_id": "A", "document_id": ""}', "length >= 1"),
        ("nowhere", '{"type": "account.created", "account_id": "A"}', "'nowhere' is no queue DocStore has"),
    ],
)
def test_what_is_no_message_of_its_queue_is_malformed(queue: str, text: str, reason: str) -> None:
    with pytest.raises(Malformed, match=re.escape(reason)):
        messages.parse_on(queue, text)


def test_new_keys_tell_apart_messages_about_the_same_ids() -> None:
    first = IndexDocument(account_id="A", document_id="D", key=messages.new_key())
    second = IndexDocument(account_id="A", document_id="D", key=messages.new_key())

    assert first.dedupe_key != second.dedupe_key
    assert len(first.key) == 32
