"""Live events: latency from publish to client receipt, with 1,000 subscribers on one API process
(or more, on several behind one Redis).

API processes (:mod:`bench.event_server`, ``--servers``, one by default) serve the app with
``DOCSTORE_PUBSUB_URL`` pointing at a redis-server of the benchmark's own. The WebSocket clients,
speaking graphql-transport-ws, each authenticated in ``connection_init`` and subscribed to
``documentEvents`` (10 per account, spread over the servers), live in processes of their own
(:mod:`bench.event_clients`, ``--client-processes``, two by default): one event loop holding
thousands of them stalled for half a second at a time, which counted as the server's latency. The
benchmark process publishes through the real :class:`~adapters.pubsub.BroadcastPubSub` on the same
Redis, as a ``docstore worker`` process does. Publish and receipt instants are
``time.perf_counter``, ``CLOCK_MONOTONIC`` on Linux: one clock for every process of the machine.
Events go round-robin to the accounts at a fixed rate; every delivery is checked: each subscriber
gets exactly its account's events, in order.

Configurable (``python -m bench --only event_latency --subscribers 1000,5000 --rate 20,100 --churn 0,50
--servers 2``): each number of subscribers is a run of its own servers, and each churn and rate a
measured phase on them. With churn, clients of accounts of their own connect at that rate during the
phase (from the benchmark process), subscribe, wait for an event of their account, and leave. With
``--before-code DIR`` each run's servers run first on that checkout's code, then on this one's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx

from adapters.aws import AwsTarget
from adapters.local_aws import EmbeddedAws
from adapters.local_redis import redis_server
from adapters.pubsub import BroadcastPubSub
from bench import event_server
from bench.event_clients import PROBE, Account, own_event, subscribed
from bench.load import percentile
from events.envelope import Event, EventType
from models import tables
from runtime.services import provision
from settings import Settings

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

NAME = "event_latency"
ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "gql" / "operations"
PROTOCOL = "graphql-transport-ws"
SUBSCRIBERS = (1000,)
#: API processes behind the one Redis; each account's subscribers are spread over them.
SERVERS = 1
#: Processes holding the benchmark's WebSocket clients (bench/event_clients.py), accounts round-robin.
CLIENT_PROCESSES = 2
PER_ACCOUNT = 10
#: Events per second, one phase each, slowest first.
RATES = (20.0, 100.0)
#: Churning clients per second: none unless asked.
CHURN = (0.0,)
EVENTS = 1000
PASSWORD = "bench horse battery staple"
#: How often each churn account with a client waiting gets an event.
CHURN_PROBE_SECONDS = 0.5
#: Churning clients a second per churn account: far below DOCSTORE_WS_CONNECTIONS_PER_ACCOUNT live at once.
CHURN_PER_ACCOUNT = 2
#: A churning client that has no event this long after it started has failed.
CHURN_PATIENCE = 60.0


def run(
    *,
    quick: bool,
    command: str,
    subscribers: Sequence[int] = SUBSCRIBERS,
    rates: Sequence[float] = RATES,
    churn: Sequence[float] = CHURN,
    servers: int = SERVERS,
    client_processes: int = CLIENT_PROCESSES,
    before_code: Path | None = None,
) -> str:
    """Set up, then for each number of subscribers (and each code, with ``before_code``) start
    ``servers`` API processes on one Redis, connect and subscribe every client (in
    ``client_processes`` processes, each account's clients spread over the servers), warm up,
    measure each churn and rate; the markdown section."""
    counts, events = ((100,), 100) if quick else (tuple(subscribers), EVENTS)
    # Every process inherits the limit; the most connections one holds are a server's share or a
    # client process's share of the subscribers (each side in processes of its own), and room.
    limit = raise_file_limit(max(math.ceil(max(counts) / servers), math.ceil(max(counts) / client_processes)) + 1000)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)  # only the embedded AWS is ever reached, never with real credentials
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-west-2")
    started = datetime.now(UTC)
    codes: dict[str, Path] = {"before": before_code.resolve()} if before_code is not None else {}
    codes["after" if before_code is not None else "this"] = ROOT
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp:
        aws = EmbeddedAws(Path(tmp) / "moto")
        endpoint = aws.start()
        try:
            overrides: dict[str, Any] = {
                "aws_mode": "endpoint",
                "aws_endpoint_url": endpoint,
                "table_prefix": "bench",
                "sweep_interval_seconds": 0,
                "run_workers": True,
                "auth_attempts_per_ip": 1_000_000,  # every simulated client signs in from 127.0.0.1
                "auth_attempts_per_email": 1_000_000,
            }
            settings = Settings.from_env({}).with_overrides(**overrides)
            target = AwsTarget.from_settings(settings)
            tables.configure(target, settings.table_prefix)
            provision(settings, target)
            progress(f"embedded AWS at {endpoint}, file limit {limit}")
            for count in counts:
                for label, code in codes.items():
                    folder = Path(tmp) / f"{label}-{count}"
                    with redis_server(folder / "redis") as url, contextlib.ExitStack() as stack:
                        group = []
                        for number in range(servers):
                            log = stack.enter_context((folder / f"server-{number}.log").open("wb"))
                            served = {**overrides, "pubsub_url": url, "data_dir": str(folder / f"data-{number}")}
                            group.append(stack.enter_context(EventServer(served, code, log)))
                        pool = Servers(group)
                        progress(f"{label}: server pids {pool.pids} at {pool.urls}, {count} subscribers")
                        accounts = sign_up(group[0].url, count // PER_ACCOUNT, "steady")
                        churners = max(math.ceil(rate / CHURN_PER_ACCOUNT) for rate in churn)
                        churn_accounts = sign_up(group[0].url, churners, "churn") if churners else []
                        setup = Setup(label, commit_of(code), count, servers, client_processes)
                        phases = asyncio.run(measure(pool, url, setup, accounts, churn_accounts, rates, churn, events))
                        runs.append(Run(setup, phases))
        finally:
            aws.stop()
    return section(runs, started=started, command=command)


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


def commit_of(code: Path) -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=code, capture_output=True)
    return (found.stdout.strip() or "?") + (" + changes" if dirty.stdout.strip() else "")


# -- the server ----------------------------------------------------------------------------------


class EventServer:
    """:mod:`bench.event_server` on ``code`` (``PYTHONPATH``), with the settings ``overrides``."""

    def __init__(self, overrides: dict[str, Any], code: Path, log: IO[bytes]) -> None:
        self.overrides = overrides
        self.code = code
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("not started")
        return self.process.pid

    def start(self, timeout: float = 120) -> None:
        env = {name: value for name, value in os.environ.items() if not name.startswith("DOCSTORE_")}
        env["PYTHONPATH"] = str(self.code)
        self.process = subprocess.Popen(
            [*event_server.command(sys.executable), json.dumps(self.overrides)],
            cwd=self.code,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("port "):
            raise RuntimeError(f"the benchmark server did not start (exit code {self.process.poll()}); see its log")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"the benchmark server exited with code {self.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the benchmark server did not become healthy")
            time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the server process so far (Linux ``/proc``)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # the command name in parentheses may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def waited_for_cpu(self) -> float:
        """Seconds the server's main thread, its event loop, has spent runnable but waiting for a CPU
        (``/proc/PID/schedstat``): what a busy machine adds to its latency."""
        return int(Path(f"/proc/{self.pid}/schedstat").read_text().split()[1]) / 1e9

    def resident_mib(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kib) / 1024

    async def collections(self) -> list[float]:
        """The duration in ms of every full (generation-2) collection the server has run so far."""
        return [duration for duration, _ in (await self._gc())["full"]]

    async def stalls(self) -> list[float]:
        """Every stall of the server's event loop so far, in ms (``event_server.watch_loop``, from
        the first read on; an older server records none)."""
        return list((await self._gc()).get("stalls", []))

    async def stall_stacks(self, count: int = 5) -> list[tuple[str, int]]:
        """What the server's loop ran while stalled since the last call, by stack, most samples
        first (``event_server.StallSampler``; an older server records none)."""
        return [(stack, samples) for stack, samples in (await self._gc(stacks=count)).get("stacks", [])]

    async def _gc(self, **query: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, timeout=120) as http:
            body: dict[str, Any] = (await http.get("/bench/gc", params=query)).json()
        return body

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully, lifespan included
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> EventServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class Servers:
    """The API processes of one run, measured as one: CPU and memory summed, collections and
    stalls of each in one list."""

    def __init__(self, servers: list[EventServer]) -> None:
        self.servers = servers

    @property
    def pids(self) -> list[int]:
        return [server.pid for server in self.servers]

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    @property
    def ws_urls(self) -> list[str]:
        return [url.replace("http://", "ws://", 1) + "/graphql" for url in self.urls]

    def cpu_seconds(self) -> float:
        return sum(server.cpu_seconds() for server in self.servers)

    def resident_mib(self) -> float:
        return sum(server.resident_mib() for server in self.servers)

    def waited_for_cpu(self) -> float:
        return sum(server.waited_for_cpu() for server in self.servers)

    async def collections(self) -> list[list[float]]:
        return [await server.collections() for server in self.servers]

    async def stalls(self) -> list[list[float]]:
        return [await server.stalls() for server in self.servers]


def since(before: list[list[float]], now: list[list[float]]) -> list[float]:
    """What each server recorded after ``before``, in one list."""
    return [value for old, new in zip(before, now, strict=True) for value in new[len(old) :]]


# -- accounts and clients ------------------------------------------------------------------------


def operation(name: str) -> str:
    (path,) = OPERATIONS.glob(f"*/{name}.graphql")
    return path.read_text()


def sign_up(url: str, count: int, kind: str) -> list[Account]:
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
            document = f"01BENCH{kind[:3].upper()}{number:016d}"
            accounts.append(Account(result["account"]["id"], result["token"], document))
    progress(f"signed up {count} {kind} accounts")
    return accounts


class ClientProcess:
    """One process of WebSocket clients (:mod:`bench.event_clients`), spoken to one JSON line a command."""

    def __init__(self, accounts: list[Account]) -> None:
        self.accounts = accounts
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, ws_urls: list[str]) -> int:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.event_clients",
            operation("DocumentEvents"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env,
            limit=1 << 30,  # a collect answer holds every event of the phase
        )
        accounts = [[account.id, account.token, account.document_id] for account in self.accounts]
        opened = await self.call({"open": {"urls": ws_urls, "accounts": accounts, "per_account": PER_ACCOUNT}})
        return int(opened["clients"])

    async def call(self, command: dict[str, Any]) -> Any:
        assert self.process is not None
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"a client process exited with code {await self.process.wait()}")
        return json.loads(line)

    async def close(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.call({"close": True}), 60)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def open_clients(ws_urls: list[str], accounts: list[Account], processes: int) -> list[ClientProcess]:
    """``PER_ACCOUNT`` clients of every account, the accounts round-robin over ``processes``."""
    groups = [ClientProcess(accounts[number::processes]) for number in range(processes)]
    groups = [group for group in groups if group.accounts]
    try:
        counts = await asyncio.gather(*(group.start(ws_urls) for group in groups))
    except BaseException:
        await asyncio.gather(*(group.close() for group in groups), return_exceptions=True)
        raise
    progress(f"{sum(counts)} clients connected, authenticated and subscribed, in {len(groups)} processes")
    return groups


@dataclass
class Churn:
    """Clients that come and go: ``rate`` a second, round-robin over ``accounts``, each connecting,
    subscribing, waiting for one event of its account and leaving. Each account with a client
    waiting gets an event every ``CHURN_PROBE_SECONDS``."""

    ws_urls: list[str]
    accounts: list[Account]
    publisher: BroadcastPubSub
    rate: float
    done: int = 0
    failures: list[str] = field(default_factory=list)
    #: From starting to connect to the event's arrival, in seconds.
    lifetimes: list[float] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        prober = asyncio.create_task(self.probe())
        running: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        number = 0
        while not stop.is_set():
            pause = start + number / self.rate - time.perf_counter()
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                continue
            task = asyncio.create_task(
                self.one(self.accounts[number % len(self.accounts)], self.ws_urls[number % len(self.ws_urls)])
            )
            running.add(task)
            task.add_done_callback(running.discard)
            number += 1
        if running:
            await asyncio.wait(running)
        prober.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await prober

    async def one(self, account: Account, ws_url: str) -> None:
        self.waiting[account.id] = self.waiting.get(account.id, 0) + 1
        begin = time.perf_counter()
        try:
            async with asyncio.timeout(CHURN_PATIENCE):
                connection = await subscribed(ws_url, account, operation("DocumentEvents"))
                try:
                    own_event(account, await connection.recv())
                finally:
                    await connection.close()
            self.lifetimes.append(time.perf_counter() - begin)
            self.done += 1
        except Exception as error:
            self.failures.append(repr(error))
        finally:
            self.waiting[account.id] -= 1

    async def probe(self) -> None:
        by_id = {account.id: account for account in self.accounts}
        while True:
            for account_id, count in list(self.waiting.items()):
                if count:
                    await self.publisher.publish(make_event(by_id[account_id], PROBE))
            await asyncio.sleep(CHURN_PROBE_SECONDS)


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Setup:
    """One server: which code, with how many subscribers, and what connecting them cost it."""

    label: str
    commit: str
    subscribers: int
    servers: int = 1
    client_processes: int = 1
    connect_seconds: float = 0.0
    #: Full collections while the clients connected and warmed up, their durations in ms.
    connect_collections: list[float] = field(default_factory=list)
    rss_idle: float = 0.0
    rss_connected: float = 0.0

    @property
    def kib_per_subscriber(self) -> float:
        return 1024 * (self.rss_connected - self.rss_idle) / self.subscribers


@dataclass
class Phase:
    rate: float
    churn: float
    events: int
    latencies: list[float]
    seconds: float
    server_cpu: float
    process_cpu: float
    #: The server's resident memory at the end of the phase, in MiB: it should not grow from phase to phase.
    server_rss: float
    #: The server's full collections during the phase, their durations in ms.
    collections: list[float]
    load: float
    #: Stalls of the server's event loop and of this process's during the phase, in ms.
    server_stalls: list[float] = field(default_factory=list)
    client_stalls: list[float] = field(default_factory=list)
    #: Seconds the servers' event loops were runnable but had no CPU during the phase.
    server_waited: float = 0.0
    churned: int = 0
    churn_failures: list[str] = field(default_factory=list)
    churn_lifetimes: list[float] = field(default_factory=list)


@dataclass
class Run:
    setup: Setup
    phases: list[Phase]


def make_event(account: Account, number: int) -> Event:
    return Event(EventType.EXTRACTION_PROGRESS, account.id, account.document_id, data={"page": number, "pages": 10**6})


async def warm_up(publisher: BroadcastPubSub, groups: list[ClientProcess], accounts: list[Account]) -> None:
    """Until every client has received a probe: subscribing has no reply, so this shows it is live."""
    by_id = {account.id: account for account in accounts}
    for attempt in range(100):
        waiting = {account_id for group in groups for account_id in await group.call({"waiting": True})}
        if not waiting:
            break
        for account_id in waiting:
            await publisher.publish(make_event(by_id[account_id], PROBE))
        await asyncio.sleep(0.2 + attempt * 0.05)
    else:
        raise RuntimeError(f"the subscribers of {len(waiting)} accounts never received an event")
    progress(f"every one of {len(accounts) * PER_ACCOUNT} subscribers receives its account's events")


async def phase(
    servers: Servers,
    publisher: BroadcastPubSub,
    groups: list[ClientProcess],
    accounts: list[Account],
    rate: float,
    count: int,
    churn: Churn | None,
) -> Phase:
    sent: dict[str, tuple[Account, float]] = {}
    collected_before = await servers.collections()
    stalled_before = await servers.stalls()
    for server in servers.servers:
        await server.stall_stacks()  # what was sampled before the phase is not its own
    client_stalls: list[float] = []
    await asyncio.gather(*(group.call({"watch": True}) for group in groups))
    watching = asyncio.create_task(event_server.watch_loop(client_stalls))
    server_before, process_before, waited_before = servers.cpu_seconds(), time.process_time(), servers.waited_for_cpu()
    stop = asyncio.Event()
    churning = asyncio.create_task(churn.run(stop)) if churn is not None else None
    start = time.perf_counter()
    for number in range(count):
        pause = start + number / rate - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        account = accounts[number % len(accounts)]
        event = make_event(account, number + 1)
        sent[event.id] = (account, time.perf_counter())
        await publisher.publish(event)
    stop.set()
    own: dict[str, list[str]] = {}
    for event_id, (account, _) in sent.items():
        own.setdefault(account.id, []).append(event_id)
    expected = [sum(len(own.get(account.id, [])) for account in group.accounts) * PER_ACCOUNT for group in groups]
    answers = await asyncio.gather(
        *(group.call({"collect": wanted}) for group, wanted in zip(groups, expected, strict=True))
    )
    elapsed = time.perf_counter() - start
    server_cpu, process_cpu = servers.cpu_seconds() - server_before, time.process_time() - process_before
    waited = servers.waited_for_cpu() - waited_before
    watching.cancel()
    if churning is not None:
        await churning
    latencies: list[float] = []
    for answer in answers:
        client_stalls.extend(answer["stalls"])
        for account_id, received, failure in answer["received"]:
            got = [event_id for event_id, _ in received]
            mine = own.get(account_id, [])
            if got != mine:
                raise RuntimeError(
                    f"a subscriber of {account_id} received {len(got)} of its {len(mine)} events "
                    f"({sum(a == b for a, b in zip(got, mine, strict=False))} in place); its reader: {failure}"
                )
            latencies.extend(instant - sent[event_id][1] for event_id, instant in received)
    collections = since(collected_before, await servers.collections())
    result = Phase(
        rate,
        churn.rate if churn is not None else 0.0,
        count,
        latencies,
        elapsed,
        server_cpu,
        process_cpu,
        servers.resident_mib(),
        collections,
        os.getloadavg()[0],
        server_stalls=since(stalled_before, await servers.stalls()),
        client_stalls=client_stalls,
        server_waited=waited,
    )
    if churn is not None:
        result.churned, result.churn_failures, result.churn_lifetimes = churn.done, churn.failures, churn.lifetimes
    progress(
        f"{rate:g} events/s, churn {result.churn:g}/s: {len(latencies)} deliveries, "
        f"p50 {1000 * percentile(latencies, 50):.1f} ms, p99 {1000 * percentile(latencies, 99):.1f} ms, "
        f"max {1000 * max(latencies):.1f} ms, {len(collections)} full collections "
        f"(longest {max(collections, default=0):.0f} ms), server RSS {result.server_rss:.0f} MiB, "
        f"loop stalls over {1000 * event_server.STALL_SECONDS:.0f} ms: servers {len(result.server_stalls)} "
        f"(longest {max(result.server_stalls, default=0):.0f} ms), bench {len(result.client_stalls)} "
        f"(longest {max(result.client_stalls, default=0):.0f} ms), servers' loops waited for a CPU "
        f"{1000 * result.server_waited:.0f} ms"
        + (f", {result.churned} churned ({len(result.churn_failures)} failed)" if churn is not None else "")
    )
    for reason in result.churn_failures[:3]:
        progress(f"  a churning client failed: {reason}")
    for server in servers.servers:
        for stack, samples in await server.stall_stacks():
            progress(f"  server {server.pid} stalled in ({samples} samples of 5 ms): {stack}")
    return result


async def measure(
    servers: Servers,
    url: str,
    setup: Setup,
    accounts: list[Account],
    churn_accounts: list[Account],
    rates: Sequence[float],
    churns: Sequence[float],
    count: int,
) -> list[Phase]:
    publisher = BroadcastPubSub(url)
    await publisher.connect()
    setup.rss_idle = servers.resident_mib()
    collected_before = await servers.collections()
    began = time.perf_counter()
    groups = await open_clients(servers.ws_urls, accounts, setup.client_processes)
    try:
        await warm_up(publisher, groups, accounts)
        setup.connect_seconds = time.perf_counter() - began
        setup.connect_collections = since(collected_before, await servers.collections())
        setup.rss_connected = servers.resident_mib()
        progress(
            f"connected in {setup.connect_seconds:.0f} s, {len(setup.connect_collections)} full collections "
            f"(longest {max(setup.connect_collections, default=0):.0f} ms), "
            f"{setup.kib_per_subscriber:.0f} KiB per subscriber"
        )
        phases = []
        for churn in churns:
            for rate in rates:
                churner = Churn(servers.ws_urls, churn_accounts, publisher, churn) if churn > 0 else None
                phases.append(await phase(servers, publisher, groups, accounts, rate, count, churner))
        return phases
    finally:
        await asyncio.gather(*(group.close() for group in groups), return_exceptions=True)
        await publisher.disconnect()


# -- the report ----------------------------------------------------------------------------------


def ms(value: float) -> str:
    return f"{1000 * value:,.1f}"


def section(runs: list[Run], *, started: datetime, command: str) -> str:
    versions = ", ".join(
        f"{package} {metadata.version(package)}"
        for package in ("strawberry-graphql", "starlette", "uvicorn", "websockets", "broadcaster", "redis")
    )
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    made_by = " (what `make bench` runs)" if command == "python -m bench" else ""
    counts = sorted({run.setup.subscribers for run in runs})
    churns = sorted({phase.churn for run in runs for phase in run.phases})
    title = " and ".join(f"{count:,}" for count in counts)
    server_counts = sorted({run.setup.servers for run in runs})
    where = (
        "one API process"
        if server_counts == [1]
        else " or ".join(f"{count}" for count in server_counts) + " API processes on one Redis"
    )
    client_processes = sorted({run.setup.client_processes for run in runs})
    setups = [
        f"| {run.setup.label} (`{run.setup.commit}`) | {run.setup.servers} | {run.setup.subscribers:,} | "
        f"{run.setup.connect_seconds:.0f} | "
        f"{len(run.setup.connect_collections)} | {max(run.setup.connect_collections, default=0):,.0f} | "
        f"{run.setup.rss_idle:.0f} | {run.setup.rss_connected:.0f} | {run.setup.kib_per_subscriber:.0f} |"
        for run in runs
    ]
    rows = [
        f"| {run.setup.label} | {run.setup.servers} | {run.setup.subscribers:,} | {p.churn:g} | {p.rate:g} | "
        f"{len(p.latencies):,} | "
        f"{ms(percentile(p.latencies, 50))} | {ms(percentile(p.latencies, 99))} | {ms(max(p.latencies))} | "
        f"{len(p.collections)} | {max(p.collections, default=0):,.0f} | "
        f"{len(p.server_stalls)} ({max(p.server_stalls, default=0):,.0f}) / "
        f"{len(p.client_stalls)} ({max(p.client_stalls, default=0):,.0f}) | {1000 * p.server_waited:,.0f} | "
        f"{1000 * p.server_cpu / p.events:.2f} | "
        f"{p.server_cpu / p.seconds:.2f} | {p.server_rss:.0f} | "
        + (f"{p.churned:,} ({len(p.churn_failures)}) |" if p.churn else "– |")
        + f" {p.load:.1f} |"
        for run in runs
        for p in run.phases
    ]
    churn_note = (
        f" With churn, clients of {math.ceil(max(churns) / CHURN_PER_ACCOUNT)} accounts of their own connect at "
        "that rate while the phase publishes, subscribe the same way, wait for an event of their account (each "
        f"such account with a client waiting gets one every {CHURN_PROBE_SECONDS:g} s) and leave; the column "
        "counts those that did (failures in parentheses). The server's CPU in a churn phase includes theirs."
        if any(churns)
        else ""
    )
    return "\n".join(
        [
            f"## Live events: publish to client receipt, {title} subscribers on {where}",
            "",
            f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`{made_by}, on {os.cpu_count()} cores "
            f"(load average {os.getloadavg()[0]:.1f} at the end), Python {platform.python_version()}; "
            f"{versions}; Redis {redis_version.removeprefix('v=')}.",
            "",
            "Each API process is a uvicorn (uvloop, websockets-sansio; no per-message deflate: "
            "`DOCSTORE_WS_DEFLATE` is off) serving the app with "
            "`DOCSTORE_PUBSUB_URL=redis://…` on one redis-server of the benchmark's own (`bench/event_server.py`, "
            "which also records the server's full garbage collections through `gc.callbacks`); with several, "
            "each account's subscribers are spread over them and every event crosses Redis to each. "
            f"The WebSocket clients live in {' or '.join(map(str, client_processes))} processes of their own "
            "(`bench/event_clients.py`, uvloop, the accounts round-robin), speaking `graphql-transport-ws`, each "
            "authenticated in `connection_init` and subscribed with `gql/operations/events/DocumentEvents.graphql`, "
            f"{PER_ACCOUNT} per account. The benchmark process publishes `ExtractionProgress` events round-robin "
            "over the accounts at a fixed rate through the real `BroadcastPubSub` on the same Redis, as a "
            f"`docstore worker` process does; each event reaches its account's {PER_ACCOUNT} subscribers. "
            "Latency runs from just before `publish` to the client's receipt of the `next` message, both read "
            "from `time.perf_counter` (`CLOCK_MONOTONIC`, one clock for every process of the machine): it "
            "covers Redis, the server's pump and inboxes, GraphQL execution, the WebSocket and the client's "
            "event loop. Every subscriber must receive exactly its account's events, in order, or the run fails. "
            "Server CPU, memory, collections and stalls are summed over the API processes. Loop stalls: each "
            "time a 10 ms tick on a server's event loop, and on the benchmark's (the publisher's and every "
            "client process's), came more than 20 ms late (`watch_loop`), which tells a stall of the server "
            "from one of the clients' side. A server's loop waiting for a CPU (`/proc/PID/schedstat`: runnable, "
            "not running) is what the machine's other work added. Stacks of the server's loop during its "
            "stalls (`StallSampler`) are printed as the run goes." + churn_note,
            "",
            "Connecting: how long until every client had an event, the server's full collections meanwhile, "
            "and its resident memory before the clients and with them.",
            "",
            "| code | API processes | subscribers | seconds | full collections | longest ms | RSS idle, MiB "
            "| RSS connected, MiB | KiB per subscriber |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *setups,
            "",
            "| code | API processes | subscribers | churn/s | events/s | deliveries | p50 ms | p99 ms | max ms "
            "| full collections | longest ms | loop stalls, server / bench (longest ms) "
            "| server loop waited for a CPU, ms | server CPU ms/event "
            "| server cores busy | server RSS after, MiB | churned (failed) | load average |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )
