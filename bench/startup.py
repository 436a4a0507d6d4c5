"""Start-up with 50,000 documents stored (issue 9, item 1: at most 5 s), against a data folder that
holds no documents, measured in the same run.

Two data folders are filled the way DocStore's own data looks: the tables, bucket and queues that
``docstore serve`` provisions, 100 accounts (half on PREMIUM) each with a session, and in one of the
folders 50,000 READY document records spread over those accounts, each with its original object and,
for PREMIUM owners, its extracted text object, plus the accounts' usage and the dashboard counters.
Then, alternating between the folders (ABBA, after one warm-up of each), two things are timed:

- the embedded AWS alone: ``EmbeddedAws(folder).start()`` until its endpoint answers, as the
  parent sees it, and the load + start time the child reports (``ready["seconds"]``);
- the whole ``docstore serve`` as a user starts it, until ``/healthz`` answers 200 and then until
  a ``me`` query for one of the accounts answers with its document count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from argon2 import PasswordHasher
from tqdm import tqdm
from ulid import ULID

from adapters.aws import AwsTarget
from adapters.local_aws import ENDPOINT_FILE, EmbeddedAws
from domain.documents import DocumentStatus
from domain.plans import Plan
from models import accounts, counters, documents, keys, sessions, tables
from models.accounts import Account
from models.counters import Counter
from runtime.services import provision
from settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

NAME = "startup"
ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "gql" / "operations"
DOCUMENTS = 50_000
QUICK_DOCUMENTS = 1_000
#: The nonce of every stored original (models.keys): one copy each, made here, not by completion.
BENCH_NONCE = "startup"
ACCOUNTS = 100
QUICK_ACCOUNTS = 10
#: Timed rounds of each folder after the warm-up (ABBA order).
ROUNDS = 4
QUICK_ROUNDS = 1
GOAL_SECONDS = 5.0
#: Concurrent S3 puts while filling: S3 requests run concurrently in the embedded AWS.
OBJECT_THREADS = 8
PASSWORD = "bench horse battery staple"
CONTENT_TYPES = ("text/plain", "text/markdown", "text/csv")
#: Documents on the page the ``documents`` query asks for (Documents.graphql's default).
PAGE = 20
FOLDERS = ("documents", "empty")


def run(*, quick: bool, command: str, keep: Path | None = None) -> str:
    """Fill both folders, time both start-ups alternately; the markdown section.

    With ``keep``, the folders are filled under that directory and kept there; a later run with
    the same ``keep`` (and ``quick``) reuses them instead of filling again (about eight minutes).
    """
    started = datetime.now(UTC)
    count = QUICK_DOCUMENTS if quick else DOCUMENTS
    owners = QUICK_ACCOUNTS if quick else ACCOUNTS
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)  # only the embedded AWS is ever reached, never with real credentials
    with contextlib.ExitStack() as stack:
        if keep is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="docstore-bench-")))
        else:
            root = keep.resolve()
            root.mkdir(parents=True, exist_ok=True)
        filled = {
            "documents": fill_or_reuse(root / "documents", documents=count, owners=owners),
            "empty": fill_or_reuse(root / "empty", documents=0, owners=owners),
        }
        sizes = {name: folder_sizes(item.folder) for name, item in filled.items()}
        samples = {name: Samples() for name in FOLDERS}
        rounds = QUICK_ROUNDS if quick else ROUNDS
        for number, (name, counted) in enumerate([*((name, False) for name in FOLDERS), *abba(rounds)]):
            item = filled[name]
            aws = aws_start(item.folder)
            served = serve_start(item.folder, item.tokens[0], item.first_count, root / f"serve-{number}.log")
            if counted:
                samples[name].add(aws, served)
            progress(
                f"{'' if counted else 'warm-up, '}{name}: embedded AWS {aws['answered']:.2f} s "
                f"(child {aws['child']:.2f} s, {aws['rss_mb']:.0f} MB), docstore serve /healthz "
                f"{served['healthz']:.2f} s, me {served['me']:.2f} s"
            )
    return section(filled, sizes, samples, started=started, command=command)


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


def abba(rounds: int) -> Iterator[tuple[str, bool]]:
    for number in range(rounds):
        for name in FOLDERS if number % 2 == 0 else tuple(reversed(FOLDERS)):
            yield name, True


# -- filling a data folder -------------------------------------------------------------------------


@dataclass
class Filled:
    """A data folder as ``docstore serve`` leaves it, and what filling it took."""

    folder: Path
    documents: int
    owners: int
    objects: int
    #: A session token of each account, in account order.
    tokens: list[str]
    #: The document count of the first account, which the ``me`` query checks.
    first_count: int
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Owner:
    id: str
    plan: Plan
    token: str


#: Written in a filled folder, so that ``--keep`` can reuse it.
FILLED_FILE = "startup-bench.json"


def fill_or_reuse(folder: Path, *, documents: int, owners: int) -> Filled:
    """``folder`` as an earlier run filled it (same documents and owners), or filled now."""
    record = folder / FILLED_FILE
    if record.exists():
        kept = Filled(folder=folder, **json.loads(record.read_text()))
        if (kept.documents, kept.owners) == (documents, owners):
            progress(f"reusing {folder} ({documents:,} documents of {owners} accounts)")
            return kept
        raise RuntimeError(f"{folder} holds {kept.documents:,} documents of {kept.owners} accounts, not {documents:,}")
    if folder.exists() and any(folder.iterdir()):
        raise RuntimeError(f"{folder} is not empty and was not filled by this benchmark")
    filled = fill(folder, documents=documents, owners=owners)
    fields = {name: value for name, value in dataclasses.asdict(filled).items() if name != "folder"}
    record.write_text(json.dumps(fields))
    return filled


def fill(folder: Path, *, documents: int, owners: int) -> Filled:
    """Provision ``folder`` as ``docstore serve`` does and store ``documents`` READY documents of
    ``owners`` accounts in it, through the embedded AWS (batch writes, concurrent S3 puts)."""
    progress(f"filling {folder.name}: {documents:,} documents of {owners} accounts")
    aws = EmbeddedAws(folder)
    endpoint = aws.start()
    seconds: dict[str, float] = {}
    try:
        settings = Settings(data_dir=folder)  # the defaults `docstore serve` runs with
        target = AwsTarget.from_settings(settings, endpoint)
        tables.configure(target, settings.table_prefix)
        clock = time.perf_counter()
        provision(settings, target)
        people = make_owners(settings, owners)
        seconds["provision and accounts"] = time.perf_counter() - clock
        clock = time.perf_counter()
        stored = store_records(people, documents)
        seconds["document records"] = time.perf_counter() - clock
        clock = time.perf_counter()
        objects = store_objects(target, settings.bucket, stored)
        seconds["objects"] = time.perf_counter() - clock
        clock = time.perf_counter()
        store_usage(people, stored)
        seconds["usage and counters"] = time.perf_counter() - clock
    finally:
        aws.stop()
    first = sum(1 for item in stored if item.owner.id == people[0].id)
    progress(
        f"filled {folder.name} in {sum(seconds.values()):.0f} s: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
    )
    return Filled(folder, documents, owners, objects, [person.token for person in people], first, seconds)


def make_owners(settings: Settings, count: int) -> list[Owner]:
    """``count`` accounts, every other one PREMIUM, each with a session; one password hash for all
    (argon2 is slow by design, and what it costs is not what this measures)."""
    hashed = PasswordHasher().hash(PASSWORD)
    people = []
    for number in range(count):
        plan = Plan.PREMIUM if number % 2 else Plan.FREE
        account = accounts.create(
            email=f"startup-{number}@example.com", password_hash=hashed, plan=plan, home_region=settings.region
        )
        token, _ = sessions.create(account.id, settings.session_seconds, region=settings.region)
        people.append(Owner(account.id, plan, token))
    return people


@dataclass(frozen=True)
class Stored:
    owner: Owner
    document_id: str
    content_type: str
    size: int


def content(number: int, size: int) -> bytes:
    """A small text file of ``size`` bytes (a few hundred to a few thousand), different for each document."""
    line = f"Document {number}: quarterly figures, minutes and notes of the startup benchmark.\n".encode()
    return (line * (size // len(line) + 1))[:size]


def store_records(people: list[Owner], count: int) -> list[Stored]:
    """``count`` READY document records, as the pipeline leaves them, with PynamoDB's batch writes."""
    now = datetime.now(UTC) - timedelta(days=1)
    stored = []
    with documents.Document.batch_write() as batch, tqdm(total=count, desc="document records", unit=" docs") as bar:
        for number in range(count):
            owner = people[number % len(people)]
            document_id = str(ULID.from_datetime(now + timedelta(milliseconds=number)))
            content_type = CONTENT_TYPES[number % len(CONTENT_TYPES)]
            size = 300 + (number * 7919) % 3700
            name = f"notes {number}.{content_type.rsplit('/', 1)[1].replace('plain', 'txt')}"
            premium = owner.plan is Plan.PREMIUM
            batch.save(
                documents.Document(
                    owner_id=owner.id,
                    document_id=document_id,
                    name=name,
                    name_folded=documents.fold(name),
                    name_key=documents.name_key(name, document_id),
                    content_type=content_type,
                    size=size,
                    declared_size=size,
                    checksum="0" * 64,
                    tags=["startup", f"n{number % 7}"],
                    description="A stored document of the startup benchmark.",
                    status=DocumentStatus.READY,
                    object_key=keys.original(owner.id, document_id, BENCH_NONCE),
                    created_at=now,
                    updated_at=now,
                    updated_key=documents.updated_key(now, document_id),
                    upload_expires_at=now,
                    counted_plan=owner.plan,
                    counted_type=content_type,
                    text_key=keys.text(owner.id, document_id) if premium else None,
                    pages=1,
                )
            )
            stored.append(Stored(owner, document_id, content_type, size))
            bar.update()
    return stored


