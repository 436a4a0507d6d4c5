"""compareChecksums of 10,000 files: its p50 through the API, against the same documents listed.

One account holds 10,000 READY documents under ``/sync/`` (records and path claims written with
batch writes, each with a content hash). The client's list is 10,000 files: 8,000 the same, 1,000
with another hash, 1,000 the server lacks; the server's other 1,000 are NOT_ON_CLIENT, so the
answer has 11,000 comparisons, each with the `CompareChecksums` operation's selection (the
document and its signed `downloadUrl`). Two baselines in the same run, on the same stack:

- ``documents(filter: {pathPrefix: "/sync/"}, first: 100)`` paged to the end: what a client
  without compareChecksums does to learn the same hashes, 100 requests;
- the raw DynamoDB Query compareChecksums makes (``models.documents.holding_under``), from the
  benchmark's process: what the API adds on top of reading.

The stack is an embedded AWS process and one uvicorn process without workers; the three sides
alternate sample by sample (A B C C B A ...) after a warm-up of each.

Meanwhile an ordinary client of the same server asks ``{ __typename }`` one request after another
(alone first, for a baseline): its longest wait while each side runs shows whether a compare holds
the server's event loop, and every other request of that process with it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from ulid import ULID

from bench.client import PASSWORD, graphql
from bench.serving import ServedApp
from bench.stack import embedded_aws
from domain.checksums import ChecksumState
from domain.documents import DocumentStatus
from models import documents, keys, paths
from models.paths import PathClaim
from server import create_app

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

NAME = "checksums"
FILES = 10_000
QUICK_FILES = 500
SAMPLES = 15
PREFIX = "/sync/"
SIDES = ("compareChecksums", "documents paged", "raw Query")
ALONE = "alone"
#: How long the ordinary client runs alone before the samples: its baseline.
ALONE_SECONDS = 3.0


class Prober(threading.Thread):
    """The ordinary client: ``{ __typename }`` one request after another until stopped, each
    request's start and latency kept."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stopping = threading.Event()
        self.probes: list[tuple[float, float]] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=300) as http:
            while not self.stopping.is_set():
                start = time.perf_counter()
                response = http.post("/graphql", json={"query": "{ __typename }"})
                if response.status_code != 200:
                    raise RuntimeError(f"the ordinary client got {response.status_code}")
                self.probes.append((start, time.perf_counter() - start))

    def during(self, spans: list[tuple[float, float]]) -> list[float]:
        """The latencies of the probes that started within one of ``spans``."""
        return [latency for start, latency in self.probes if any(low <= start < high for low, high in spans)]


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


def digest(number: int) -> str:
    return hashlib.sha256(str(number).encode()).hexdigest()


def path_of(number: int) -> str:
    return f"{PREFIX}folder {number % 100}/file {number}.txt"


def fill(owner: str, count: int) -> None:
    """``count`` READY documents under the prefix, each with its claim and a content hash."""
    now = datetime.now(UTC) - timedelta(days=1)
    with documents.Document.batch_write() as batch, PathClaim.batch_write() as claims:
        for number in range(count):
            document_id = str(ULID.from_datetime(now + timedelta(milliseconds=number)))
            name = f"file {number}.txt"
            path = path_of(number)
            batch.save(
                documents.Document(
                    owner_id=owner,
                    document_id=document_id,
                    name=name,
                    name_folded=documents.fold(name),
                    name_key=documents.name_key(name, document_id),
                    path=path,
                    path_key=paths.key(path),
                    content_type="text/plain",
                    size=1000,
                    declared_size=1000,
                    checksum="0" * 32,
                    content_hash=digest(number),
                    status=DocumentStatus.READY,
                    object_key=keys.original(owner, document_id, "bench"),
                    created_at=now,
                    updated_at=now,
                    updated_key=documents.updated_key(now, document_id),
                    upload_expires_at=now,
                )
            )
            claims.save(PathClaim(owner_id=owner, path_key=paths.key(path), document_id=document_id))


def client_files(count: int) -> list[dict[str, str]]:
    """80 % the same, 10 % another hash, 10 % the server lacks (the server's last 10 % unlisted)."""
    tenth = count // 10
    files = [{"path": path_of(number), "contentHash": digest(number)} for number in range(count - 2 * tenth)]
    files += [
        {"path": path_of(number), "contentHash": digest(-number)} for number in range(count - 2 * tenth, count - tenth)
    ]
    files += [{"path": f"{PREFIX}client only/{number}.txt", "contentHash": digest(number)} for number in range(tenth)]
    return files


