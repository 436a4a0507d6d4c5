"""Live events: latency from publish to client receipt, with 1,000 subscribers on one API process.

One uvicorn process serves the app with ``DOCSTORE_PUBSUB_URL`` pointing at a redis-server of the
benchmark's own. The benchmark process holds 1,000 WebSocket clients speaking graphql-transport-ws,
each authenticated in ``connection_init`` and subscribed to ``documentEvents`` (10 per account, 100
accounts), and publishes through the real :class:`~adapters.pubsub.BroadcastPubSub` on the same Redis,
as a ``docstore worker`` process does. Publishing and receiving happen in the same process, so both
instants come from one clock (``time.perf_counter``). Events go round-robin to the accounts at a fixed
rate; every delivery is checked: each subscriber gets exactly its account's events, in order.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

from adapters.aws import AwsTarget
from adapters.local_aws import EmbeddedAws
from adapters.local_redis import redis_server
from adapters.pubsub import BroadcastPubSub
from bench.load import percentile
from bench.serving import ServedApp
from events.envelope import Event, EventType
from models import tables
from runtime.services import provision
from server import create_app
from settings import Settings

NAME = "event_latency"
OPERATIONS = Path(__file__).resolve().parent.parent / "gql" / "operations"
PROTOCOL = "graphql-transport-ws"
SUBSCRIBERS = 1000
PER_ACCOUNT = 10
#: Events per second, one phase each, slowest first.
RATES = (20, 100)
EVENTS = 1000
CONNECTING_AT_ONCE = 50
#: The page number that marks a warm-up event; measured events count from 1.
PROBE = 0
PASSWORD = "bench horse battery staple"


def run(*, quick: bool, command: str) -> str:
    """Set up, connect and subscribe every client, warm up, measure each rate; the markdown section."""
    subscribers, count = (100, 100) if quick else (SUBSCRIBERS, EVENTS)
    limit = raise_file_limit(2 * subscribers + 1000)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)  # only the embedded AWS is ever reached, never with real credentials
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-west-2")
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp, redis_server(Path(tmp) / "redis") as url:
        aws = EmbeddedAws(Path(tmp) / "moto")
        endpoint = aws.start()
        try:
            settings = Settings(
                aws_mode="endpoint",
                aws_endpoint_url=endpoint,
                table_prefix="bench",
                sweep_interval_seconds=0,
                data_dir=Path(tmp) / "data",
                pubsub_url=url,
                auth_attempts_per_ip=1_000_000,  # every simulated client signs in from 127.0.0.1
                auth_attempts_per_email=1_000_000,
            )
            target = AwsTarget.from_settings(settings)
            tables.configure(target, settings.table_prefix)
            provision(settings, target)
            progress(f"embedded AWS at {endpoint}, redis-server at {url}, file limit {limit}")
            with ServedApp(create_app, settings) as server:
                progress(f"server pid {server.process.pid} at {server.url}")
                accounts = sign_up(server.url, subscribers // PER_ACCOUNT)
                phases = asyncio.run(measure(server, url, accounts, count))
        finally:
            aws.stop()
    return section(phases, started=started, command=command, subscribers=subscribers)


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


def raise_file_limit(needed: int) -> int:
    """Each client and each server-side connection is a file descriptor; the server inherits this."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if wanted < needed:
            raise RuntimeError(f"{needed} open files needed, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    return soft


# -- accounts and clients ------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    id: str
    token: str
    document_id: str


def operation(name: str) -> str:
    (path,) = OPERATIONS.glob(f"*/{name}.graphql")
    return path.read_text()


def sign_up(url: str, count: int) -> list[Account]:
    accounts = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for number in range(count):
            email = f"bench-events-{time.time_ns()}-{number}@example.com"
            variables = {"input": {"email": email, "password": PASSWORD}}
            answer = http.post("/graphql", json={"query": operation("SignUp"), "variables": variables}).json()
            result = answer.get("data", {}).get("signUp", {}) if "errors" not in answer else {}
            if result.get("__typename") != "AuthPayload":
                raise RuntimeError(f"sign-up failed: {answer}")
            # Events name a document per account, so a client can tell its own from anyone else's.
            accounts.append(Account(result["account"]["id"], result["token"], f"01BENCHDOC{number:016d}"))
    progress(f"signed up {count} accounts")
    return accounts


@dataclass(eq=False)
class Client:
    """One subscriber: what it received, as (event id, instant), and whether a probe reached it."""

    account: Account
    connection: ClientConnection
    received: list[tuple[str, float]] = field(default_factory=list)
    probed: bool = False
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for raw in self.connection:
            now = time.perf_counter()
            message = json.loads(raw)
            if message.get("type") != "next" or "errors" in message["payload"]:
                raise RuntimeError(f"unexpected message: {message}")
            body = message["payload"]["data"]["documentEvents"]
            if body["documentId"] != self.account.document_id:
                raise RuntimeError(f"a subscriber of {self.account.id} received another account's event: {body}")
            if body["page"] == PROBE:
                self.probed = True
            else:
                self.received.append((body["id"], now))


async def open_client(ws_url: str, account: Account) -> Client:
    connection = await connect(ws_url, subprotocols=[PROTOCOL], open_timeout=120, ping_interval=None)  # type: ignore[list-item]
    await connection.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {account.token}"}})
    )
    ack = json.loads(await asyncio.wait_for(connection.recv(), 120))
    if ack != {"type": "connection_ack"}:
        raise RuntimeError(f"connection_init refused: {ack}")
    subscribe = {"query": operation("DocumentEvents"), "operationName": "DocumentEvents", "variables": {}}
    await connection.send(json.dumps({"id": "events", "type": "subscribe", "payload": subscribe}))
    client = Client(account, connection)
    client.reader = asyncio.create_task(client.read())
    return client