def store_objects(target: AwsTarget, bucket: str, stored: list[Stored]) -> int:
    """Each document's original object and, for PREMIUM owners, its extracted text; how many objects."""
    client = target.client("s3")
    puts: list[tuple[str, bytes, str]] = []
    for number, item in enumerate(stored):
        body = content(number, item.size)
        puts.append((keys.original(item.owner.id, item.document_id, BENCH_NONCE), body, item.content_type))
        if item.owner.plan is Plan.PREMIUM:
            puts.append((keys.text(item.owner.id, item.document_id), body, "text/plain; charset=utf-8"))

    def put(entry: tuple[str, bytes, str]) -> None:
        key, body, content_type = entry
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    with ThreadPoolExecutor(OBJECT_THREADS) as pool, tqdm(total=len(puts), desc="objects", unit=" objects") as bar:
        for _ in pool.map(put, puts):
            bar.update()
    return len(puts)


def store_usage(people: list[Owner], stored: list[Stored]) -> None:
    """Each account's usage and counted totals, and the dashboard counters, as the pipeline keeps them."""
    usage: dict[str, list[int]] = {person.id: [0, 0] for person in people}
    totals: dict[str, list[int]] = {}
    for item in stored:
        usage[item.owner.id][0] += 1
        usage[item.owner.id][1] += item.size
        for name in counters.scopes(item.owner.plan, item.content_type):
            total = totals.setdefault(name, [0, 0, 0])
            total[0] += 1
            total[1] += item.size
    for person in people:
        count, size = usage[person.id]
        Account(id=person.id).update(
            actions=[
                Account.used_bytes.set(size),
                Account.allocated_bytes.set(size),
                Account.document_count.set(count),
                Account.counted_plan.set(person.plan),
                Account.counted_documents.set(count),
                Account.counted_bytes.set(size),
            ]
        )
        for name in (counters.ALL, counters.plan_name(person.plan)):
            totals.setdefault(name, [0, 0, 0])[2] += 1
    for name, (count, size, owners) in totals.items():
        Counter(name=name, documents=count, bytes=size, accounts=owners, changes=1).save()