def alternate(count: int) -> Iterator[str]:
    for number in range(count):
        yield from (SIDES if number % 2 == 0 else tuple(reversed(SIDES)))


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(*, quick: bool, command: str) -> str:
    started = datetime.now(UTC)
    count = QUICK_FILES if quick else FILES
    samples = 2 if quick else SAMPLES
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp, embedded_aws(Path(tmp)) as (settings, _):
        served = settings.with_overrides(run_workers=False, requests_per_account=0)
        with ServedApp(create_app, served) as app, httpx.Client(base_url=app.url, timeout=300) as http:
            email = f"bench-{time.time_ns()}@example.com"
            payload = graphql(http, "SignUp", {"input": {"email": email, "password": PASSWORD}})["signUp"]
            token, owner = payload["token"], payload["account"]["id"]
            fill(owner, count)
            progress(f"{count:,} documents stored under {PREFIX}")
            files = client_files(count)

            def compare() -> None:
                answer = graphql(http, "CompareChecksums", {"input": {"files": files, "pathPrefix": PREFIX}}, token)
                states = [item["state"] for item in answer["compareChecksums"]]
                if len(states) != count + count // 10 or states.count(ChecksumState.DIFFERENT.name) != count // 10:
                    raise RuntimeError(f"compareChecksums answered {len(states)} comparisons")

            def listed() -> None:
                after, seen = None, 0
                while True:
                    variables = {"first": 100, "after": after, "filter": {"pathPrefix": PREFIX}}
                    page = graphql(http, "Documents", variables, token)["documents"]
                    seen += len(page["edges"])
                    if not page["pageInfo"]["hasNextPage"]:
                        break
                    after = page["pageInfo"]["endCursor"]
                if seen != count:
                    raise RuntimeError(f"documents listed {seen} of {count}")

            def raw() -> None:
                found, more = documents.holding_under(owner, paths.key(PREFIX), settings.compare_max_files)
                if len(found) != count or more:
                    raise RuntimeError(f"the Query read {len(found)} of {count}")

            actions = {"compareChecksums": compare, "documents paged": listed, "raw Query": raw}
            times: dict[str, list[float]] = {side: [] for side in SIDES}
            spans: dict[str, list[tuple[float, float]]] = {side: [] for side in (ALONE, *SIDES)}
            for side in SIDES:
                actions[side]()  # warm-up
            prober = Prober(app.url)
            prober.start()
            start = time.perf_counter()
            time.sleep(ALONE_SECONDS)
            spans[ALONE].append((start, time.perf_counter()))
            for side in alternate(samples):
                start = time.perf_counter()
                times[side].append(timed(actions[side]))
                spans[side].append((start, time.perf_counter()))
            prober.stopping.set()
            prober.join()
            waits = {side: prober.during(spans[side]) for side in spans}
            progress(", ".join(f"{side} p50 {1000 * statistics.median_high(times[side]):.0f} ms" for side in SIDES))
    return section(times, waits, count, started=started, command=command)


def quantile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def section(
    times: dict[str, list[float]], waits: dict[str, list[float]], count: int, *, started: datetime, command: str
) -> str:
    p50 = {side: statistics.median_high(values) for side, values in times.items()}
    rows = [
        f"| {side} | {1000 * p50[side]:.0f} | {p50[side] / p50['compareChecksums']:.2f} | {len(times[side])} |"
        for side in SIDES
    ]
    wait_rows = [
        f"| {side} | {len(waits[side])} | {1000 * statistics.median_high(waits[side]):.1f} | "
        f"{1000 * quantile(waits[side], 0.99):.1f} | {1000 * max(waits[side]):.1f} |"
        for side in (ALONE, *SIDES)
        if waits[side]
    ]
    made_by = " (part of `make bench`)" if command == "python -m bench" else ""
    return "\n".join(
        [
            f"## compareChecksums of {count:,} files",
            "",
            f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`{made_by}, on {os.cpu_count()} cores, "
            f"Python {platform.python_version()}.",
            "",
            f"{count:,} READY documents under `{PREFIX}` in one account; the client sends {count:,} files "
            "(80 % the same hash, 10 % another, 10 % the server lacks), so the answer has "
            f"{count + count // 10:,} comparisons with the operation's selection (the document and its signed "
            "`downloadUrl`). Baselines in the same run: the same documents listed with `documents(filter: "
            f"{{pathPrefix}}, first: 100)` to the end ({count // 100} requests), and the raw DynamoDB Query "
            "compareChecksums makes, from the benchmark's process. Sides alternate (ABC CBA) after a warm-up.",
            "",
            "| side | p50 ms | / compareChecksums | samples |",
            "| --- | ---: | ---: | ---: |",
            *rows,
            "",
            "The ordinary client's `{ __typename }` meanwhile, one request after another (by the side running "
            f"when each request started; `{ALONE}`: before the samples, with nothing else running):",
            "",
            "| while | requests | p50 ms | p99 ms | longest ms |",
            "| --- | ---: | ---: | ---: | ---: |",
            *wait_rows,
        ]
    )