async def open_clients(ws_url: str, accounts: list[Account]) -> list[Client]:
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def one(account: Account) -> Client:
        async with gate:
            return await open_client(ws_url, account)

    clients = await asyncio.gather(*(one(account) for account in accounts for _ in range(PER_ACCOUNT)))
    progress(f"{len(clients)} clients connected, authenticated and subscribed")
    return list(clients)


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Phase:
    rate: int
    events: int
    latencies: list[float]
    seconds: float
    server_cpu: float
    process_cpu: float
    #: The server's resident memory at the end of the phase, in MiB: it should not grow from phase to phase.
    server_rss: float


def make_event(account: Account, number: int) -> Event:
    return Event(EventType.EXTRACTION_PROGRESS, account.id, account.document_id, data={"page": number, "pages": 10**6})


async def warm_up(publisher: BroadcastPubSub, clients: list[Client]) -> None:
    """Until every client has received a probe: subscribing has no reply, so this shows it is live."""
    for attempt in range(100):
        waiting = {client.account for client in clients if not client.probed}
        if not waiting:
            break
        for account in waiting:
            await publisher.publish(make_event(account, PROBE))
        await asyncio.sleep(0.2 + attempt * 0.05)
    else:
        raise RuntimeError("some subscribers never received an event")
    progress(f"every one of {len(clients)} subscribers receives its account's events")


async def phase(
    server: ServedApp, publisher: BroadcastPubSub, clients: list[Client], accounts: list[Account], rate: int, count: int
) -> Phase:
    sent: dict[str, tuple[Account, float]] = {}
    server_before, process_before = server.cpu_seconds(), time.process_time()
    start = time.perf_counter()
    for number in range(count):
        pause = start + number / rate - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        account = accounts[number % len(accounts)]
        event = make_event(account, number + 1)
        sent[event.id] = (account, time.perf_counter())
        await publisher.publish(event)
    expected = count * PER_ACCOUNT
    for _ in range(3000):
        if sum(len(client.received) for client in clients) >= expected:
            break
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    server_cpu, process_cpu = server.cpu_seconds() - server_before, time.process_time() - process_before
    latencies: list[float] = []
    for client in clients:
        own = [event_id for event_id, (account, _) in sent.items() if account is client.account]
        got = [event_id for event_id, _ in client.received]
        if got != own:
            failure = client.reader.exception() if client.reader is not None and client.reader.done() else None
            raise RuntimeError(
                f"a subscriber of {client.account.id} received {len(got)} of its {len(own)} events "
                f"({sum(a == b for a, b in zip(got, own, strict=False))} in place); its reader: {failure!r}"
            )
        latencies.extend(instant - sent[event_id][1] for event_id, instant in client.received)
        client.received.clear()
    result = Phase(rate, count, latencies, elapsed, server_cpu, process_cpu, resident_mib(server))
    progress(
        f"{rate:4} events/s: {len(latencies)} deliveries, p50 {1000 * percentile(latencies, 50):.1f} ms, "
        f"p99 {1000 * percentile(latencies, 99):.1f} ms, max {1000 * max(latencies):.1f} ms, "
        f"server RSS {result.server_rss:.0f} MiB"
    )
    return result


