"""Class 2: memory anyone could fill. Each is refused at its bound (the query size, the WebSocket
message size, the password hashing pool, the connections of an account and the operations of a
connection), what was let in is given back once the client is gone, and an ordinary client is
answered meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from websockets.frames import Frame, Opcode

from models import accounts
from tests.client import User, operation
from tests.probes.conftest import (
    CALL_SECONDS,
    Attacker,
    Bystander,
    Kept,
    acknowledged,
    closed,
    encoded,
    eventually,
    receive,
    send,
    warm,
    websocket,
)

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.timeout(120)

#: Distinct texts of 990 KB each, under the 1 MB body limit: each would have been cached.
TEXTS = 20
FRAME_BYTES = 10 << 20
SIGN_INS = 64
EXTRA_CONNECTIONS = 100
SUBSCRIPTIONS = 100
QUOTA_EVENTS = operation("QuotaEvents")


def query_of_a_megabyte() -> str:
    filler = uuid.uuid4().hex * (990_000 // 32)
    return f'query Q{uuid.uuid4().hex} {{ search(query: "{filler}") {{ __typename }} }}'


def query_bytes_refusal(size: int) -> dict[str, Any]:
    return {
        "message": f"This operation has {size:,} bytes of query text; at most 32,768 are allowed "
        "(DOCSTORE_MAX_QUERY_BYTES).",
        "extensions": {"code": "LIMIT_EXCEEDED", "limit": "DOCSTORE_MAX_QUERY_BYTES", "allowed": 32_768},
    }


def distinct_texts_over_http(attacker: Attacker, user: User, kept: Kept) -> tuple[Any, Any]:
    texts = [query_of_a_megabyte() for _ in range(TEXTS)]
    answers = []
    for text in texts:
        response = attacker.post(encoded({"query": text}), token=user.token)
        answers.append((response.status_code, response.json()))
    expected = [(200, {"data": None, "errors": [query_bytes_refusal(len(text))]}) for text in texts]
    return answers, expected


def distinct_texts_over_websocket(attacker: Attacker, user: User, kept: Kept) -> tuple[Any, Any]:
    texts = [query_of_a_megabyte() for _ in range(TEXTS)]
    with websocket(attacker.url) as connection:
        acknowledged(connection, user)
        answers = []
        for number, text in enumerate(texts):
            send(connection, {"id": str(number), "type": "subscribe", "payload": {"query": text}})
            answers.append(receive(connection))
        send(connection, {"type": "ping"})
        answers.append(receive(connection))  # the connection serves on
    expected = [
        {"id": str(number), "type": "error", "payload": [query_bytes_refusal(len(text))]}
        for number, text in enumerate(texts)
    ]
    return answers, [*expected, {"type": "pong"}]


def frames_of_ten_megabytes(attacker: Attacker, user: User, kept: Kept) -> tuple[Any, Any]:
    """Three ``subscribe`` frames of 10 MB. The server refuses a frame from the length in its
    header, before it reads what follows, so the probe writes the header and the first 64 KiB, as
    far as a client writing on would have come when the refusal arrives. (A client that writes
    all 10 MB regardless is reset by its kernel for the bytes the server never read, and sees no
    close frame: TCP's doing, not the server's.)"""
    padding = "a" * FRAME_BYTES
    query = f'subscription Big {{ quotaEvents {{ __typename }} }} query Pad {{ search(query: "{padding}") {{ id }} }}'
    text = json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "operationName": "Big"}}).encode()
    frame = Frame(Opcode.TEXT, text).serialize(mask=True)
    answers = []
    for _ in range(3):
        with websocket(attacker.url) as connection:
            acknowledged(connection, user)
            connection.socket.sendall(frame[: 64 << 10])
            answers.append(closed(connection))
    limit = kept.settings.max_request_bytes
    return answers, [(1009, f"frame with {len(text)} bytes exceeds limit of {limit} bytes")] * 3


def sign_ins_for_an_unknown_email(attacker: Attacker, user: User, kept: Kept) -> tuple[Any, Any]:
    email = f"nobody-{uuid.uuid4().hex[:12]}@example.com"
    body = {"query": operation("SignIn"), "variables": {"input": {"email": email, "password": "a long passphrase"}}}
    start = threading.Barrier(SIGN_INS)
    results: list[Any] = [None] * SIGN_INS

    def sign_in(number: int) -> None:
        start.wait(CALL_SECONDS)
        response = attacker.http.post("/graphql", json=body)  # 64 connections of one client's pool
        results[number] = response.json()["data"]["signIn"]

    threads = [threading.Thread(target=sign_in, args=(number,), daemon=True) for number in range(SIGN_INS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CALL_SECONDS * 2)
    assert not any(thread.is_alive() for thread in threads), "a sign-in was never answered"
    assert accounts.find_by_email(email) is None
    kinds = Counter(json.dumps(result, sort_keys=True) for result in results)
    refused = {
        "__typename": "RateLimitedError",
        "message": (
            "Too many sign-ins are being checked right now (at most 2 at once and 16 waiting, "
            "DOCSTORE_HASHING_THREADS and DOCSTORE_HASHING_QUEUE); try again in a moment."
        ),
        "retryAfterSeconds": 1,
    }
    checked = {"__typename": "InvalidCredentialsError", "message": "The email or the password is wrong."}
    # How many are refused depends on how fast the machine hashes; that some are, and every other
    # one is checked, does not.
    return sorted(kinds), sorted(json.dumps(kind, sort_keys=True) for kind in (refused, checked))


def connections_of_one_account(attacker: Attacker, user: User, kept: Kept) -> tuple[Any, Any]:
    """Hundreds of connections for one account, and a hundred operations on each it may hold."""
    settings = kept.settings
    allowed, running = settings.ws_connections_per_account, settings.ws_subscriptions_per_connection
    with contextlib.ExitStack() as held:
        connections = [held.enter_context(websocket(attacker.url)) for _ in range(allowed)]
        for connection in connections:
            acknowledged(connection, user)
        refused_connections = []
        for _ in range(EXTRA_CONNECTIONS):
            with websocket(attacker.url) as extra:
                send(extra, {"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}})
                refused_connections.append(closed(extra))
        refused_operations = []
        for connection in connections:
            for number in range(SUBSCRIPTIONS):
                send(connection, {"id": str(number), "type": "subscribe", "payload": {"query": QUOTA_EVENTS}})
            refused_operations += [receive(connection) for _ in range(SUBSCRIPTIONS - running)]
        live = (
            kept.server.call(kept.services.connections.holding(user.id)),
            eventually(kept.subscriptions, allowed * running),
        )
    refusal = {
        "message": (
            f"This connection runs {running} operations already, the most one connection may "
            "(DOCSTORE_WS_SUBSCRIPTIONS_PER_CONNECTION); complete one first, or open another connection."
        ),
        "extensions": {"code": "RATE_LIMITED", "limit": running},
    }
    expected = (
        [(4429, f"At most {allowed} connections an account (DOCSTORE_WS_CONNECTIONS_PER_ACCOUNT).")]
        * EXTRA_CONNECTIONS,
        [
            {"id": str(number), "type": "error", "payload": [refusal]}
            for _ in connections
            for number in range(running, SUBSCRIPTIONS)
        ],
        (allowed, allowed * running),
    )
    return (refused_connections, refused_operations, live), expected


def connections_dropped_without_closing(attacker: Attacker, user: User, kept: Kept) -> tuple[Any, Any]:
    """As many connections as an account may hold, each with a subscription, gone without a close
    frame (a client that lost its network): their slots come back, and as many connect again."""
    allowed = kept.settings.ws_connections_per_account
    for _ in range(allowed):
        with websocket(attacker.url) as connection:
            acknowledged(connection, user)
            send(connection, {"id": "1", "type": "subscribe", "payload": {"query": QUOTA_EVENTS}})
            connection.socket.shutdown(socket.SHUT_RDWR)
    released = eventually(lambda: kept.server.call(kept.services.connections.holding(user.id)), 0)
    with contextlib.ExitStack() as held:
        again = [held.enter_context(websocket(attacker.url)) for _ in range(allowed)]
        for connection in again:
            send(connection, {"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}})
        acknowledgements = [receive(connection) for connection in again]
    return (released, acknowledgements), (0, [{"type": "connection_ack"}] * allowed)


@dataclass(frozen=True)
class Shape:
    """A probe, which says what it got and what it should have got."""

    run: Callable[[Attacker, User, Kept], tuple[Any, Any]]
    #: The ordinary operations the probe sends (cached before the snapshot, as they would be).
    operations: tuple[str, ...] = ()


SHAPES = {
    "distinct query texts of a megabyte over HTTP": Shape(distinct_texts_over_http),
    "distinct query texts of a megabyte over WebSocket": Shape(distinct_texts_over_websocket),
    "subscribe frames of 10 MB": Shape(frames_of_ten_megabytes),
    "64 sign-ins at once for an unknown email": Shape(sign_ins_for_an_unknown_email, ("SignIn",)),
    "hundreds of connections of one account, a hundred operations each": Shape(
        connections_of_one_account, ("QuotaEvents",)
    ),
    "connections dropped without a close frame": Shape(connections_dropped_without_closing, ("QuotaEvents",)),
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_memory_anyone_could_fill_is_refused_at_its_bound(
    shape: Shape, attacker: Attacker, prober: User, bystander: Bystander, kept: Kept
) -> None:
    warm(attacker, prober, *(operation(name) for name in shape.operations))
    before = kept.snapshot()

    probe = bystander.beside(lambda: shape.run(attacker, prober, kept))

    ((answers, expected),) = probe.answers
    assert answers == expected
    assert kept.settled(before) == before
    probe.assert_others_unhindered()
