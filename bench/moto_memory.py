"""What the embedded AWS keeps in memory for each document stored: bytes per document, by table,
bucket and queue, and by the line of moto (or of DocStore's patches) that allocated them.

A count, not a timing: the same flow gives nearly the same figures on any machine. The embedded
AWS runs as ``docstore serve`` runs it (adapters/aws_process.py, durable, patched) but under
``tracemalloc``, in a child of its own (:func:`child`); the app runs in a uvicorn process with its
workers, as ``docstore serve`` runs them. People sign up, then each document is uploaded as the
users benchmark uploads it (a text file, a one-page PDF or a PNG, through ``requestUpload``, the
signed form and ``completeUpload``), processed to READY and renamed once. Upload forms last
``FORM_SECONDS`` here, so that every form's delayed ``upload.started`` message has been handled
before memory is read. Memory is read twice, once the flow is quiet (every document READY, every
queue and the outbox empty): after ``WARM`` documents (what moto builds once, caches included, is
there by then) and after ``DOCUMENTS`` more. Per document is the difference over ``DOCUMENTS``.

Each reading has three parts, taken in the child on ``SIGUSR1`` after a full collection:

- the bytes ``tracemalloc`` traces in the process, grouped by the innermost frame of moto or of
  DocStore's ``adapters`` that allocated them (a line of ``copy`` or ``json`` is no answer);
- each table's items, each bucket's keys and each queue's messages (and the receipt handles moto
  keeps of deleted ones): how many, and what they hold in memory, measured as the traced bytes of
  a pickled round trip of exactly those objects. Every live item and key has been pickled once (the
  state file's capture), so their attribute dictionaries exist, as in the copies;
- the live objects of moto's model classes, counted, against what the tables hold (a leak shows as
  more ``Item`` objects alive than items stored).

Both sides run in the same run: moto with DocStore's patches as ``docstore serve`` runs it, and
the same without ``adapters/moto_slim.py``. ``--quick`` stores fewer documents.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import pickle
import platform
import re
import signal
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from adapters.aws import AwsTarget
from adapters.local_aws import EmbeddedAws
from bench.client import PASSWORD, graphql
from bench.serving import ServedApp
from bench.simulated_user import make_files
from models import tables
from runtime.services import provision
from server import create_app
from settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bench.simulated_user import File

NAME = "moto_memory"
ACCOUNTS = 10
WARM = 30
DOCUMENTS = 90
QUICK_WARM = 6
QUICK_DOCUMENTS = 24
#: Uploads in flight at once.
CONCURRENCY = 6
#: How long an upload form lasts here: its delayed ``upload.started`` message is handled this long
#: after ``requestUpload``, so every one of them is handled before memory is read.
FORM_SECONDS = 15
#: Frames kept per allocation: enough to reach moto's line through copy, pickle and json.
FRAMES = 25
#: The environment variable that names the child's report folder, and the one that leaves out
#: adapters/moto_slim.py (the "before" side).
REPORT_FOLDER = "DOCSTORE_BENCH_MEMORY_REPORTS"
WITHOUT_SLIM = "DOCSTORE_BENCH_WITHOUT_SLIM"
SIDES = (("moto with DocStore's patches", False), ("the same without adapters/moto_slim.py", True))
REGION = "us-west-2"


# -- the child: the embedded AWS under tracemalloc -------------------------------------------------


def child() -> int:
    """``python -m bench.moto_memory ARGS``: adapters/aws_process.py's ``main(ARGS)``, traced, and
    reading its memory into ``$DOCSTORE_BENCH_MEMORY_REPORTS/N.*`` at each ``SIGUSR1``."""
    from adapters import aws_process

    folder = Path(os.environ[REPORT_FOLDER])
    if os.environ.get(WITHOUT_SLIM) == "1":
        from adapters import moto_slim

        moto_slim.install = lambda: None
    tracemalloc.start(FRAMES)
    readings = iter(range(1, 1_000))

    def read(*_: Any) -> None:
        number = next(readings)
        try:
            report(number)
        except Exception as error:  # the parent shows it; the embedded AWS serves on
            (folder / f"{number}.error").write_text(repr(error))

    def report(number: int) -> None:
        # werkzeug compiles two patterns for each form upload, with the form's boundary in them, and
        # Python's re module keeps the last 512 it compiled: a megabyte that does not grow with the
        # documents stored, but would pass for it between two readings.
        re.purge()
        gc.collect()
        snapshot = tracemalloc.take_snapshot()
        snapshot.dump(str(folder / f"{number}.snapshot"))
        del snapshot
        gc.collect()
        (folder / f"{number}.json").write_text(json.dumps(census()))
        (folder / f"{number}.done").touch()

    signal.signal(signal.SIGUSR1, read)
    return aws_process.main(sys.argv[1:])


def _round_trip(value: Any, *, keys: bool = False) -> int:
    """The bytes ``value`` holds, as the traced size of a copy of it made by pickling (``keys``:
    a dict of S3 key versions, whose copies are marked disposed: their files are the live keys')."""
    pickled = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    copy = pickle.loads(pickled)
    size = tracemalloc.get_traced_memory()[0] - before
    if keys:
        for versions in copy.values():
            for key in versions:
                key.disposed = True
    del copy
    return size


def census() -> dict[str, Any]:
    """What each container holds, and moto's model objects alive, by class."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends
    from moto.sqs.models import sqs_backends

    containers: dict[str, dict[str, int]] = {}
    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            for table in list(backend.tables.values()):
                items = table.items
                count = sum(len(bucket) for bucket in items.values()) if table.range_key_attr else len(items)
                name = f"dynamodb {table.name.split('-', 1)[-1]}"
                containers[name] = {"count": count, "bytes": _round_trip(dict(items))}
    for partitions in list(s3_backends.values()):
        for store in list(partitions.values()):
            for bucket in list(store.buckets.values()):
                keys = {name: list(dict.__getitem__(bucket.keys, name)) for name in list(dict.keys(bucket.keys))}
                containers[f"s3 {bucket.name}"] = {
                    "count": sum(len(versions) for versions in keys.values()),
                    "bytes": _round_trip(keys, keys=True),
                }
    for accounts in list(sqs_backends.values()):
        for sqs in list(accounts.values()):
            for queue in list(sqs.queues.values()):
                name = queue.name.split("-", 1)[-1]
                containers[f"sqs {name}"] = {"count": len(queue._messages), "bytes": _round_trip(queue._messages)}
                handles = queue.deleted_messages  # moto's set, or adapters.moto_slim's digests
                containers[f"sqs {name}, deleted receipt handles"] = {
                    "count": len(handles),
                    "bytes": _round_trip(handles),
                }
    alive: Counter[str] = Counter()
    for obj in gc.get_objects():
        module = type(obj).__module__
        if module.startswith(("moto.", "adapters.")):
            alive[f"{module}.{type(obj).__qualname__}"] += 1
    return {"containers": containers, "alive": dict(alive), "traced": tracemalloc.get_traced_memory()[0]}


# -- the parent: the load ------------------------------------------------------------------------


class TracedAws(EmbeddedAws):
    """The embedded AWS as :func:`child` runs it; :meth:`read` reads its memory."""

    module = "bench.moto_memory"

    def __init__(self, data_dir: Path, reports: Path) -> None:
        super().__init__(data_dir)
        self.reports = reports
        self.readings = 0

    def read(self, timeout: float = 600) -> Reading:
        assert self.pid is not None
        self.readings += 1
        done = self.reports / f"{self.readings}.done"
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while not done.exists():
            failed = self.reports / f"{self.readings}.error"
            if failed.exists():
                raise RuntimeError(f"the traced embedded AWS could not read its memory: {failed.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError("the traced embedded AWS did not read its memory")
            time.sleep(0.2)
        snapshot = tracemalloc.Snapshot.load(str(self.reports / f"{self.readings}.snapshot"))
        found = json.loads((self.reports / f"{self.readings}.json").read_text())
        return Reading(snapshot, found["containers"], Counter(found["alive"]), found["traced"])


@dataclass
class Reading:
    snapshot: tracemalloc.Snapshot
    containers: dict[str, dict[str, int]]
    alive: Counter[str]
    traced: int


@dataclass
class Side:
    label: str
    warm: int
    documents: int
    before: Reading
    after: Reading
    seconds: float
    lines: list[tuple[str, int, int]] = field(default_factory=list)


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


@contextlib.contextmanager
def traced_stack(folder: Path, *, without_slim: bool) -> Iterator[tuple[TracedAws, str]]:
    """The traced embedded AWS and the app's uvicorn process on it: (the AWS, the app's URL)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION)
    reports = folder / "reports"
    reports.mkdir()
    os.environ[REPORT_FOLDER] = str(reports)
    os.environ[WITHOUT_SLIM] = "1" if without_slim else "0"
    aws = TracedAws(folder / "moto", reports)
    endpoint = aws.start()
    try:
        settings = Settings(
            aws_mode="endpoint",
            aws_endpoint_url=endpoint,
            table_prefix="bench",
            data_dir=folder / "data",
            sweep_interval_seconds=0,
            auth_attempts_per_ip=1_000_000,
            auth_attempts_per_email=1_000_000,
            upload_form_seconds=FORM_SECONDS,
            sweep_grace_seconds=0,
            run_workers=True,
            extraction_processes=1,
        )
        target = AwsTarget.from_settings(settings)
        tables.configure(target, settings.table_prefix)
        provision(settings, target)
        with ServedApp(create_app, settings) as app:
            yield aws, app.url
    finally:
        aws.stop()


