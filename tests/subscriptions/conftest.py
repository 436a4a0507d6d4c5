"""graphql-transport-ws spoken by hand over a real WebSocket to a real uvicorn.

Layered fixtures: ``connection`` is a socket that completed the WebSocket handshake with the
``graphql-transport-ws`` subprotocol; ``acknowledged`` is that socket after ``connection_init`` with the
user's token and the server's ``connection_ack``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from adapters.pubsub import BroadcastPubSub, PubSubStats
from events.envelope import Event, EventType
from tests.client import User, operation
from tests.conftest import LiveServer

PROTOCOL = "graphql-transport-ws"
#: How long a read waits before the test fails; never reached when the server behaves.
RECEIVE_SECONDS = 15
AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
AT_JSON = "2026-01-02T03:04:05.678000+00:00"


class Socket:
    """One graphql-transport-ws client connection; messages are JSON objects."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    def send(self, message: dict[str, Any]) -> None:
        self.connection.send(json.dumps(message))

    def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.connection.recv(timeout=RECEIVE_SECONDS))
        return message

    def receive_many(self, count: int) -> list[dict[str, Any]]:
        return [self.receive() for _ in range(count)]

    def init(self, authorization: str | None) -> None:
        self.send(
            {"type": "connection_init", "payload": {} if authorization is None else {"authorization": authorization}}
        )

    def subscribe(self, id: str, name: str, variables: dict[str, Any] | None = None) -> None:
        """Start operation ``name`` from gql/operations."""
        payload = {"query": operation(name), "operationName": name, "variables": variables or {}}
        self.send({"id": id, "type": "subscribe", "payload": payload})

    def closed(self) -> tuple[int, str]:
        """Wait for the server to close the socket, sending nothing else first: its code and reason."""
        with pytest.raises(ConnectionClosed) as closed:
            unexpected(self.connection.recv(timeout=RECEIVE_SECONDS))
        assert closed.value.rcvd is not None, "closed without a close frame"
        return closed.value.rcvd.code, closed.value.rcvd.reason


def unexpected(message: object) -> None:
    raise AssertionError(f"expected the server to close the socket, got {message!r}")


@contextlib.contextmanager
def open_socket(url: str, subprotocols: tuple[str, ...] = (PROTOCOL,), **options: Any) -> Iterator[Socket]:
    """A WebSocket to ``url`` offering ``subprotocols``, closed on leaving."""
    with connect(url, subprotocols=list(subprotocols), open_timeout=RECEIVE_SECONDS, **options) as connection:  # type: ignore[arg-type]
        yield Socket(connection)


def bearer(user: User) -> str:
    return f"Bearer {user.token}"


@pytest.fixture
def ws_url(live_url: str) -> str:
    return live_url.replace("http://", "ws://", 1) + "/graphql"


@pytest.fixture
def connection(ws_url: str) -> Iterator[Socket]:
    with open_socket(ws_url) as socket:
        assert socket.connection.subprotocol == PROTOCOL
        yield socket


@pytest.fixture
def acknowledged(connection: Socket, user: User) -> Socket:
    connection.init(bearer(user))
    assert connection.receive() == {"type": "connection_ack"}
    return connection


@pytest.fixture
def other_acknowledged(ws_url: str, other_user: User) -> Iterator[Socket]:
    with open_socket(ws_url) as socket:
        socket.init(bearer(other_user))
        assert socket.receive() == {"type": "connection_ack"}
        yield socket


@pytest.fixture
def pubsub(live_server: LiveServer) -> BroadcastPubSub:
    """The live server's own publisher and event source (``memory://``: it lives in that process)."""
    pubsub: BroadcastPubSub = live_server.app.state.runtime.pubsub
    return pubsub


class Events:
    """Publishing through the live server's publisher, and what its subscribers hold, on its loop."""

    def __init__(self, server: LiveServer, pubsub: BroadcastPubSub) -> None:
        self.server = server
        self.pubsub = pubsub

    def publish(self, *events: Event) -> None:
        async def run() -> None:
            for event in events:
                await self.pubsub.publish(event)

        self.server.call(run())

    def stats(self) -> PubSubStats:
        async def run() -> PubSubStats:
            return self.pubsub.stats()

        return self.server.call(run())

    def subscribers(self, account_id: str) -> int:
        async def run() -> int:
            return self.pubsub.subscribers(account_id)

        return self.server.call(run())

    def wait_for_subscribers(self, account_id: str, count: int) -> None:
        """Until ``count`` subscriptions of the account are live (subscribing has no reply to wait for)."""
        for _ in range(1000):
            if self.subscribers(account_id) == count:
                return
            time.sleep(0.01)
        raise AssertionError(f"{self.subscribers(account_id)} subscribers of {account_id}, not {count}")


@pytest.fixture
def events(live_server: LiveServer, pubsub: BroadcastPubSub) -> Events:
    return Events(live_server, pubsub)


def event(kind: EventType, account_id: str, document_id: str | None = None, number: int = 0, **data: Any) -> Event:
    """An envelope with a fixed time and an id that sorts by ``number``."""
    return Event(kind, account_id, document_id=document_id, data=data, at=AT, id=f"01JEVENT{number:018d}")


def next_message(id: str, field: str, event: Event) -> dict[str, Any]:
    """The ``next`` message a subscriber of ``field`` receives for ``event``, field for field."""
    body: dict[str, Any] = {
        "__typename": event.type.value,
        "id": event.id,
        "at": AT_JSON,
        "documentId": event.document_id,
    }
    if event.type is EventType.EXTRACTION_PROGRESS:
        body |= {"page": event.data["page"], "pages": event.data["pages"]}
    elif event.type is EventType.DOCUMENT_FAILED:
        body |= {"reason": event.data["reason"]}
    elif event.type is EventType.DOCUMENT_READY:
        body |= {"contentHash": event.data.get("content_hash"), "hasThumbnail": event.data.get("has_thumbnail", False)}
    elif event.type in {EventType.QUOTA_CHANGED, EventType.QUOTA_EXCEEDED}:
        body |= {"usedBytes": event.data["used_bytes"], "limitBytes": event.data["limit_bytes"]}
    elif event.type is EventType.QUOTA_WARNING:
        body |= {"percent": event.data["percent"]}
    return {"id": id, "type": "next", "payload": {"data": {field: body}}}
