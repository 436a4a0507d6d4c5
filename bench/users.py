"""100 people using one ``docstore serve`` on the embedded default: human pace, then saturation.

The server is started as a user starts it, ``docstore serve --port P --data-dir DIR`` in a fresh
data folder, in a process of its own; the benchmark only ever talks to it (and to the S3 URLs it
hands out) on 127.0.0.1. Each simulated person (:mod:`bench.simulated_user`) signs up, holds one
``documentEvents`` subscription for the whole run, and then acts once every 2 s on average
(exponential think time): list, search, upload + complete a small file (text, PDF, PNG), download
a stored file and check its bytes, or rename one. After that human-paced phase, the same people act
with no think time for a while: the closed-loop throughput at saturation.

The people run in ``CLIENT_PROCESSES`` processes of 25, each with its own event loop, started and
stopped in step by this one, which keeps the time and samples the server: on a single loop, the
client's own work was a large part of every latency it measured. Each phase reports how late the
client's loops ran.

Measured: every request's latency and errors by operation; for every upload, the time from
completeUpload's answer to the DocumentReady event on its owner's subscription; at the end, each
person's ``me { usage }`` against the bytes they uploaded, and ``docstore stats --recount`` beside
the running server; the resident memory of the server's whole process tree every 5 s.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import platform
import random
import subprocess
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvloop
from tqdm import tqdm

from bench.docstore_serve import DOCSTORE, DocstoreServer, clean_environment
from bench.event_latency import raise_file_limit
from bench.simulated_user import Recorder, User, make_files
from bench.users_report import LAG_TICK, Checks, Memory, Phase, section

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

NAME = "users"
USERS = 100
#: Mean think time between one action's end and the next one's start, seconds.
THINK_SECONDS = 2.0
MINUTES = 10.0
CAPACITY_SECONDS = 60.0
#: The memory of the whole process tree is read this often, seconds.
SAMPLE_SECONDS = 5.0
#: Past this a request counts as an error (and the person goes on).
REQUEST_SECONDS = 60.0
#: After a phase, how long the benchmark waits for the DocumentReady events still due.
DRAIN_SECONDS = 90.0
#: However fast the server, one phase never runs more actions than this (all people together).
MAX_ACTIONS = 200_000
SIGNING_UP_AT_ONCE = 10
#: The people run in this many processes, each with its own event loop. One loop for all 100 woke
#: 40-70 ms late at the median from a 50 ms sleep: that much of every latency was the client's.
CLIENT_PROCESSES = 4
KEEPALIVE_SECONDS = 4.0
FILES_OF_EACH_KIND = 30
HUMAN, SATURATION = "human pace", "saturation"


def run(*, quick: bool, command: str, minutes: float = MINUTES, capacity_seconds: float = CAPACITY_SECONDS) -> str:
    """Start the server, sign everyone up and subscribe them, run both phases, check usage; the
    markdown section."""
    if quick:
        minutes, capacity_seconds = 1.0, 10.0
    raise_file_limit(4 * USERS + 1000)
    started = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="docstore-bench-users-") as tmp:
        log_path = Path(tmp) / "serve.log"
        with log_path.open("wb") as log, DocstoreServer(Path(tmp) / "data", log) as server:
            progress(f"docstore serve pid {server.process.pid if server.process else '?'} at {server.url}")
            outcome = measure(server, minutes=minutes, capacity_seconds=capacity_seconds)
            outcome.checks.recount = recount(server.data_dir)
            progress(f"recount: {outcome.checks.recount.get('summary', '?')}")
            outcome.stopped_with = server.stop()
        outcome.log_errors = log_errors(log_path)
    return section(
        outcome,
        started=started,
        command=command,
        users=USERS,
        think=THINK_SECONDS,
        minutes=minutes,
        capacity_seconds=capacity_seconds,
        drain=DRAIN_SECONDS,
        at_once=SIGNING_UP_AT_ONCE,
        versions=versions(),
        machine=f"{machine()}; load average (1 min) {load_before:.1f} before the run, {os.getloadavg()[0]:.1f} after",
    )


def progress(line: str) -> None:
    tqdm.write(f"[{NAME}] {line}")


@dataclass
class Outcome:
    setup: Recorder
    phases: list[Phase]
    memory: Memory
    checks: Checks
    stopped_with: int | None = None
    log_errors: tuple[int, list[str]] = (0, [])
    subscription_problems: list[str] = field(default_factory=list)


def measure(server: DocstoreServer, *, minutes: float, capacity_seconds: float) -> Outcome:
    """Run the people in ``CLIENT_PROCESSES`` processes through set-up and both phases, in step, and
    merge what each measured. This process samples the server and keeps the time."""
    memory = Memory()
    stop = threading.Event()
    sampler = threading.Thread(target=sample_memory, args=(server, memory, stop), name="memory", daemon=True)
    sampler.start()
    context = multiprocessing.get_context("spawn")
    run_id = f"{time.time_ns()}"
    parts: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    try:
        for index in range(CLIENT_PROCESSES):
            mine, theirs = context.Pipe()
            numbers = list(range(index, USERS, CLIENT_PROCESSES))
            process = context.Process(
                target=client_process, args=(theirs, server.url, numbers, run_id), name=f"{NAME}-people-{index}"
            )
            process.start()
            parts.append((process, mine))
        setup = Recorder()
        with tqdm(total=len(parts), desc=f"[{NAME}] sign up and subscribe", unit="process") as bar:
            for _, connection in parts:
                (part_setup,) = receive(connection, "ready")
                merge(setup, part_setup)
                bar.update()
        progress(f"{USERS} people signed up in {len(parts)} processes, each with a live documentEvents subscription")
        human = run_phase(HUMAN, parts, server, memory, seconds=60 * minutes, think=THINK_SECONDS)
        capacity = run_phase(SATURATION, parts, server, memory, seconds=capacity_seconds, think=0.0)
        checks, problems = Checks(), list[str]()
        for _, connection in parts:
            connection.send(("finish",))
        for _, connection in parts:
            missing, part_checks, part_problems = receive(connection, "done")
            for each in (human, capacity):
                each.missing_at_end += missing[each.name]
            merge(checks.recorder, part_checks.recorder)
            checks.exact += part_checks.exact
            checks.mismatches += part_checks.mismatches
            checks.unchecked += part_checks.unchecked
            checks.expected_bytes += part_checks.expected_bytes
            checks.expected_documents += part_checks.expected_documents
            problems += part_problems
        progress(f"usage exact for {checks.exact} of {USERS} people")
    finally:
        stop.set()
        for child, connection in parts:
            child.join(timeout=30)
            if child.is_alive():
                child.terminate()
                child.join()
            connection.close()
    return Outcome(setup, [human, capacity], memory, checks, subscription_problems=problems)


def receive(connection: Connection, expected: str) -> tuple[Any, ...]:
    """The next message of a people process, which must be ``expected``; its error, raised, if it failed."""
    try:
        kind, *values = connection.recv()
    except EOFError:
        raise RuntimeError("a process of simulated people ended without a word (see its output above)") from None
    if kind == "error":
        raise RuntimeError(f"a process of simulated people failed:\n{values[0]}")
    if kind != expected:
        raise RuntimeError(f"a process of simulated people said {kind!r}, not {expected!r}")
    return tuple(values)


def merge(into: Recorder, part: Recorder) -> None:
    for name, values in part.latencies.items():
        into.latencies[name].extend(values)
    into.errors.update(part.errors)
    for name, examples in part.examples.items():
        into.examples[name].extend(examples[: 3 - len(into.examples[name])])
    into.actions += part.actions


def sample_memory(server: DocstoreServer, memory: Memory, stop: threading.Event) -> None:
    start = time.perf_counter()
    while not stop.is_set():
        memory.samples.append((time.perf_counter() - start, memory.phase, server.sample()))
        stop.wait(SAMPLE_SECONDS)


def run_phase(
    name: str,
    parts: list[tuple[multiprocessing.process.BaseProcess, Connection]],
    server: DocstoreServer,
    memory: Memory,
    *,
    seconds: float,
    think: float,
) -> Phase:
    """Every process's people act from one shared instant for ``seconds``; then each process waits
    for its uploads' events. The server is sampled here, at both ends."""
    memory.phase = name
    server_before = server.sample()
    start_at = time.time() + 0.5
    for _, connection in parts:
        connection.send(("phase", name, start_at, seconds, think))
    first_minute = threading.Timer(60.5, lambda: memory.first_minute.__setitem__(name, server.sample()))
    if seconds >= 60:
        first_minute.start()
    recorder, client_cpu, lags = Recorder(), 0.0, list[float]()
    total = round(seconds)
    with tqdm(total=total, desc=f"[{NAME}] {name}", unit="s") as bar:
        while not all(connection.poll() for _, connection in parts):
            time.sleep(1)
            bar.update(min(1, total - bar.n))
            sample = memory.last()
            bar.set_postfix(rss_mib=f"{sample.rss / 2**20:.0f}" if sample else "?")
    for _, connection in parts:
        part, cpu, part_lags = receive(connection, "acted")
        merge(recorder, part)
        client_cpu += cpu
        lags += part_lags
    elapsed = time.time() - start_at
    first_minute.cancel()
    result = Phase(
        name=name,
        seconds=elapsed,
        think=think,
        recorder=recorder,
        client_cpu=client_cpu,
        server_before=server_before,
        server_after=server.sample(),
        client_lag=lags,
    )
    progress(
        f"{name}: {recorder.actions} actions, {recorder.requests} requests in {elapsed:.0f} s, "
        f"{sum(recorder.errors.values())} errors; waiting for the uploads' events"
    )
    for _, connection in parts:
        connection.send(("drain",))
    for _, connection in parts:
        ready, failed, never = receive(connection, "drained")
        result.ready += ready
        result.failed += failed
        result.never += never
    return result


