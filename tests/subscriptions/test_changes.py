"""changeEvents over a real WebSocket: the changes after a cursor replayed, then live, each once,
while changes keep being made across the switch; only ever the subscriber's own."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from models import documents
from models.changes import ChangeRow
from services.changes import cursor
from tests.client import Api, User
from tests.subscriptions.conftest import Events, Socket

NOT_OURS = "The cursor is not one this API gave out to this account."


def received(socket: Socket, id: str, count: int) -> list[dict[str, Any]]:
    """The next ``count`` changes the subscription ``id`` sends."""
    changes = []
    for message in socket.receive_many(count):
        assert (message["id"], message["type"]) == (id, "next"), message
        changes.append(message["payload"]["data"]["changeEvents"])
    return changes


def summary(changes: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    return [(change["sequence"], change["kind"], change["documentId"]) for change in changes]


def describe(api: Api, user: User, document_id: str, description: str) -> None:
    variables = {"input": {"id": document_id, "description": description}}
    assert api.data("UpdateDocument", variables, user.token)["updateDocument"]["__typename"] == "Document"


def test_the_changes_after_the_cursor_are_replayed_then_new_ones_arrive_live(
    api: Api, user: User, acknowledged: Socket, events: Events
) -> None:
    document = api.submit(user, b"hello world", filename="a.txt")["id"]
    describe(api, user, document, "one")
    describe(api, user, document, "two")

    acknowledged.subscribe("feed", "ChangeEvents", {"after": cursor(user.id, 1)})
    replayed = received(acknowledged, "feed", 2)
    events.wait_for_subscribers(user.id, 1)
    describe(api, user, document, "three")
    (live,) = received(acknowledged, "feed", 1)

    assert summary(replayed) + summary([live]) == [
        (2, "UPDATED", document),
        (3, "UPDATED", document),
        (4, "UPDATED", document),
    ]
    assert live == {
        "__typename": "Change",
        "sequence": 4,
        "cursor": cursor(user.id, 4),
        "kind": "UPDATED",
        "at": live["at"],
        "documentId": document,
        "path": "/a.txt",
        "version": None,
        "document": live["document"],
    }
    assert (live["document"]["id"], live["document"]["path"]) == (document, "/a.txt")
    assert datetime.fromisoformat(live["at"]) == ChangeRow.get(user.id, 4).at


def test_a_change_nobody_announced_is_read_from_the_feed_before_the_next(
    api: Api, user: User, acknowledged: Socket, events: Events
) -> None:
    document = api.submit(user, b"hello world", filename="a.txt")["id"]
    acknowledged.subscribe("feed", "ChangeEvents", {"after": cursor(user.id, 1)})
    events.wait_for_subscribers(user.id, 1)

    # Written straight through the models: committed, never announced (as if its process stopped).
    documents.update_details(user.id, document, name=None, tags=["quiet"], description=None)
    describe(api, user, document, "announced")

    assert summary(received(acknowledged, "feed", 2)) == [(2, "UPDATED", document), (3, "UPDATED", document)]


@contextmanager
def around_replay_reads(account_id: str, before: Any, after: Any) -> Iterator[None]:
    """Run ``before(n)`` just before, and ``after(n)`` just after, the ``n``-th read of the
    account's change rows (a Query of the changes table), in whatever thread of the server makes it."""
    client = ChangeRow._get_connection().connection.client
    reads = {"count": 0}
    lock = threading.Lock()

    def before_call(params: dict[str, Any], **_: Any) -> None:
        body = json.loads(params["body"])
        if body["TableName"] != ChangeRow.Meta.table_name or account_id not in json.dumps(body):
            return
        with lock:
            reads["count"] += 1
            number = reads["count"]
        params.setdefault("context", {})["read_number"] = number
        before(number)

    def after_call(context: dict[str, Any], **_: Any) -> None:
        number = context.get("read_number")
        if number is not None:
            after(number)

    client.meta.events.register("before-call.dynamodb.Query", before_call)
    client.meta.events.register("after-call.dynamodb.Query", after_call)
    try:
        yield
    finally:
        client.meta.events.unregister("before-call.dynamodb.Query", before_call)
        client.meta.events.unregister("after-call.dynamodb.Query", after_call)


