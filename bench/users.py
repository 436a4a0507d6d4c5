"""100 people using one ``docstore serve`` on the embedded default: human pace, then saturation.

The server is started as a user starts it, ``docstore serve --port P --data-dir DIR`` in a fresh
data folder, in a process of its own; the benchmark only ever talks to it (and to the S3 URLs it
hands out) on 127.0.0.1. Each simulated person (:mod:`bench.simulated_user`) signs up, holds one
``documentEvents`` subscription for the whole run, and then acts once every 2 s on average
(exponential think time): list, search, upload + complete a small file (text, PDF, PNG), download
a stored file and check its bytes, or rename one. After that human-paced phase, the same people act
with no think time for a while: the closed-loop throughput at saturation.

Measured: every request's latency and errors by operation; for every upload, the time from
completeUpload's answer to the DocumentReady event on its owner's subscription; at the end, each
person's ``me { usage }`` against the bytes they uploaded, and ``docstore stats --recount`` beside
the running server; the resident memory of the server's whole process tree every 5 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from bench.docstore_serve import DOCSTORE, DocstoreServer, clean_environment
from bench.event_latency import raise_file_limit
from bench.simulated_user import Recorder, User, make_files
from bench.users_report import Checks, Memory, Phase, section

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
            outcome = asyncio.run(measure(server, minutes=minutes, capacity_seconds=capacity_seconds))
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


async def measure(server: DocstoreServer, *, minutes: float, capacity_seconds: float) -> Outcome:
    files = make_files(FILES_OF_EACH_KIND)
    # Idle connections are dropped before uvicorn's keep-alive timeout (5 s) closes them, as a
    # browser does: reusing one the server is closing would fail a request for no fault of the server.
    limits = httpx.Limits(
        max_connections=4 * USERS, max_keepalive_connections=4 * USERS, keepalive_expiry=KEEPALIVE_SECONDS
    )
    memory = Memory()
    sampler = asyncio.create_task(sample_memory(server, memory))
    async with httpx.AsyncClient(timeout=REQUEST_SECONDS, limits=limits) as http:
        run_id = f"{time.time_ns()}"
        people = [User(number, http, f"{server.url}/graphql", random.Random(number), files) for number in range(USERS)]
        setup = Recorder()
        await set_up(people, setup, server.url.replace("http://", "ws://", 1) + "/graphql", run_id)
        try:
            human = await phase(HUMAN, people, server, seconds=60 * minutes, think=THINK_SECONDS, memory=memory)
            await drain(people, human)
            capacity = await phase(SATURATION, people, server, seconds=capacity_seconds, think=0.0, memory=memory)
            await drain(people, capacity)
            for each in (human, capacity):
                each.missing_at_end = sum(
                    document_id not in person.ready and document_id not in person.failed
                    for person in people
                    for document_id, stored in person.documents.items()
                    if stored.phase == each.name
                )
            checks = await check_usage(people)
        finally:
            sampler.cancel()
            await asyncio.gather(*(person.close() for person in people), return_exceptions=True)
    problems = [f"user {p.number}: {p.subscription_problem}" for p in people if p.subscription_problem]
    return Outcome(setup, [human, capacity], memory, checks, subscription_problems=problems)


async def set_up(people: list[User], recorder: Recorder, ws_url: str, run_id: str) -> None:
    """Everyone signs up (a few at a time, as argon2 is slow on purpose) and subscribes."""
    gate = asyncio.Semaphore(SIGNING_UP_AT_ONCE)
    bar = tqdm(total=2 * len(people), desc=f"[{NAME}] sign up and subscribe", unit="step")

    async def one(person: User) -> None:
        async with gate:
            await person.sign_up(recorder, run_id)
            bar.update()
            await person.subscribe(recorder, ws_url)
            bar.update()

    try:
        await asyncio.gather(*(one(person) for person in people))
    finally:
        bar.close()
    progress(f"{len(people)} people signed up, each with a live documentEvents subscription")


async def sample_memory(server: DocstoreServer, memory: Memory) -> None:
    start = time.perf_counter()
    while True:
        sample = await asyncio.to_thread(server.sample)
        memory.samples.append((time.perf_counter() - start, memory.phase, sample))
        await asyncio.sleep(SAMPLE_SECONDS)


async def phase(
    name: str, people: list[User], server: DocstoreServer, *, seconds: float, think: float, memory: Memory
) -> Phase:
    """Every person acts until ``seconds`` have passed, pausing ``think`` seconds on average between
    actions (exponentially distributed; none when 0); actions under way finish."""
    recorder = Recorder()
    memory.phase = name
    server_before = await asyncio.to_thread(server.sample)
    start = time.perf_counter()
    deadline = start + seconds
    cpu_before = time.process_time()

    async def person_loop(person: User) -> None:
        if think:
            await asyncio.sleep(person.chance.uniform(0, think))  # people do not all start at once
        while recorder.actions < MAX_ACTIONS and time.perf_counter() < deadline:
            recorder.actions += 1
            await person.act(recorder, name)
            if think:
                pause = min(person.chance.expovariate(1 / think), deadline - time.perf_counter())
                if pause > 0:
                    await asyncio.sleep(pause)

    async def show() -> None:
        with tqdm(total=round(seconds), desc=f"[{NAME}] {name}", unit="s") as bar:
            for _ in range(round(seconds)):
                await asyncio.sleep(1)
                bar.update()
                sample = memory.last()
                bar.set_postfix(
                    actions=recorder.actions,
                    errors=sum(recorder.errors.values()),
                    rss_mib=f"{sample.rss / 2**20:.0f}" if sample else "?",
                )

    async def first_minute() -> None:
        await asyncio.sleep(60)
        memory.first_minute[name] = await asyncio.to_thread(server.sample)

    watchers = [asyncio.create_task(show())]
    if seconds >= 60:
        watchers.append(asyncio.create_task(first_minute()))
    try:
        await asyncio.gather(*(person_loop(person) for person in people))
    finally:
        for watcher in watchers:
            watcher.cancel()
    elapsed = time.perf_counter() - start
    result = Phase(
        name=name,
        seconds=elapsed,
        think=think,
        recorder=recorder,
        client_cpu=time.process_time() - cpu_before,
        server_before=server_before,
        server_after=await asyncio.to_thread(server.sample),
    )
    progress(
        f"{name}: {recorder.actions} actions, {recorder.requests} requests in {elapsed:.0f} s, "
        f"{sum(recorder.errors.values())} errors"
    )
    return result


async def drain(people: list[User], phase: Phase) -> None:
    """Wait (up to ``DRAIN_SECONDS``) for the DocumentReady or DocumentFailed event of every upload
    of ``phase``; then record, per upload, how long its event took or that it never came."""
    due = [
        (person, document_id)
        for person in people
        for document_id, stored in person.documents.items()
        if stored.phase == phase.name
    ]
    deadline = time.perf_counter() + DRAIN_SECONDS
    with tqdm(total=len(due), desc=f"[{NAME}] {phase.name}: uploads READY", unit="doc") as bar:
        while True:
            arrived = sum(doc in person.ready or doc in person.failed for person, doc in due)
            bar.update(arrived - bar.n)
            if arrived == len(due) or time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.5)
    for person, document_id in due:
        stored = person.documents[document_id]
        if document_id in person.ready:
            phase.ready.append(person.ready[document_id] - stored.completed)
        elif document_id in person.failed:
            phase.failed.append(person.failed[document_id])
        else:
            phase.never += 1


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