# -- a process of simulated people ------------------------------------------------------------------


def client_process(connection: Connection, url: str, numbers: list[int], run_id: str) -> None:
    """One process's share of the people, on its own event loop (uvloop, as the server runs): a
    single loop for all 100 spent a good part of each latency on its own work."""
    try:
        uvloop.run(people_main(connection, url, numbers, run_id))
    except BaseException:
        connection.send(("error", traceback.format_exc()))
        raise
    finally:
        connection.close()


async def people_main(connection: Connection, url: str, numbers: list[int], run_id: str) -> None:
    files = make_files(FILES_OF_EACH_KIND)
    # Idle connections are dropped before uvicorn's keep-alive timeout (5 s) closes them, as a
    # browser does: reusing one the server is closing would fail a request for no fault of the server.
    limits = httpx.Limits(
        max_connections=4 * len(numbers), max_keepalive_connections=4 * len(numbers), keepalive_expiry=KEEPALIVE_SECONDS
    )
    async with httpx.AsyncClient(timeout=REQUEST_SECONDS, limits=limits) as http:
        people = [User(number, http, f"{url}/graphql", random.Random(number), files) for number in numbers]
        try:
            setup = Recorder()
            await set_up(people, setup, url.replace("http://", "ws://", 1) + "/graphql", run_id)
            connection.send(("ready", setup))
            phase_name = ""
            while True:
                kind, *values = await asyncio.to_thread(connection.recv)
                if kind == "phase":
                    phase_name, start_at, seconds, think = values
                    await asyncio.sleep(max(0.0, start_at - time.time()))
                    connection.send(("acted", *await act(phase_name, people, seconds=seconds, think=think)))
                elif kind == "drain":
                    connection.send(("drained", *await drain(people, phase_name)))
                else:
                    missing = {
                        name: sum(
                            document_id not in person.ready and document_id not in person.failed
                            for person in people
                            for document_id, stored in person.documents.items()
                            if stored.phase == name
                        )
                        for name in (HUMAN, SATURATION)
                    }
                    checks = await check_usage(people)
                    problems = [f"user {p.number}: {p.subscription_problem}" for p in people if p.subscription_problem]
                    connection.send(("done", missing, checks, problems))
                    return
        finally:
            await asyncio.gather(*(person.close() for person in people), return_exceptions=True)