def folder_sizes(folder: Path) -> dict[str, float]:
    """The state file (with its WAL) and the blob folder: bytes on disk and files."""
    state = sum(path.stat().st_size for path in (folder / "aws").glob("state.sqlite3*"))
    blobs = [entry for entry in (folder / "aws" / "blobs").rglob("*") if entry.is_file()]
    return {
        "state_bytes": state,
        "blob_bytes": sum(path.stat().st_size for path in blobs),
        "blob_disk_bytes": sum(path.stat().st_blocks * 512 for path in blobs),
        "blob_files": len(blobs),
    }


# -- timing start-ups ------------------------------------------------------------------------------


def resident_mb(pid: int) -> float:
    """VmRSS of ``pid`` in MB (Linux ``/proc``; NaN elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def aws_start(folder: Path) -> dict[str, Any]:
    """The embedded AWS on ``folder``: seconds until ``start()`` returns and until its endpoint
    answers a request (parent's wall clock), the child's own load + start seconds, its memory."""
    aws = EmbeddedAws(folder)
    started = time.perf_counter()
    endpoint = aws.start()
    returned = time.perf_counter() - started
    try:
        wait_until(lambda: httpx.get(endpoint, timeout=5).status_code < 600, lambda: aws.exit_code is None)
        answered = time.perf_counter() - started
        assert aws.pid is not None
        return {
            "returned": returned,
            "answered": answered,
            "child": float(aws.ready["seconds"]),
            "loaded": dict(aws.ready.get("loaded", {})),
            "rss_mb": resident_mb(aws.pid),
        }
    finally:
        aws.stop()


def wait_until(answered: Callable[[], bool], alive: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if answered():
                return
        except httpx.TransportError:
            pass
        if not alive():
            raise RuntimeError("the process being timed exited while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer within {timeout} s")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_start(folder: Path, token: str, documents_expected: int, log: Path) -> dict[str, float]:
    """``docstore serve`` on ``folder``, as a user starts it: seconds until ``/healthz`` answers
    200, then until ``me`` answers for ``token``'s account (checked against its document count);
    the resident memory of the server and of its embedded AWS."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOCSTORE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    me = (OPERATIONS / "accounts" / "Me.graphql").read_text()
    listing = (OPERATIONS / "documents" / "Documents.graphql").read_text()
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--data-dir", str(folder), "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                alive = lambda: process.poll() is None  # noqa: E731
                wait_until(lambda: http.get("/healthz").status_code == 200, alive)
                healthz = time.perf_counter() - started
                answer = http.post("/graphql", json={"query": me}, headers={"Authorization": f"Bearer {token}"})
                took = time.perf_counter() - started
                listed = http.post("/graphql", json={"query": listing}, headers={"Authorization": f"Bearer {token}"})
                listed_after = time.perf_counter() - started
            body = answer.json()
            count = ((body.get("data") or {}).get("me") or {}).get("usage", {}).get("documentCount")
            if count != documents_expected:
                raise RuntimeError(f"me answered {body}, not {documents_expected} documents (log: {log})")
            page = ((listed.json().get("data") or {}).get("documents") or {}).get("edges")
            if page is None or len(page) != min(PAGE, documents_expected):
                raise RuntimeError(
                    f"documents answered {listed.json()}, not {min(PAGE, documents_expected)} (log: {log})"
                )
            aws_pid = json.loads((folder / ENDPOINT_FILE).read_text())["pid"]
            return {
                "healthz": healthz,
                "me": took,
                "documents": listed_after,
                "serve_rss_mb": resident_mb(process.pid),
                "aws_rss_mb": resident_mb(aws_pid),
            }
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop, the embedded AWS with it
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Samples:
    """Timed start-ups of one folder."""

    aws: list[dict[str, Any]] = field(default_factory=list)
    served: list[dict[str, float]] = field(default_factory=list)

    def add(self, aws: dict[str, Any], served: dict[str, float]) -> None:
        self.aws.append(aws)
        self.served.append(served)

    def p50(self, figure: str) -> float:
        where = self.aws if figure in ("returned", "answered", "child", "rss_mb") else self.served
        return statistics.median([sample[figure] for sample in where])

    def spread(self, figure: str) -> str:
        where = self.aws if figure in ("returned", "answered", "child", "rss_mb") else self.served
        values = [sample[figure] for sample in where]
        return f"{min(values):.2f}–{max(values):.2f}"


# -- the report ------------------------------------------------------------------------------------

FIGURES = (
    ("answered", "embedded AWS alone: `start()` until its endpoint answers (parent's clock)"),
    ("child", 'embedded AWS alone: load + start inside the child (`ready["seconds"]`)'),
    ("healthz", "`docstore serve` until `/healthz` answers 200"),
    ("me", "`docstore serve` until `me` answers (the user's figure)"),
    ("documents", "`docstore serve` until the first page of `documents` answers, after `me`"),
)


def section(
    filled: dict[str, Filled],
    sizes: dict[str, dict[str, float]],
    samples: dict[str, Samples],
    *,
    started: datetime,
    command: str,
) -> str:
    full = filled["documents"]
    many, none = samples["documents"], samples["empty"]
    versions = ", ".join(f"{package} {metadata.version(package)}" for package in ("moto", "boto3", "pynamodb"))
    rows = [
        f"| {label} | {none.p50(figure):.2f} | {many.p50(figure):.2f} ({many.spread(figure)}) "
        f"| **{many.p50(figure) / none.p50(figure):.2f}** |"
        for figure, label in FIGURES
    ]
    goal = many.p50("me")
    verdict = "met" if goal <= GOAL_SECONDS else "NOT met"
    loaded = many.aws[0]["loaded"] if many.aws else {}
    mib = 1024 * 1024
    fill_lines = ", ".join(f"{name} {value:.0f} s" for name, value in full.seconds.items())
    made_by = " (part of `make bench`)" if command == "python -m bench" else ""
    return "\n".join(
        [
            f"## Start-up with {full.documents:,} documents stored",
            "",
            f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`{made_by}, on {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; {versions}.",
            "",
            f"Two data folders, filled through the embedded AWS the way DocStore's data looks: the tables, "
            f"bucket and queues `docstore serve` provisions, {full.owners} accounts (every other one PREMIUM) "
            f"each with a session, and in one of them {full.documents:,} READY document records spread evenly "
            f"over those accounts, each with its original object (300 B to 4 KB) and, for PREMIUM owners, its "
            f"extracted text object ({full.objects:,} objects), the accounts' usage and the dashboard counters. "
            f"The other folder (the baseline) holds the same provisioning and accounts, no documents. Filling "
            f"took {sum(full.seconds.values()):.0f} s ({fill_lines}). The search index is left empty in both.",
            "",
            f"After one warm-up start of each, the folders alternate (ABBA), {len(many.served)} timed starts "
            "each. First the embedded AWS alone (`EmbeddedAws(folder).start()` and one request), then the whole "
            "`docstore serve --data-dir FOLDER` as a command (a new Python process: imports, the embedded AWS, "
            "provisioning checks, search index, workers, uvicorn) until `/healthz` answers 200, then until a "
            "`me` query of one of the accounts answers with its document count, then until its first page "
            f"of `documents` ({PAGE}) answers. Seconds, p50 (and range):",
            "",
            f"| start-up | no documents | {full.documents:,} documents | ratio |",
            "| --- | ---: | ---: | ---: |",
            *rows,
            "",
            f"Goal (issue 9): start-up with {full.documents:,} documents stored ≤ {GOAL_SECONDS:.0f} s: "
            f"**{verdict}** ({goal:.2f} s until `me` answers; {none.p50('me'):.2f} s with no documents).",
            "",
            f"What the child had loaded when it answered: {loaded}. The items and object keys load "
            "after that, while it serves (`adapters/moto_loading.py`); a request waits for the tables or "
            "the bucket it reads, so `documents` waits for the documents table.",
            "",
            "| data folder | state file (SQLite + WAL) | blob files | blob bytes (on disk) | embedded AWS RSS "
            "| `docstore serve` RSS |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *[
                f"| {name} | {sizes[name]['state_bytes'] / mib:.1f} MiB | {sizes[name]['blob_files']:,.0f} "
                f"| {sizes[name]['blob_bytes'] / mib:.1f} MiB ({sizes[name]['blob_disk_bytes'] / mib:.1f} MiB) "
                f"| {samples[name].p50('rss_mb'):.0f} MB | {samples[name].p50('serve_rss_mb'):.0f} MB |"
                for name in FOLDERS
            ],
            "",
            "Resident memory is VmRSS from `/proc/PID/status` right after start: the embedded AWS alone "
            "(`aws_process`), and the `docstore serve` process (its embedded AWS child not included).",
        ]
    )
