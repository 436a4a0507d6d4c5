"""documentEvents and quotaEvents: what a subscriber receives, and that it is only ever its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from events.envelope import EventType
from schema.root import PerEventMemoExecutor
from tests.client import Api, User
from tests.subscriptions.conftest import AT_JSON, Events, Socket, bearer, event, next_message, open_socket

DOC_A = "01JDOCUMENTAAAAAAAAAAAAAAA"
DOC_B = "01JDOCUMENTBBBBBBBBBBBBBBB"
HASH = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


def test_document_events_arrive_in_order_field_for_field(acknowledged: Socket, user: User, events: Events) -> None:
    acknowledged.subscribe("docs", "DocumentEvents")
    events.wait_for_subscribers(user.id, 1)

    events.publish(
        event(EventType.UPLOAD_STARTED, user.id, DOC_A, 1),
        event(EventType.PROCESSING_STARTED, user.id, DOC_A, 2),
        event(EventType.QUOTA_CHANGED, user.id, None, 3, used_bytes=11, limit_bytes=5 * 2**30),
        event(EventType.EXTRACTION_PROGRESS, user.id, DOC_A, 4, page=3, pages=12),
        event(EventType.DOCUMENT_READY, user.id, DOC_A, 5, content_hash=HASH, has_thumbnail=True),
        event(EventType.DOCUMENT_FAILED, user.id, DOC_B, 6, reason="WRONG_TYPE"),
        event(EventType.DOCUMENT_DELETED, user.id, DOC_A, 7),
        # Published by a DocStore before content hashes (and thumbnails).
        event(EventType.DOCUMENT_READY, user.id, DOC_B, 8),
    )

    def body(typename: str, number: int, document: str, **fields: object) -> dict[str, object]:
        about = {"__typename": typename, "id": f"01JEVENT{number:018d}", "at": AT_JSON, "documentId": document}
        return {"id": "docs", "type": "next", "payload": {"data": {"documentEvents": about | fields}}}

    assert acknowledged.receive_many(7) == [
        body("UploadStarted", 1, DOC_A),
        body("ProcessingStarted", 2, DOC_A),
        body("ExtractionProgress", 4, DOC_A, page=3, pages=12),
        body("DocumentReady", 5, DOC_A, contentHash=HASH, hasThumbnail=True),
        body("DocumentFailed", 6, DOC_B, reason="WRONG_TYPE"),
        body("DocumentDeleted", 7, DOC_A),
        body("DocumentReady", 8, DOC_B, contentHash=None, hasThumbnail=False),
    ]


def test_quota_events_arrive_field_for_field_and_no_document_events(
    acknowledged: Socket, user: User, events: Events
) -> None:
    acknowledged.subscribe("quota", "QuotaEvents")
    events.wait_for_subscribers(user.id, 1)

    events.publish(
        event(EventType.UPLOAD_STARTED, user.id, DOC_A, 1),
        event(EventType.QUOTA_CHANGED, user.id, None, 2, used_bytes=6 * 2**30, limit_bytes=5 * 2**30),
        event(EventType.DOCUMENT_READY, user.id, DOC_A, 3),
        event(EventType.QUOTA_WARNING, user.id, None, 4, percent=90),
        event(EventType.QUOTA_EXCEEDED, user.id, DOC_A, 5, used_bytes=6 * 2**30, limit_bytes=5 * 2**30),
    )

    def body(typename: str, number: int, document: str | None, **fields: object) -> dict[str, object]:
        about = {"__typename": typename, "id": f"01JEVENT{number:018d}", "at": AT_JSON, "documentId": document}
        return {"id": "quota", "type": "next", "payload": {"data": {"quotaEvents": about | fields}}}

    assert acknowledged.receive_many(3) == [
        body("QuotaChanged", 2, None, usedBytes=6442450944, limitBytes=5368709120),
        body("QuotaWarning", 4, None, percent=90),
        body("QuotaExceeded", 5, DOC_A, usedBytes=6442450944, limitBytes=5368709120),
    ]


def test_two_accounts_publishing_at_once_each_receive_exactly_their_own(
    acknowledged: Socket, other_acknowledged: Socket, user: User, other_user: User, events: Events
) -> None:
    acknowledged.subscribe("mine", "DocumentEvents")
    other_acknowledged.subscribe("theirs", "DocumentEvents")
    events.wait_for_subscribers(user.id, 1)
    events.wait_for_subscribers(other_user.id, 1)
    count = 50
    mine = [event(EventType.EXTRACTION_PROGRESS, user.id, DOC_A, n, page=n, pages=count) for n in range(1, count + 1)]
    theirs = [
        event(EventType.EXTRACTION_PROGRESS, other_user.id, DOC_B, n, page=n, pages=count) for n in range(1, count + 1)
    ]

    async def both_at_once() -> None:
        async def publish_all(batch: list) -> None:
            for item in batch:
                await events.pubsub.publish(item)
                await asyncio.sleep(0)

        await asyncio.gather(publish_all(mine), publish_all(theirs))

    events.server.call(both_at_once())
    # A last event each: anything of the other account published before it would arrive before it.
    fence_mine = event(EventType.DOCUMENT_READY, user.id, DOC_A, count + 1)
    fence_theirs = event(EventType.DOCUMENT_READY, other_user.id, DOC_B, count + 1)
    events.publish(fence_mine, fence_theirs)

    assert acknowledged.receive_many(count + 1) == [
        next_message("mine", "documentEvents", item) for item in [*mine, fence_mine]
    ]
    assert other_acknowledged.receive_many(count + 1) == [
        next_message("theirs", "documentEvents", item) for item in [*theirs, fence_theirs]
    ]


def test_document_events_for_one_document_skip_the_others(
    acknowledged: Socket, api: Api, user: User, events: Events
) -> None:
    chosen = api.request_upload(user)["documentId"]
    other = api.request_upload(user)["documentId"]
    acknowledged.subscribe("one", "DocumentEvents", {"documentId": chosen})
    events.wait_for_subscribers(user.id, 1)
    published = [
        event(EventType.PROCESSING_STARTED, user.id, other, 1),
        event(EventType.PROCESSING_STARTED, user.id, chosen, 2),
        event(EventType.DOCUMENT_READY, user.id, other, 3),
        event(EventType.QUOTA_WARNING, user.id, chosen, 4, percent=80),
        event(EventType.DOCUMENT_READY, user.id, chosen, 5),
    ]

    events.publish(*published)

    assert acknowledged.receive_many(2) == [
        next_message("one", "documentEvents", published[1]),
        next_message("one", "documentEvents", published[4]),
    ]


def test_another_documents_events_are_skipped_before_any_graphql_work(
    acknowledged: Socket, api: Api, user: User, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    executed: list[Any] = []
    per_event = PerEventMemoExecutor.build_per_event_executor

    def counting(self: PerEventMemoExecutor, payload: Any) -> Any:
        executed.append(payload)
        return per_event(self, payload)

    monkeypatch.setattr(PerEventMemoExecutor, "build_per_event_executor", counting)
    chosen = api.request_upload(user)["documentId"]
    other = api.request_upload(user)["documentId"]
    acknowledged.subscribe("one", "DocumentEvents", {"documentId": chosen})
    events.wait_for_subscribers(user.id, 1)
    published = [event(EventType.PROCESSING_STARTED, user.id, other, number) for number in range(1, 6)]
    published.append(event(EventType.DOCUMENT_READY, user.id, chosen, 6))

    events.publish(*published)

    # Events reach a subscriber in order, so once the last has arrived every earlier one was handled.
    assert acknowledged.receive() == next_message("one", "documentEvents", published[-1])
    assert [item.id for item in executed] == [published[-1].id]


def test_document_events_for_someone_elses_document_is_not_found_and_subscribes_nothing(
    acknowledged: Socket, api: Api, user: User, other_user: User, events: Events
) -> None:
    theirs = api.request_upload(other_user)["documentId"]

    acknowledged.subscribe("foreign", "DocumentEvents", {"documentId": theirs})

    assert acknowledged.receive() == {
        "id": "foreign",
        "type": "error",
        "payload": [
            {
                "message": "No document with that id in this account.",
                "locations": [{"line": 2, "column": 3}],
                "path": ["documentEvents"],
                "extensions": {"code": "NOT_FOUND"},
            }
        ],
    }
    assert events.subscribers(user.id) == 0
    assert events.subscribers(other_user.id) == 0


def test_document_events_for_a_malformed_id_is_not_found(acknowledged: Socket, user: User, events: Events) -> None:
    acknowledged.subscribe("bad", "DocumentEvents", {"documentId": "not an id"})

    message = acknowledged.receive()

    assert (message["id"], message["type"]) == ("bad", "error")
    assert [(error["message"], error["extensions"]) for error in message["payload"]] == [
        ("No document with that id in this account.", {"code": "NOT_FOUND"})
    ]
    assert events.subscribers(user.id) == 0


def test_completing_a_subscription_unsubscribes(acknowledged: Socket, user: User, events: Events) -> None:
    acknowledged.subscribe("docs", "DocumentEvents")
    acknowledged.subscribe("quota", "QuotaEvents")
    events.wait_for_subscribers(user.id, 2)

    acknowledged.send({"id": "docs", "type": "complete"})
    events.wait_for_subscribers(user.id, 1)
    events.publish(
        event(EventType.DOCUMENT_READY, user.id, DOC_A, 1), event(EventType.QUOTA_WARNING, user.id, None, 2, percent=80)
    )

    assert acknowledged.receive() == next_message(
        "quota", "quotaEvents", event(EventType.QUOTA_WARNING, user.id, None, 2, percent=80)
    )


def test_closing_the_socket_unsubscribes(ws_url: str, user: User, events: Events) -> None:
    with open_socket(ws_url) as socket:
        socket.init(bearer(user))
        assert socket.receive() == {"type": "connection_ack"}
        socket.subscribe("docs", "DocumentEvents")
        events.wait_for_subscribers(user.id, 1)

    events.wait_for_subscribers(user.id, 0)