class Load:
    """People storing documents through the API, one at a time each, ``CONCURRENCY`` at once."""

    def __init__(self, url: str, files: list[File]) -> None:
        self.url = url
        self.files = files
        self.tokens: list[str] = []
        self.stored = 0
        self._local = threading.local()

    def http(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(base_url=self.url, timeout=120)
        return client

    def sign_up(self, accounts: int) -> None:
        for number in range(accounts):
            email = f"bench-memory-{number}-{time.time_ns()}@example.com"
            payload = graphql(self.http(), "SignUp", {"input": {"email": email, "password": PASSWORD}})["signUp"]
            self.tokens.append(str(payload["token"]))

    def store(self, count: int) -> None:
        start = self.stored
        self.stored += count
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(self.document, range(start, start + count)))

    def document(self, number: int) -> None:
        """One document: uploaded, processed to READY, renamed."""
        token = self.tokens[number % len(self.tokens)]
        file = self.files[number % len(self.files)]
        name = f"{file.stem}-{number}.{file.extension}"
        request = {"filename": name, "contentType": file.content_type, "size": len(file.data), "tags": ["bench"]}
        form = graphql(self.http(), "RequestUpload", {"input": request}, token)["requestUpload"]
        fields = {item["name"]: item["value"] for item in form["fields"]}
        posted = httpx.post(form["url"], data=fields, files={"file": (name, file.data, file.content_type)}, timeout=60)
        if posted.status_code not in (201, 204, 303):
            raise RuntimeError(f"S3 refused the form: {posted.status_code} {posted.text[:300]}")
        document_id = form["documentId"]
        graphql(self.http(), "CompleteUpload", {"input": {"documentId": document_id}}, token)
        deadline = time.monotonic() + 180
        while True:
            status = graphql(self.http(), "Document", {"id": document_id}, token)["document"]["status"]
            if status == "READY":
                break
            if status != "PROCESSING" or time.monotonic() > deadline:
                raise RuntimeError(f"document {number} is {status}")
            time.sleep(0.2)
        renamed = {"input": {"id": document_id, "name": f"{file.stem}-{number}-renamed.{file.extension}"}}
        graphql(self.http(), "UpdateDocument", renamed, token)