def test_changes_made_while_the_replay_switches_to_live_arrive_once_each_in_order(
    api: Api, user: User, other_user: User, acknowledged: Socket, events: Events
) -> None:
    document = api.submit(user, b"hello world", filename="a.txt")["id"]
    theirs = api.submit(other_user, b"hello again", filename="b.txt")["id"]
    for number in range(3):
        describe(api, user, document, f"before {number}")
    made: list[str] = []

    # Read 1 is the subscription's check of the cursor, before it joins the channel; read 2 the
    # replay's page, after it joined. A change lands before each read (in the page, and announced:
    # the announcement must be dropped) and right after the replay's read (not in the page: only
    # announced, it must be sent live), while another account changes too.
    def before(number: int) -> None:
        if number <= 2:
            describe(api, user, document, f"before read {number}")
            describe(api, other_user, theirs, f"theirs {number}")
            made.append(f"before read {number}")

    def after(number: int) -> None:
        if number == 2:
            describe(api, user, document, "after the replay's read")
            made.append("after the replay's read")

    with around_replay_reads(user.id, before, after):
        acknowledged.subscribe("feed", "ChangeEvents", {"after": cursor(user.id, 2)})
        first = received(acknowledged, "feed", 5)
    events.wait_for_subscribers(user.id, 1)
    describe(api, user, document, "last")
    (last,) = received(acknowledged, "feed", 1)

    assert made == ["before read 1", "before read 2", "after the replay's read"]
    # 1 CREATED, 2-4 before, 5-6 before the reads, 7 after the replay's read, 8 the last.
    assert summary([*first, last]) == [(sequence, "UPDATED", document) for sequence in range(3, 9)]
    assert [change["cursor"] for change in [*first, last]] == [cursor(user.id, sequence) for sequence in range(3, 9)]


def test_another_accounts_cursor_is_refused_before_anything_is_subscribed(
    api: Api, user: User, other_user: User, acknowledged: Socket, events: Events
) -> None:
    api.submit(other_user, b"hello again", filename="b.txt")

    acknowledged.subscribe("theirs", "ChangeEvents", {"after": cursor(other_user.id, 1)})
    message = acknowledged.receive()

    assert (message["id"], message["type"]) == ("theirs", "error")
    assert [(error["message"], error["extensions"]) for error in message["payload"]] == [
        (f"after: {NOT_OURS}", {"code": "BAD_USER_INPUT", "fields": [{"field": "after", "message": NOT_OURS}]})
    ]
    assert events.subscribers(user.id) == 0


def expired(id: str, sequence: int) -> list[dict[str, Any]]:
    """What a subscription whose changes after ``sequence`` are gone sends: one CursorExpiredError
    (changes are kept two days here), then ``complete``."""
    error = {
        "__typename": "CursorExpiredError",
        "message": (
            f"Changes after position {sequence} are no longer kept (changes are kept 2 days); "
            "compare the whole tree, then start again from latestChangeCursor."
        ),
        "retentionDays": 2,
    }
    return [
        {"id": id, "type": "next", "payload": {"data": {"changeEvents": error}}},
        {"id": id, "type": "complete"},
    ]


def test_a_cursor_older_than_the_changes_kept_gets_cursor_expired_and_completes(
    api: Api, user: User, acknowledged: Socket, events: Events, two_days: None
) -> None:
    document = api.submit(user, b"hello world", filename="a.txt")["id"]
    describe(api, user, document, "old")

    with time_machine.travel(datetime.now(UTC) + timedelta(days=2, hours=1), tick=True):
        acknowledged.subscribe("old", "ChangeEvents", {"after": cursor(user.id, 1)})
        answered = acknowledged.receive_many(2)
        acknowledged.send({"type": "ping"})
        after = acknowledged.receive()

    assert answered == expired("old", 1)
    assert after == {"type": "pong"}  # nothing else was sent before it
    assert events.subscribers(user.id) == 0  # it never joined the account's channel


def test_a_replay_whose_changes_expire_meanwhile_gets_cursor_expired_and_completes(
    api: Api, user: User, acknowledged: Socket, events: Events, two_days: None
) -> None:
    document = api.submit(user, b"hello world", filename="a.txt")["id"]
    describe(api, user, document, "old")
    later = time_machine.travel(datetime.now(UTC) + timedelta(days=2, hours=1), tick=True)

    # Read 1 checks the cursor (its changes are kept); two days pass before read 2, the replay's.
    def after(number: int) -> None:
        if number == 1:
            later.start()

    try:
        with around_replay_reads(user.id, lambda number: None, after):
            acknowledged.subscribe("slow", "ChangeEvents", {"after": cursor(user.id, 1)})
            answered = acknowledged.receive_many(2)
        acknowledged.send({"type": "ping"})
        pong = acknowledged.receive()
    finally:
        later.stop()

    assert answered == expired("slow", 1)
    assert pong == {"type": "pong"}
    assert events.subscribers(user.id) == 0  # it left the account's channel