def resident_mib(server: ServedApp) -> float:
    """The server process's resident set size (Linux ``/proc``; NaN elsewhere)."""
    try:
        status = Path(f"/proc/{server.process.pid}/status").read_text()
    except OSError:
        return float("nan")
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) / 1024


async def measure(server: ServedApp, url: str, accounts: list[Account], count: int) -> list[Phase]:
    publisher = BroadcastPubSub(url)
    await publisher.connect()
    clients = await open_clients(server.url.replace("http://", "ws://", 1) + "/graphql", accounts)
    try:
        await warm_up(publisher, clients)
        return [await phase(server, publisher, clients, accounts, rate, count) for rate in RATES]
    finally:
        for client in clients:
            if client.reader is not None:
                client.reader.cancel()
        await asyncio.gather(*(client.connection.close() for client in clients), return_exceptions=True)
        await publisher.disconnect()


# -- the report ----------------------------------------------------------------------------------


def section(phases: list[Phase], *, started: datetime, command: str, subscribers: int) -> str:
    versions = ", ".join(
        f"{package} {metadata.version(package)}"
        for package in ("strawberry-graphql", "starlette", "uvicorn", "websockets", "broadcaster", "redis")
    )
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    made_by = " (what `make bench` runs)" if command == "python -m bench" else ""
    rows = [
        f"| {p.rate} | {p.events} | {len(p.latencies)} | {1000 * percentile(p.latencies, 50):.1f} | "
        f"{1000 * percentile(p.latencies, 99):.1f} | {1000 * max(p.latencies):.1f} | "
        f"{1000 * p.server_cpu / p.events:.2f} | {p.server_cpu / p.seconds:.2f} | {p.process_cpu / p.seconds:.2f} | "
        f"{p.server_rss:.0f} |"
        for p in phases
    ]
    return "\n".join(
        [
            f"## Live events: publish to client receipt, {subscribers:,} subscribers on one API process",
            "",
            f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`{made_by}, on {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; {versions}; Redis {redis_version.removeprefix('v=')}.",
            "",
            f"One uvicorn process (uvloop, websockets-sansio, per-message deflate) serves the app with "
            f"`DOCSTORE_PUBSUB_URL=redis://…` on a redis-server of the benchmark's own. The benchmark process "
            f"holds {subscribers:,} WebSocket clients speaking `graphql-transport-ws`, each authenticated in "
            f"`connection_init` and subscribed with `gql/operations/events/DocumentEvents.graphql`, "
            f"{PER_ACCOUNT} per account, and publishes `ExtractionProgress` events round-robin over the "
            f"{subscribers // PER_ACCOUNT} accounts at a fixed rate through the real `BroadcastPubSub` on the "
            "same Redis, as a `docstore worker` process does; each event reaches its account's "
            f"{PER_ACCOUNT} subscribers. Latency runs from just before `publish` to the client's receipt of the "
            "`next` message, both read from `time.perf_counter` in the benchmark process: it covers Redis, the "
            "server's pump and inboxes, GraphQL execution, the WebSocket and the client's event loop. "
            "Every subscriber must receive exactly its account's events, in order, or the run fails. "
            "The server's resident memory is read from `/proc` at the end of each phase. "
            "The embedded `memory://` path is not measured here: only a publisher inside the server process "
            "can reach it.",
            "",
            "| events/s | events | deliveries | p50 ms | p99 ms | max ms | server CPU ms/event "
            "| server cores busy | benchmark process cores busy | server RSS after, MiB |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            "No goal yet: this is the baseline later work is judged against.",
        ]
    )
