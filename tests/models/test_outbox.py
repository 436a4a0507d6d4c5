"""Each change writes the messages it implies in its own transaction, and a failed one writes none."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from ulid import ULID

from adapters.messages import UploadCompleted
from domain.documents import DocumentStatus
from domain.plans import GIB, Plan
from models import accounts, documents, plans, uploads
from models.base import utcnow
from models.documents import Document
from models.errors import DocumentNotFound, EmailTaken, QuotaExceeded
from models.outbox import Pending
from services import uploads as upload_files

#: A moment no other test writes at, a day ahead: no relay takes what is written then (it only
#: sends messages older than its age), so a message written by mistake would still be here.
LATER = utcnow() + timedelta(days=1)


def email() -> str:
    return f"outbox-{ULID()}@example.com".lower()


def waiting(**about: str) -> list[tuple[str, dict[str, Any], int]]:
    """(queue, body, delay) of each message in the outbox whose body has the ``about`` values."""
    found = []
    for item in Pending.scan(consistent_read=True):
        body = json.loads(item.body)
        if all(body.get(name) == value for name, value in about.items()):
            found.append((item.queue, body, int(item.delay_seconds)))
    return sorted(found, key=lambda entry: (entry[0], entry[1]["type"]))


def body_of(item: Pending) -> dict[str, Any]:
    """The message as the outbox holds it: its JSON, read as it is."""
    return json.loads(item.body)


def written_at(moment: Any) -> list[Pending]:
    return [item for item in Pending.scan(consistent_read=True) if item.created_at == moment]


def start(account: accounts.Account, size: int, document_id: str | None = None, **kwargs: Any) -> Document:
    return uploads.start(
        account,
        document_id=document_id or str(ULID()),
        name="notes.txt",
        content_type="text/plain",
        size=size,
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
        **kwargs,
    )


def test_sign_up_writes_account_created_with_the_account(target) -> None:
    sent: list[Pending] = []

    account = accounts.create(email=email(), password_hash="x", plan="FREE", home_region="us-west-2", messages=sent)

    body = {"type": "account.created", "account_id": account.id}
    assert waiting(account_id=account.id) == [("account-events", body, 0)]
    assert [(item.queue, body_of(item)) for item in sent] == [("account-events", body)]


def test_a_taken_email_writes_no_account_and_no_message(target) -> None:
    taken = email()
    accounts.create(email=taken, password_hash="x", plan="FREE", home_region="us-west-2")
    sent: list[Pending] = []

    with pytest.raises(EmailTaken):
        accounts.create(email=taken, password_hash="y", plan="FREE", home_region="us-west-2", now=LATER, messages=sent)

    assert sent == []
    assert written_at(LATER) == []
    assert [
        account.password_hash for account in accounts.Account.scan(filter_condition=accounts.Account.email == taken)
    ] == ["x"]


def test_an_upload_form_writes_upload_started_delayed_until_the_form_and_grace_have_passed(target) -> None:
    account = accounts.create(email=email(), password_hash="x", plan="FREE", home_region="us-west-2")
    sent: list[Pending] = []

    document = start(account, 11, messages=sent)

    body = {"type": "upload.started", "account_id": account.id, "document_id": document.document_id}
    assert waiting(document_id=document.document_id) == [("upload-events", body, 90 + 30 + 1)]
    assert [item.id for item in sent] == [item.id for item in Pending.scan() if body_of(item) == body]


def test_an_upload_over_quota_writes_no_record_and_no_message(target) -> None:
    account = accounts.create(email=email(), password_hash="x", plan="FREE", home_region="us-west-2")
    document_id = str(ULID())
    sent: list[Pending] = []

    with pytest.raises(QuotaExceeded):
        start(account, 6 * GIB, document_id, now=LATER, messages=sent)

    assert sent == []
    assert waiting(document_id=document_id) == []
    assert list(Document.query(account.id, consistent_read=True)) == []
    assert accounts.get(account.id).reserved_bytes == 0


def test_completing_an_upload_twice_writes_upload_completed_once(target, store) -> None:
    account = accounts.create(email=email(), password_hash="x", plan="FREE", home_region="us-west-2")
    document = start(account, 11)
    store.client.put_object(Bucket=store.bucket, Key=document.object_key, Body=b"hello world")
    first: list[Pending] = []
    second: list[Pending] = []

    upload_files.complete(store, account.id, document.document_id, plan=Plan.FREE, messages=first)
    again = upload_files.complete(store, account.id, document.document_id, plan=Plan.FREE, messages=second)

    body = {"type": "upload.completed", "account_id": account.id, "document_id": document.document_id}
    assert again.status == DocumentStatus.PROCESSING
    assert [body_of(item) for item in first] == [body]
    assert [item.message for item in first] == [
        UploadCompleted(account_id=account.id, document_id=document.document_id)
    ]
    assert second == []
    assert [entry for entry in waiting(document_id=document.document_id) if entry[1] == body] == [
        ("upload-events", body, 0)
    ]


def test_a_rename_writes_index_document_and_a_rename_of_nothing_writes_nothing(target) -> None:
    account = accounts.create(email=email(), password_hash="x", plan="FREE", home_region="us-west-2")
    document = start(account, 11)
    missing = str(ULID())
    sent: list[Pending] = []

    documents.update_details(account.id, document.document_id, name="b.txt", tags=None, description=None, messages=sent)
    with pytest.raises(DocumentNotFound):
        documents.update_details(account.id, missing, name="c.txt", tags=None, description=None, now=LATER)

    assert [(item.queue, body_of(item)["type"], body_of(item)["document_id"]) for item in sent] == [
        ("search-index", "index.document", document.document_id)
    ]
    assert [entry[1]["type"] for entry in waiting(document_id=document.document_id)] == [
        "index.document",
        "upload.started",
    ]
    assert written_at(LATER) == []
    assert documents.get(account.id, document.document_id).name == "b.txt"


def test_a_plan_change_writes_plan_changed_and_account_updated_and_no_change_writes_none(target) -> None:
    account = accounts.create(email=email(), password_hash="x", plan="FREE", home_region="us-west-2")
    sent: list[Pending] = []
    unchanged: list[Pending] = []

    plans.change_plan(account.id, Plan.PREMIUM, messages=sent)
    plans.change_plan(account.id, Plan.PREMIUM, messages=unchanged)

    assert sorted((item.queue, body_of(item)["type"]) for item in sent) == [
        ("account-events", "account.updated"),
        ("backfill", "plan.changed"),
    ]
    assert unchanged == []
    assert [(entry[0], entry[1]["type"]) for entry in waiting(account_id=account.id)] == [
        ("account-events", "account.created"),
        ("account-events", "account.updated"),
        ("backfill", "plan.changed"),
    ]


def test_deleting_a_stored_document_writes_document_deleted_and_index_document(target, store) -> None:
    account = accounts.create(email=email(), password_hash="x", plan="FREE", home_region="us-west-2")
    document = start(account, 11)
    store.client.put_object(Bucket=store.bucket, Key=document.object_key, Body=b"hello world")
    record = upload_files.complete(store, account.id, document.document_id, plan=Plan.FREE)
    sent: list[Pending] = []

    assert documents.delete_stored(record, sent)
    assert documents.delete_stored(record, sent) is False  # already gone: nothing more

    about = {"account_id": account.id, "document_id": document.document_id}
    assert sorted((item.queue, body_of(item)) for item in sent) == [
        ("search-index", {"type": "index.document", **about, "key": body_of(sent[1])["key"]}),
        ("upload-events", {"type": "document.deleted", **about}),
    ]


def test_a_late_message_keeps_what_is_left_of_its_delay() -> None:
    created = utcnow()
    message = Pending(id=str(ULID()), queue="upload-events", body="{}", created_at=created, delay_seconds=121)

    assert message.delay_left(created) == 121
    assert message.delay_left(created + timedelta(seconds=100)) == 21
    assert message.delay_left(created + timedelta(seconds=100.5)) == 21  # rounded up: never early
    assert message.delay_left(created + timedelta(seconds=500)) == 0
    assert Pending(id="x", queue="q", body="{}", created_at=created, delay_seconds=5000).delay_left(created) == 900