def quiet(target: AwsTarget, prefix: str, *, timeout: float = 300) -> None:
    """Until every queue and the outbox are empty, and stay so for a few seconds: what the
    documents set off (their delayed ``upload.started`` messages included) has been handled."""
    sqs = target.client("sqs")
    dynamodb = target.client("dynamodb")
    deadline = time.monotonic() + timeout
    empty_since: float | None = None
    while True:
        waiting = 0
        for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
            names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            names.append("ApproximateNumberOfMessagesDelayed")
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            waiting += sum(int(value) for value in attributes.values())
        waiting += dynamodb.scan(TableName=f"{prefix}-outbox", Select="COUNT")["Count"]
        now = time.monotonic()
        if waiting:
            empty_since = None
        elif empty_since is None:
            empty_since = now
        elif now - empty_since >= 5:
            return
        if now > deadline:
            raise RuntimeError(f"{waiting} messages still waiting after {timeout:.0f} s")
        time.sleep(1)


def measure(label: str, *, without_slim: bool, warm: int, documents: int, files: list[File]) -> Side:
    with (
        tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp,
        traced_stack(Path(tmp), without_slim=without_slim) as (aws, url),
    ):
        target = AwsTarget.from_settings(Settings(aws_mode="endpoint", aws_endpoint_url=aws.endpoint_url))
        load = Load(url, files)
        load.sign_up(ACCOUNTS)
        load.store(warm)
        quiet(target, "bench")
        before = aws.read()
        progress(f"{label}: {warm} documents stored, memory read; storing {documents} more")
        started = time.monotonic()
        load.store(documents)
        seconds = time.monotonic() - started
        quiet(target, "bench")
        after = aws.read()
    side = Side(label, warm, documents, before, after, seconds)
    side.lines = by_line(before.snapshot, after.snapshot)
    return side


