"""A subscription lives no longer than its session: signing out or expiry ends it with
UNAUTHENTICATED, and the connection cannot start another under the dead session."""

from __future__ import annotations

from typing import Any

from events.envelope import EventType
from models import sessions
from tests.client import PASSWORD, Api, User
from tests.subscriptions.conftest import Events, Socket, bearer, event, next_message, open_socket

DOC = "01JDOCUMENTAAAAAAAAAAAAAAA"
SIGNED_OUT = "Your session was signed out: sign in again, then subscribe again."
EXPIRED = "Your session expired: sign in again, then subscribe again."
SIGN_IN_FIRST = "Sign in first: send `Authorization: Bearer <token>`."


def ended(id: str, message: str) -> list[dict[str, Any]]:
    """What ends running operation ``id`` as UNAUTHENTICATED: an error in place of data, then
    ``complete`` (as graphql-transport-ws ends a stream that failed after it started)."""
    error = {"message": message, "extensions": {"code": "UNAUTHENTICATED"}}
    return [{"id": id, "type": "next", "payload": {"data": None, "errors": [error]}}, {"id": id, "type": "complete"}]


def refused(id: str, field: str) -> dict[str, Any]:
    """The ``error`` message refusing to start operation ``id`` of ``field``: no live session."""
    return {
        "id": id,
        "type": "error",
        "payload": [
            {
                "message": SIGN_IN_FIRST,
                "locations": [{"line": 2, "column": 3}],
                "path": [field],
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ],
    }


def second_session(api: Api, user: User) -> User:
    """The same account signed in again: another token, another session."""
    result = api.data("SignIn", {"input": {"email": user.email, "password": PASSWORD}})["signIn"]
    assert result["__typename"] == "AuthPayload", result
    return User(token=result["token"], id=user.id, email=user.email)


def acknowledge(socket: Socket, user: User) -> Socket:
    socket.init(bearer(user))
    assert socket.receive() == {"type": "connection_ack"}
    return socket


def assert_nothing_else(socket: Socket) -> None:
    """Nothing is waiting on ``socket``: a ping's pong is the next message."""
    socket.send({"type": "ping"})
    assert socket.receive() == {"type": "pong"}


def test_signing_out_ends_that_sessions_subscriptions_and_no_other(
    ws_url: str, api: Api, user: User, events: Events
) -> None:
    other_session = second_session(api, user)
    with open_socket(ws_url) as leaving, open_socket(ws_url) as staying:
        acknowledge(leaving, user)
        acknowledge(staying, other_session)
        leaving.subscribe("docs", "DocumentEvents")
        leaving.subscribe("quota", "QuotaEvents")
        staying.subscribe("docs", "DocumentEvents")
        events.wait_for_subscribers(user.id, 3)

        assert api.data("SignOut", token=user.token) == {"signOut": {"revoked": True}}

        received = leaving.receive_many(4)
        assert sorted(received, key=lambda message: (message["id"], message["type"])) == [
            *sorted(ended("docs", SIGNED_OUT), key=lambda message: message["type"]),
            *sorted(ended("quota", SIGNED_OUT), key=lambda message: message["type"]),
        ]
        # Each operation's error comes before its own `complete`.
        for id in ("docs", "quota"):
            assert [message["type"] for message in received if message["id"] == id] == ["next", "complete"]
        events.wait_for_subscribers(user.id, 1)
        # The other session's subscription goes on, and only it hears what follows.
        ready = event(EventType.DOCUMENT_READY, user.id, DOC, 1)
        events.publish(ready)
        assert staying.receive() == next_message("docs", "documentEvents", ready)
        assert_nothing_else(leaving)


def test_a_connection_whose_session_was_signed_out_cannot_subscribe_again(
    ws_url: str, api: Api, user: User, events: Events
) -> None:
    with open_socket(ws_url) as socket:
        acknowledge(socket, user)
        socket.subscribe("docs", "DocumentEvents")
        events.wait_for_subscribers(user.id, 1)
        api.data("SignOut", token=user.token)
        assert socket.receive_many(2) == ended("docs", SIGNED_OUT)

        socket.subscribe("again", "QuotaEvents")

        assert socket.receive() == refused("again", "quotaEvents")
        assert events.subscribers(user.id) == 0


def test_signing_out_another_account_ends_nothing_of_mine(
    acknowledged: Socket, api: Api, user: User, other_user: User, events: Events
) -> None:
    acknowledged.subscribe("docs", "DocumentEvents")
    events.wait_for_subscribers(user.id, 1)

    api.data("SignOut", token=other_user.token)
    ready = event(EventType.DOCUMENT_READY, user.id, DOC, 1)
    events.publish(ready)

    assert acknowledged.receive() == next_message("docs", "documentEvents", ready)
    assert events.subscribers(user.id) == 1


def test_a_subscription_ends_when_its_session_expires(ws_url: str, user: User, events: Events, settings) -> None:
    token, _ = sessions.create(user.id, 2, region=settings.region)
    short = User(token=token, id=user.id, email=user.email)
    with open_socket(ws_url) as socket:
        acknowledge(socket, short)
        socket.subscribe("docs", "DocumentEvents")
        events.wait_for_subscribers(user.id, 1)

        assert socket.receive_many(2) == ended("docs", EXPIRED)
        events.wait_for_subscribers(user.id, 0)

        socket.subscribe("again", "DocumentEvents")
        assert socket.receive() == refused("again", "documentEvents")
