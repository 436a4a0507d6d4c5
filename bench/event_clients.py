"""A process of the event benchmark's WebSocket clients (``python -m bench.event_clients``).

:mod:`bench.event_latency` spreads its subscribers over a few of these, so that no one event loop
of the benchmark holds thousands of connections (one did, and stalled for half a second at a time:
its stalls were counted in the server's latency). Each process reads one JSON line on stdin, what
to open, then answers one JSON line on stdout per command line:

- ``{"open": {"urls": [...], "accounts": [[id, token, document], ...], "per_account": 10}}``:
  ``per_account`` clients for each account, spread round-robin over the servers' WebSocket
  ``urls``, each authenticated and subscribed to ``documentEvents``; answers ``{"clients": n}``.
- ``{"waiting": true}``: the accounts of the clients that have not yet received a probe event.
- ``{"watch": true}``: start recording this process's event-loop stalls.
- ``{"collect": n}``: wait (at most 30 s) until the clients hold ``n`` measured events in all, then
  answer what each received, ``[[account id, [[event id, instant], ...]], ...]``, and the stalls
  since ``watch``; the lists start again empty.
- ``{"close": true}``: close every connection and exit.

Instants are ``time.perf_counter()``, which on Linux reads ``CLOCK_MONOTONIC``: one clock for every
process of the machine, so the publishing process can subtract its own instants from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench import event_server

PROTOCOL = "graphql-transport-ws"
CONNECTING_AT_ONCE = 50
#: The page number that marks a warm-up (or churn) event; measured events count from 1.
PROBE = 0
COLLECT_SECONDS = 30.0


@dataclass(frozen=True)
class Account:
    id: str
    token: str
    document_id: str


def own_event(account: Account, raw: str | bytes) -> dict[str, Any]:
    """The event a ``next`` message carries; ``RuntimeError`` for anything else, or another account's."""
    message = json.loads(raw)
    if message.get("type") != "next" or "errors" in message["payload"]:
        raise RuntimeError(f"unexpected message: {message}")
    body: dict[str, Any] = message["payload"]["data"]["documentEvents"]
    if body["documentId"] != account.document_id:
        raise RuntimeError(f"a subscriber of {account.id} received another account's event: {body}")
    return body


async def subscribed(ws_url: str, account: Account, query: str) -> ClientConnection:
    """A connection authenticated as ``account`` that has sent its ``documentEvents`` subscription."""
    connection = await connect(ws_url, subprotocols=[PROTOCOL], open_timeout=120, ping_interval=None)  # type: ignore[list-item]
    try:
        await connection.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {account.token}"}})
        )
        ack = json.loads(await asyncio.wait_for(connection.recv(), 120))
        if ack != {"type": "connection_ack"}:
            raise RuntimeError(f"connection_init refused: {ack}")
        subscribe = {"query": query, "operationName": "DocumentEvents", "variables": {}}
        await connection.send(json.dumps({"id": "events", "type": "subscribe", "payload": subscribe}))
    except BaseException:
        await connection.close()
        raise
    return connection


@dataclass(eq=False)
class Client:
    """One subscriber: what it received, as (event id, instant), and whether a probe reached it."""

    account: Account
    connection: ClientConnection
    #: Set whenever any client of the process receives a measured event.
    arrived: asyncio.Event
    received: list[tuple[str, float]] = field(default_factory=list)
    probed: bool = False
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for raw in self.connection:
            now = time.perf_counter()
            body = own_event(self.account, raw)
            if body["page"] == PROBE:
                self.probed = True
            else:
                self.received.append((body["id"], now))
                self.arrived.set()


async def open_clients(urls: list[str], accounts: list[Account], per_account: int, query: str) -> list[Client]:
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def one(number: int, account: Account) -> Client:
        async with gate:
            client = Client(account, await subscribed(urls[number % len(urls)], account, query), arrived)
        client.reader = asyncio.create_task(client.read())
        return client

    arrived = asyncio.Event()
    pairs = [account for account in accounts for _ in range(per_account)]
    return list(await asyncio.gather(*(one(number, account) for number, account in enumerate(pairs))))


def failure_of(client: Client) -> str | None:
    if client.reader is not None and client.reader.done() and not client.reader.cancelled():
        error = client.reader.exception()
        return repr(error) if error is not None else "its connection closed"
    return None


async def collect(clients: list[Client], expected: int) -> list[Any]:
    deadline = time.perf_counter() + COLLECT_SECONDS
    while clients and sum(len(client.received) for client in clients) < expected:
        arrived = clients[0].arrived
        arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrived.wait(), max(0.0, deadline - time.perf_counter()))
        if time.perf_counter() >= deadline:
            break
    received = [[client.account.id, client.received, failure_of(client)] for client in clients]
    for client in clients:
        client.received = []
    return received


async def serve(query: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    clients: list[Client] = []
    stalls: list[float] = []
    watching: asyncio.Task[None] | None = None

    def answer(body: object) -> None:
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()

    try:
        while line := await reader.readline():
            command = json.loads(line)
            if "open" in command:
                asked = command["open"]
                accounts = [Account(*fields) for fields in asked["accounts"]]
                clients = await open_clients(asked["urls"], accounts, asked["per_account"], query)
                answer({"clients": len(clients)})
            elif "waiting" in command:
                answer(sorted({client.account.id for client in clients if not client.probed}))
            elif "watch" in command:
                stalls = []
                watching = asyncio.create_task(event_server.watch_loop(stalls))
                answer({"watching": True})
            elif "collect" in command:
                if watching is not None:
                    watching.cancel()
                    watching = None
                answer({"received": await collect(clients, command["collect"]), "stalls": stalls})
            elif "close" in command:
                break
    finally:
        if watching is not None:
            watching.cancel()
        for client in clients:
            if client.reader is not None:
                client.reader.cancel()
        await asyncio.gather(*(client.connection.close() for client in clients), return_exceptions=True)
        answer({"closed": True})


def main() -> None:
    query = sys.argv[1]
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(serve(query))


if __name__ == "__main__":
    main()
