"""One conversion, execution and encoding per event and distinct selection (subscriptions.sharing):
every subscriber still receives exactly its own events, in order, field for field."""

from __future__ import annotations

import contextlib
import dataclasses
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from events.envelope import EventType
from subscriptions.sharing import SHARING, Sharing, SharingStats
from tests.subscriptions.conftest import Events, Socket, bearer, event, next_message, open_socket

if TYPE_CHECKING:
    from tests.client import User

DOC_A = "01JDOCUMENTAAAAAAAAAAAAAAA"
DOC_B = "01JDOCUMENTBBBBBBBBBBBBBBB"
NARROW = "subscription Narrow { documentEvents { __typename ... on Event { id } } }"


def acknowledged(held: contextlib.ExitStack, ws_url: str, user: User) -> Socket:
    socket = held.enter_context(open_socket(ws_url))
    socket.init(bearer(user))
    assert socket.receive() == {"type": "connection_ack"}
    return socket


def delta(before: SharingStats) -> dict[str, int]:
    after = dataclasses.asdict(SHARING.stats)
    return {name: after[name] - value for name, value in dataclasses.asdict(before).items()}


def test_subscribers_with_one_selection_share_one_execution_and_one_encoding_of_each_event(
    ws_url: str, user: User, other_user: User, events: Events
) -> None:
    with contextlib.ExitStack() as held:
        full = [acknowledged(held, ws_url, user) for _ in range(4)]
        narrow = [acknowledged(held, ws_url, user) for _ in range(2)]
        theirs = acknowledged(held, ws_url, other_user)
        for socket in full:
            socket.subscribe("full", "DocumentEvents")
        for socket in narrow:
            socket.send({"id": "narrow", "type": "subscribe", "payload": {"query": NARROW}})
        theirs.subscribe("full", "DocumentEvents")
        events.wait_for_subscribers(user.id, 6)
        events.wait_for_subscribers(other_user.id, 1)
        before = dataclasses.replace(SHARING.stats)
        mine = [
            event(EventType.DOCUMENT_READY, user.id, DOC_A, 1, content_hash="ab" * 32),
            event(EventType.DOCUMENT_READY, user.id, DOC_B, 2, content_hash="cd" * 32),
            event(EventType.DOCUMENT_DELETED, user.id, DOC_A, 3),
        ]
        # The same event id as one of mine, in another account: shared by object, never by id.
        other = event(EventType.DOCUMENT_FAILED, other_user.id, DOC_A, 1, reason="WRONG_TYPE")

        events.publish(*mine, other)

        for socket in full:
            assert socket.receive_many(3) == [next_message("full", "documentEvents", each) for each in mine]
        for socket in narrow:
            assert socket.receive_many(3) == [
                {
                    "id": "narrow",
                    "type": "next",
                    "payload": {"data": {"documentEvents": {"__typename": each.type.value, "id": each.id}}},
                }
                for each in mine
            ]
        assert theirs.receive() == next_message("full", "documentEvents", other)
        # 19 deliveries: each of my 3 events to my 6 subscribers, and theirs to theirs. One conversion
        # per event object; one execution and one encoding per event and distinct selection (full and
        # narrow for each of mine, full for theirs: 7).
        assert delta(before) == {
            "converted": 4,
            "conversions": 19,
            "executed": 7,
            "results": 19,
            "encoded": 7,
            "encodings": 19,
        }


@dataclasses.dataclass
class Result:
    data: Any
    errors: Any = None


def test_a_result_with_errors_is_never_shared_and_data_not_shared_is_not_encoded_here() -> None:
    sharing = Sharing()
    envelope = SimpleNamespace()
    payload = sharing.payload(envelope, lambda: SimpleNamespace(kind="ready"), "kind")
    failing = [Result(data=None, errors=["boom"]), Result(data=None, errors=["boom"])]

    first = sharing.result(payload, "key", failing.pop)
    second = sharing.result(payload, "key", failing.pop)

    assert first is not second
    assert failing == []
    assert sharing.encoded({"x": 1}) is None
    assert sharing.result(SimpleNamespace(), "key", lambda: Result({"y": 2})) == Result({"y": 2})
    assert dataclasses.asdict(sharing.stats) == {
        "converted": 1,
        "conversions": 1,
        "executed": 2,
        "results": 2,
        "encoded": 0,
        "encodings": 0,
    }


def test_only_the_last_events_are_kept_and_an_evicted_one_is_executed_again() -> None:
    sharing = Sharing(events=2)
    envelopes = [SimpleNamespace(), SimpleNamespace(), SimpleNamespace()]
    payloads = [sharing.payload(each, lambda: SimpleNamespace(), "kind") for each in envelopes]
    made = [Result({"n": 1}), Result({"n": 2})]

    kept = sharing.result(payloads[2], "key", lambda: made[0])
    again = sharing.result(payloads[2], "key", lambda: made[1])
    evicted = sharing.result(payloads[0], "key", lambda: made[1])

    assert (kept, again, evicted) == (made[0], made[0], made[1])
    assert sharing.encoded(kept.data) == '{"n":1}'
    assert sharing.encoded(evicted.data) is None
    assert sharing.payload(envelopes[0], lambda: "new", "kind") == "new"  # the second event falls out
    assert sharing.encoded(kept.data) == '{"n":1}'
    assert sharing.payload(envelopes[1], lambda: "newer", "kind") == "newer"  # and now the third
    assert sharing.encoded(kept.data) is None