async def set_up(people: list[User], recorder: Recorder, ws_url: str, run_id: str) -> None:
    """Everyone signs up (a few at a time, as argon2 is slow on purpose) and subscribes."""
    gate = asyncio.Semaphore(max(1, SIGNING_UP_AT_ONCE // CLIENT_PROCESSES))

    async def one(person: User) -> None:
        async with gate:
            await person.sign_up(recorder, run_id)
            await person.subscribe(recorder, ws_url)

    await asyncio.gather(*(one(person) for person in people))


async def act(name: str, people: list[User], *, seconds: float, think: float) -> tuple[Recorder, float, list[float]]:
    """Every person acts until ``seconds`` have passed, pausing ``think`` seconds on average between
    actions (exponentially distributed; none when 0); actions under way finish. What was measured,
    this process's CPU seconds, and how late its event loop woke from each short sleep."""
    recorder = Recorder()
    deadline = time.perf_counter() + seconds
    cpu_before = time.process_time()
    lags: list[float] = []

    async def person_loop(person: User) -> None:
        if think:
            await asyncio.sleep(person.chance.uniform(0, think))  # people do not all start at once
        while recorder.actions < MAX_ACTIONS // CLIENT_PROCESSES and time.perf_counter() < deadline:
            recorder.actions += 1
            await person.act(recorder, name)
            if think:
                pause = min(person.chance.expovariate(1 / think), deadline - time.perf_counter())
                if pause > 0:
                    await asyncio.sleep(pause)

    async def client_lag() -> None:
        while True:
            asleep = time.perf_counter()
            await asyncio.sleep(LAG_TICK)
            lags.append(max(0.0, time.perf_counter() - asleep - LAG_TICK))

    watcher = asyncio.create_task(client_lag())
    try:
        await asyncio.gather(*(person_loop(person) for person in people))
    finally:
        watcher.cancel()
    return recorder, time.process_time() - cpu_before, lags


async def drain(people: list[User], name: str) -> tuple[list[float], list[str], int]:
    """Wait (up to ``DRAIN_SECONDS``) for the DocumentReady or DocumentFailed event of every upload
    of phase ``name``; then, per upload, how long its event took, or its failure, or that it never came."""
    due = [
        (person, document_id)
        for person in people
        for document_id, stored in person.documents.items()
        if stored.phase == name
    ]
    deadline = time.perf_counter() + DRAIN_SECONDS
    while sum(doc in person.ready or doc in person.failed for person, doc in due) < len(due):
        if time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.5)
    ready, failed, never = list[float](), list[str](), 0
    for person, document_id in due:
        stored = person.documents[document_id]
        if document_id in person.ready:
            ready.append(person.ready[document_id] - stored.completed)
        elif document_id in person.failed:
            failed.append(person.failed[document_id])
        else:
            never += 1
    return ready, failed, never


async def check_usage(people: list[User]) -> Checks:
    """Each person's ``me { usage }`` against the bytes they uploaded and still have."""
    checks = Checks()
    for person in people:
        try:
            me = await person.graphql(checks.recorder, "Me")
        except Exception as error:  # counted by the recorder; the others are still checked
            checks.unchecked.append(f"user {person.number}: {error}")
            continue
        usage = me["usage"]
        expected = (person.stored_bytes, 0, len(person.documents))
        got = (int(usage["usedBytes"]), int(usage["reservedBytes"]), int(usage["documentCount"]))
        checks.expected_bytes += person.stored_bytes
        checks.expected_documents += len(person.documents)
        if got == expected:
            checks.exact += 1
        else:
            checks.mismatches.append(
                f"user {person.number}: used, reserved, documents {got}, expected {expected}"
                + (
                    f"; {len(person.unconfirmed)} uploads not confirmed ({sum(person.unconfirmed.values())} bytes)"
                    if person.unconfirmed
                    else ""
                )
            )
    progress(f"usage exact for {checks.exact} of {len(people)} people")
    return checks


def recount(data_dir: Path) -> dict[str, Any]:
    """``docstore stats --recount --json`` beside the running server, as an operator would run it."""
    command = [DOCSTORE, "stats", "--recount", "--json", "--data-dir", str(data_dir)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, env=clean_environment(), capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return {"summary": "did not finish within 600 s"}
    seconds = time.perf_counter() - start
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        return {"summary": f"exit {done.returncode}, no JSON: {(done.stderr or done.stdout)[-300:]}"}
    counters, recounted = report["counters"], report["recount"]
    report["summary"] = (
        f"exit {done.returncode} in {seconds:.1f} s; drift {'yes' if report['drift'] else 'none'}"
        f"{' (changed while counting)' if report['unsettled'] else ''}; "
        f"counters {counters['documentCount']} documents, {counters['totalStorageBytes']} bytes; "
        f"recount {recounted['documentCount']} documents, {recounted['totalStorageBytes']} bytes"
    )
    return report


def log_errors(path: Path) -> tuple[int, list[str]]:
    """How many ERROR records the server logged, and the first few messages."""
    count, first = 0, list[str]()
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL"):
            count += 1
            if len(first) < 3:
                first.append(str(record.get("message", ""))[:200])
    return count, first


def versions() -> str:
    packages = ("strawberry-graphql", "starlette", "uvicorn", "moto", "boto3", "pynamodb", "httpx", "websockets")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
    ).stdout.strip()
    listed = ", ".join(f"{package} {metadata.version(package)}" for package in packages)
    return f"Python {platform.python_version()}; {listed}; code at commit `{commit or '?'}`"


def machine() -> str:
    model = "an unknown CPU"
    memory = ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name"))
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.1f} GiB of memory"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}"