# -- what the readings say -------------------------------------------------------------------------

_OURS = ("/moto/", "/adapters/", "/bench/")  # the bench: what its own readings keep


def _where(frame: tracemalloc.Frame) -> str | None:
    name = frame.filename
    for part in _OURS:
        at = name.rfind(part)
        if at >= 0:
            return f"{name[at + 1 :]}:{frame.lineno}"
    return None


def by_line(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> list[tuple[str, int, int]]:
    """(line, bytes, blocks) of the growth, by the innermost frame of moto or of DocStore's code."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<unknown>")]
    before, after = before.filter_traces(ignore), after.filter_traces(ignore)
    grown: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for diff in after.compare_to(before, "traceback"):
        # tracemalloc lists a traceback's frames from the oldest to the most recent.
        frames = list(reversed(diff.traceback))
        where = next((found for frame in frames if (found := _where(frame))), None)
        if where is None:
            where = f"{frames[0].filename.rsplit('/', 1)[-1]}:{frames[0].lineno} (no moto frame)"
        grown[where][0] += diff.size_diff
        grown[where][1] += diff.count_diff
    return sorted(((where, size, count) for where, (size, count) in grown.items()), key=lambda row: -row[1])


def run(*, quick: bool, command: str) -> str:
    started = datetime.now(UTC)
    warm, documents = (QUICK_WARM, QUICK_DOCUMENTS) if quick else (WARM, DOCUMENTS)
    files = make_files(max(1, (warm + documents) // 3 + 1))
    sides = []
    for label, without_slim in SIDES:
        sides.append(measure(label, without_slim=without_slim, warm=warm, documents=documents, files=files))
        side = sides[-1]
        per = (side.after.traced - side.before.traced) / documents
        progress(f"{label}: {per / 1024:.1f} KiB traced per document")
    return section(sides, started=started, command=command)


def _kib(size: float) -> str:
    return f"{size / 1024:,.2f}"


def _per_document(side: Side, name: str) -> tuple[float, float, float]:
    """(records, bytes, bytes a record) a container grew by per document; bytes a record as held at the end."""
    now = side.after.containers.get(name, {"count": 0, "bytes": 0})
    then = side.before.containers.get(name, {"count": 0, "bytes": 0})
    per_record = now["bytes"] / now["count"] if now["count"] else 0.0
    return (now["count"] - then["count"]) / side.documents, (now["bytes"] - then["bytes"]) / side.documents, per_record


def section(sides: list[Side], *, started: datetime, command: str) -> str:
    documents, warm = sides[0].documents, sides[0].warm
    head = " | ".join(side.label for side in sides)
    rule = "|".join("---:" for _ in sides)
    rows = []
    totals = [0.0 for _ in sides]
    for name in sorted({name for side in sides for name in side.after.containers}):
        grown = [_per_document(side, name) for side in sides]
        for number, (_, size, _) in enumerate(grown):
            totals[number] += size
        if any(abs(count) >= 0.005 or abs(size) >= 5 for count, size, _ in grown):
            cells = " | ".join(f"{count:.2f} × {record:,.0f} B = {_kib(size)}" for count, size, record in grown)
            rows.append(f"| {name} | {cells} |")
    traced = [(side.after.traced - side.before.traced) / documents for side in sides]
    rows.append(f"| **the records above** | {' | '.join(_kib(total) for total in totals)} |")
    other = " | ".join(_kib(t - total) for t, total in zip(traced, totals, strict=True))
    rows.append(f"| everything else | {other} |")
    rows.append(f"| **all the process holds more, by tracemalloc** | {' | '.join(_kib(t) for t in traced)} |")
    alive = []
    for name in sorted({name for side in sides for name in side.after.alive if name.startswith("moto.")}):
        grown_alive = [(side.after.alive[name] - side.before.alive.get(name, 0)) / documents for side in sides]
        if any(abs(count) >= 0.005 for count in grown_alive):
            alive.append(f"| `{name}` | {' | '.join(f'{count:.2f}' for count in grown_alive)} |")
    lines = []
    for side in sides:
        lines += [
            "",
            f"{side.label}: the lines of moto and DocStore whose allocations grew most (per document)",
            "",
            "| line | KiB | blocks |",
            "|---|---:|---:|",
            *(
                f"| `{where}` | {_kib(size / documents)} | {count / documents:.1f} |"
                for where, size, count in side.lines[:10]
            ),
        ]
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("moto", "boto3"))
    ratio = traced[0] / traced[1] if traced[1] else float("nan")
    return f"""## What the embedded AWS keeps in memory per document stored

Run {started:%Y-%m-%d %H:%M} UTC: `{command}` (bytes counted by tracemalloc: the same on any
machine, give or take what is freed when); Python {platform.python_version()}, {versions}.

**{_kib(traced[0])} KiB per document with DocStore's patches, {_kib(traced[1])} KiB without
`adapters/moto_slim.py` ({ratio:.2f}).** {ACCOUNTS} people store {warm} documents, then
{documents} more (a text file, a one-page PDF and a PNG in turn; each uploaded through its form,
completed, processed to READY and renamed once, {CONCURRENCY} at once), on the embedded AWS as
`docstore serve` runs it but under tracemalloc ({FRAMES} frames), with the app's uvicorn process
and its workers beside it. Memory is read once the flow is quiet (every queue and the outbox
empty), after the first {warm} and after the {documents} more; a figure is the growth between
the two readings divided by {documents}. A container's bytes are those of a pickled round trip of
its records (what they hold, attribute dictionaries included, since every record has been pickled
once by the state file's capture); "everything else" is what else the process holds more: caches
that still fill (update expressions parsed, the interned strings' table), the S3 listing index.
Python's regular-expression cache is emptied before each reading (werkzeug compiles two patterns
for each form upload; the cache keeps 512, about a megabyte, whatever is stored).

| container: records per document × bytes a record = KiB per document | {head} |
|---|{rule}|
{chr(10).join(rows)}

Model objects of moto alive more, per document (an `Item` for each item stored, and no more: nothing
deleted or copied is kept):

| class | {head} |
|---|{rule}|
{chr(10).join(alive)}
{chr(10).join(lines)}
"""


if __name__ == "__main__":
    raise SystemExit(child())
