"""What a DynamoDB transaction costs in the embedded AWS as its tables fill up: moto as released,
moto with DocStore's patch (adapters/moto_patches.py), and the embedded AWS as DocStore runs it
(patched, and durable: every write committed to SQLite before it is answered).

Two figures. First moto alone: a 2-item TransactWriteItems (a Put and an Update, as
``requestUpload`` does) through boto3 at 0 to 50,000 items in the table, each size's p50 divided
by the p50 at 0. The patch is a swap of a moto method in the process that runs moto, so the patched
and unpatched sides run on moto's server in this process (toggled sample by sample); the embedded
side is the real embedded AWS process (adapters/aws_process.py), always patched. Then the issue's
figure through the whole stack: ``requestUpload`` + ``completeUpload`` over GraphQL with 50,000
document records in the documents table, divided by the same with none; the goal is at most 1.3.
It runs on two stacks side by side (each an embedded AWS process and a uvicorn process), one empty,
one filled. Every comparison alternates sample by sample (ABBA), so drift on this shared machine
hits all sides alike.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from ulid import ULID
from werkzeug.serving import make_server

from adapters import moto_patches
from adapters.aws import AwsTarget
from adapters.local_aws import EmbeddedAws
from bench.client import graphql, sign_up
from bench.serving import ServedApp
from bench.stack import embedded_aws
from domain.documents import DocumentStatus
from models import documents, keys, tables
from models.accounts import Account
from server import create_app

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

NAME = "transactions"
SIZES = (0, 1_000, 5_000, 20_000, 50_000)
QUICK_SIZES = (0, 500, 2_000)
DOCUMENTS = 50_000
QUICK_DOCUMENTS = 1_000
#: Owners of the filler documents: real accounts, signed up through the API.
FILLER_ACCOUNTS = 10
GOAL = 1.3
BATCH = 25
REGION = "us-west-2"
#: The sides of the moto-alone table: moto in this process with and without the patch, and the
#: embedded AWS process.
MOTO_SIDES = ("patched", "unpatched", "embedded")
#: The sides of the API figure: the stack with no documents, the one with the filler.
API_SIDES = ("empty", "full")
#: moto as released through the API, from the run before the embedded AWS had its own process
#: (docs/BENCHMARKS.md, 2026-12-02, moto in the benchmark's process): p50 with no documents, with
#: 50,000, in seconds. moto in the child process is always patched, and DocStore has no setting to
#: run it unpatched, so this run cannot measure it again.
EARLIER_UNPATCHED_API = (0.4051, 27.0369)
EARLIER_RUN = "2026-12-02"


def run(*, quick: bool, command: str) -> str:
    """Both figures; the markdown section. Leaves the patch in this process as it found it."""
    started = datetime.now(UTC)
    was_installed = moto_patches.installed()
    try:
        with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp:
            moto = moto_alone(Path(tmp) / "moto-alone", QUICK_SIZES if quick else SIZES, quick=quick)
            api = through_api(Path(tmp), QUICK_DOCUMENTS if quick else DOCUMENTS, quick=quick)
    finally:
        (moto_patches.install if was_installed else moto_patches.uninstall)()
    return section(moto, api, started=started, command=command)


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


def alternate(sides: tuple[str, ...], count: int) -> Iterator[str]:
    """``count`` samples of each side, in the order A B C C B A A B C ..."""
    for number in range(count):
        yield from (sides if number % 2 == 0 else tuple(reversed(sides)))


@dataclass
class Level:
    """The samples of each side at one size of the table, in seconds; a failed one is infinite."""

    size: int
    sides: tuple[str, ...]
    samples: dict[str, list[float]] = field(init=False)

    def __post_init__(self) -> None:
        self.samples = {side: [] for side in self.sides}

    def p50(self, side: str) -> float:
        return statistics.median_high(self.samples[side])

    def failed(self, side: str) -> int:
        return sum(1 for value in self.samples[side] if value == math.inf)

    def ms(self, side: str) -> str:
        return f"{1000 * self.p50(side):.1f} ms"


def sample(level: Level, count: int, actions: dict[str, Callable[[], float]]) -> None:
    """One warm-up of each side, then ``count`` samples of each, alternating."""
    for side in level.sides:
        actions[side]()
    for side in alternate(level.sides, count):
        level.samples[side].append(actions[side]())


# -- moto alone ------------------------------------------------------------------------------------


class SerialDynamoDB:
    """WSGI middleware: DynamoDB requests one at a time, as the embedded AWS runs them
    (adapters/aws_process.py's ``Durable``), so moto's threaded server cannot overlap them."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))


class InProcessMoto:
    """moto's server on a thread of this process, where ``moto_patches.install()/uninstall()`` reach
    it. Built like ``moto.server.ThreadedMotoServer``, which takes no WSGI middleware."""

    def __init__(self) -> None:
        app = SerialDynamoDB(DomainDispatcherApplication(create_backend_app))
        # Quiet as in the embedded AWS: a log line per request would be timed on this side only.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="bench-moto", daemon=True)
        host, port = self.server.server_address[:2]
        self.endpoint_url = f"http://{host!s}:{port}"

    def __enter__(self) -> InProcessMoto:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def dynamodb(endpoint_url: str) -> Any:
    target = AwsTarget(REGION, endpoint_url, "bench", "bench", pool_size=4)
    return target.client("dynamodb")


def moto_alone(folder: Path, sizes: tuple[int, ...], *, quick: bool) -> list[Level]:
    """A 2-item transaction (Put one item, Update a counter) at each size of the table, on moto in
    this process (patched and not) and on the embedded AWS process, the same table in each."""
    aws = EmbeddedAws(folder)
    with InProcessMoto() as moto:
        aws.start()
        try:
            progress(
                f"moto in this process at {moto.endpoint_url}, the embedded AWS (pid {aws.pid}) at {aws.endpoint_url}"
            )
            local, embedded = dynamodb(moto.endpoint_url), dynamodb(aws.endpoint_url)
            return moto_levels(local, embedded, sizes, quick=quick)
        finally:
            aws.stop()


def moto_levels(local: Any, embedded: Any, sizes: tuple[int, ...], *, quick: bool) -> list[Level]:
    table = "bench-transactions"
    for client in (local, embedded):
        create_table(client, table)

    def in_process(side: str) -> Callable[[], float]:
        def action() -> float:
            (moto_patches.install if side == "patched" else moto_patches.uninstall)()
            return timed_transaction(local, table)

        return action

    actions = {
        "patched": in_process("patched"),
        "unpatched": in_process("unpatched"),
        "embedded": lambda: timed_transaction(embedded, table),
    }
    levels: list[Level] = []
    filled = 0
    for size in sizes:
        for client in (local, embedded):
            fill_items(client, table, filled, size)
        filled = size
        level = Level(size, MOTO_SIDES)
        sample(level, 3 if quick else (15 if size <= 5_000 else 5), actions)
        levels.append(level)
        progress(f"{size:6} items: p50 " + ", ".join(f"{side} {level.ms(side)}" for side in MOTO_SIDES))
    for client in (local, embedded):
        client.delete_table(TableName=table)
    return levels


def create_table(client: Any, table: str) -> None:
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def fill_items(client: Any, table: str, start: int, stop: int) -> None:
    """Items ``start`` to ``stop`` of the filler, about the size of a document record."""
    for first in range(start, stop, BATCH):
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": f"owner-{number // 1000:03}"},
                        "sk": {"S": f"item-{number:08}"},
                        "name": {"S": f"report {number}.pdf"},
                        "status": {"S": "READY"},
                        "size": {"N": str(1000 + number)},
                        "tags": {"L": [{"S": "bench"}, {"S": f"n{number % 7}"}]},
                        "description": {"S": "A filler item of the transactions benchmark. " * 4},
                    }
                }
            }
            for number in range(first, min(first + BATCH, stop))
        ]
        client.batch_write_item(RequestItems={table: requests})


def timed_transaction(client: Any, table: str) -> float:
    """The table keeps its size: the Put overwrites the same item every time."""
    started = time.perf_counter()
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "txn"}, "sk": {"S": "put"}, "n": {"N": "1"}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": "txn"}, "sk": {"S": "counter"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )
    return time.perf_counter() - started


# -- the whole stack -------------------------------------------------------------------------------


def timed_upload(http: httpx.Client, token: str) -> float:
    """``requestUpload`` + ``completeUpload`` of one small file, in seconds (the S3 POST between
    them is not counted); infinite when either call fails (the server's DynamoDB client gives up
    after 3 attempts of 30 s)."""
    try:
        return _timed_upload(http, token)
    except (RuntimeError, httpx.TimeoutException) as error:
        progress(f"an upload failed: {str(error)[:300]}")
        return math.inf


def _timed_upload(http: httpx.Client, token: str) -> float:
    content = b"transactions benchmark\n"
    upload = {"filename": "bench.txt", "contentType": "text/plain", "size": len(content), "tags": ["bench"]}
    started = time.perf_counter()
    form = graphql(http, "RequestUpload", {"input": upload}, token)["requestUpload"]
    requested = time.perf_counter() - started
    if form["__typename"] != "UploadForm":
        raise RuntimeError(f"upload request failed: {form}")
    fields = {item["name"]: item["value"] for item in form["fields"]}
    posted = httpx.post(form["url"], data=fields, files={"file": ("bench.txt", content)}, timeout=60)
    if posted.status_code not in (201, 303):
        raise RuntimeError(f"S3 POST failed ({posted.status_code}): {posted.text[:500]}")
    started = time.perf_counter()
    done = graphql(http, "CompleteUpload", {"input": {"documentId": form["documentId"]}}, token)["completeUpload"]
    completed = time.perf_counter() - started
    if done["__typename"] != "Document" or done["status"] != "PROCESSING":
        raise RuntimeError(f"completing the upload failed: {done}")
    return requested + completed


@dataclass
class Api:
    """The API samples: ``control`` before the filler (both stacks empty), ``level`` after it."""

    control: Level
    level: Level


def through_api(folder: Path, count: int, *, quick: bool) -> Api:
    """Two stacks side by side, each an embedded AWS process and a uvicorn process of its own (PynamoDB's
    connection settings are per process, so two servers in child processes do not share them)."""
    with ExitStack() as stack:
        empty, _ = stack.enter_context(embedded_aws(folder / "empty", run_workers=False))
        full, full_target = stack.enter_context(embedded_aws(folder / "full", run_workers=False))
        stacks = {"empty": empty, "full": full}
        servers = {side: stack.enter_context(ServedApp(create_app, settings)) for side, settings in stacks.items()}
        for side, server in servers.items():
            progress(f"{side} stack: server pid {server.process.pid} at {server.url}")
        # The filler is written from this process, into the full stack's tables.
        tables.configure(full_target, full.table_prefix)
        return api_levels(servers["empty"].url, servers["full"].url, count, quick=quick)


def api_levels(empty_url: str, full_url: str, count: int, *, quick: bool) -> Api:
    """Uploads on both stacks while both are empty (the control), then again once the full stack holds
    ``count`` documents of other accounts."""
    with httpx.Client(base_url=empty_url, timeout=300) as empty, httpx.Client(base_url=full_url, timeout=300) as full:
        tokens = {"empty": sign_up(empty)[0], "full": sign_up(full)[0]}
        actions: dict[str, Callable[[], float]] = {
            "empty": lambda: timed_upload(empty, tokens["empty"]),
            "full": lambda: timed_upload(full, tokens["full"]),
        }
        control = Level(0, API_SIDES)
        sample(control, 3 if quick else 15, actions)
        progress(f"both stacks empty: p50 {control.ms('empty')} and {control.ms('full')}")
        owners = [sign_up(full) for _ in range(FILLER_ACCOUNTS)]
        fill_documents([owner for _, owner in owners], count)
        check_visible(full, owners[0][0], count // FILLER_ACCOUNTS)
        level = Level(count, API_SIDES)
        sample(level, 3 if quick else 15, actions)
        progress(f"{count} documents in the full stack: p50 empty {level.ms('empty')}, full {level.ms('full')}")
    return Api(control, level)


def fill_documents(owners: list[str], count: int) -> None:
    """``count`` stored (READY) document records, spread evenly over ``owners``, written with
    PynamoDB's batch writes; each owner's usage then says what it stores."""
    now = datetime.now(UTC) - timedelta(days=1)
    each = count // len(owners)
    with documents.Document.batch_write() as batch:
        for number in range(count):
            owner = owners[number % len(owners)]
            document_id = str(ULID.from_datetime(now + timedelta(milliseconds=number)))
            name = f"filler {number}.txt"
            batch.save(
                documents.Document(
                    owner_id=owner,
                    document_id=document_id,
                    name=name,
                    name_folded=documents.fold(name),
                    name_key=documents.name_key(name, document_id),
                    content_type="text/plain",
                    size=1000,
                    declared_size=1000,
                    checksum="0" * 64,
                    tags=["filler"],
                    description="A stored document of the transactions benchmark.",
                    status=DocumentStatus.READY,
                    object_key=keys.original(owner, document_id, "bench"),
                    created_at=now,
                    updated_at=now,
                    updated_key=documents.updated_key(now, document_id),
                    upload_expires_at=now,
                )
            )
            if (number + 1) % 10_000 == 0:
                progress(f"stored {number + 1}/{count} document records")
    for owner in owners:
        Account(id=owner).update(
            actions=[
                Account.used_bytes.set(1000 * each),
                Account.allocated_bytes.set(1000 * each),
                Account.document_count.set(each),
            ]
        )


def check_visible(http: httpx.Client, token: str, expected: int) -> None:
    """The filler documents are ones the API lists: a filler account's ``documents`` and usage."""
    listed = graphql(http, "Documents", {"first": 1}, token)["documents"]
    me = graphql(http, "Me", {}, token)["me"]
    if len(listed["edges"]) != 1 or not listed["pageInfo"]["hasNextPage"]:
        raise RuntimeError(f"the filler documents are not listed: {listed}")
    if me["usage"]["documentCount"] != expected:
        raise RuntimeError(f"a filler account's usage is not its {expected} documents: {me}")
    progress(f"a filler account lists its documents and counts {expected}")


# -- the report ------------------------------------------------------------------------------------


def section(moto: list[Level], api: Api, *, started: datetime, command: str) -> str:
    versions = ", ".join(f"{package} {metadata.version(package)}" for package in ("moto", "boto3", "pynamodb"))
    base = moto[0]
    rows = [
        f"| {level.size:,} | "
        + " | ".join(f"{1000 * level.p50(side):.1f} | {level.p50(side) / base.p50(side):.2f}" for side in MOTO_SIDES)
        + f" | {level.p50('embedded') / level.p50('patched'):.2f} | {len(level.samples['patched'])} |"
        for level in moto
    ]
    control, level = api.control, api.level
    ratio = level.p50("full") / level.p50("empty")
    verdict = "met" if ratio <= GOAL else "NOT met"
    phases = (("both empty (control)", control), (f"{level.size:,} documents in the full one", level))
    api_rows = [
        f"| {name} | {1000 * one.p50('empty'):.1f} | {1000 * one.p50('full'):.1f} "
        f"| **{one.p50('full') / one.p50('empty'):.2f}** | {len(one.samples['empty'])} + {len(one.samples['full'])} "
        f"| {one.failed('empty')} + {one.failed('full')} |"
        for name, one in phases
    ]
    earlier_empty, earlier_full = EARLIER_UNPATCHED_API
    made_by = " (part of `make bench`)" if command == "python -m bench" else ""
    return "\n".join(
        [
            "## Transactions as the tables fill up: moto as released, DocStore's patch, the durable embedded AWS",
            "",
            f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`{made_by}, on {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; {versions}.",
            "",
            "moto's `TransactWriteItems` deep-copies every table a transaction names (once per item naming "
            "it) so that it can roll back; `adapters/moto_patches.py` keeps copies of the touched items "
            "only (docs/MOTO_UPSTREAM.md). DocStore runs moto in the embedded AWS process "
            "(`adapters/aws_process.py`), always patched, which commits each write to SQLite in the data "
            "folder before answering it.",
            "",
            "### moto alone: a 2-item transaction through boto3",
            "",
            "A Put (overwriting one item, so the table keeps its size) and an Update (`ADD n :one`) in one "
            "table filled with items of about a document record's size. Three sides, each with the same "
            "table: *patched* and *unpatched* are moto's server on a thread of the benchmark's process "
            "(DynamoDB requests serialised, as the embedded AWS does), where the patch is installed or "
            "removed before each sample; *embedded* is the embedded AWS process as `docstore serve` starts "
            "it (patched, durable). The sides alternate sample by sample (A B C C B A ...) after a warm-up "
            "of each. Ratio: p50 at that size / p50 at 0. Embedded / patched is what the durable mirror "
            "costs on top of patched moto in memory, less what moto gains in a process of its own (on "
            "the other sides it shares the benchmark's interpreter, and its GIL, with the boto3 client). "
            "The sizes are measured minutes apart while other work shares this machine, so a ratio under 1 "
            "against size 0 is that drift, not a speed-up; the sides compared at one size alternate.",
            "",
            "| items in the table | patched p50 ms | patched ratio | unpatched p50 ms | unpatched ratio "
            "| embedded p50 ms | embedded ratio | embedded / patched | samples a side |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            "### Through the API: `requestUpload` + `completeUpload`",
            "",
            "One account uploads a small file: `requestUpload`, the S3 POST (not counted), `completeUpload`; "
            "the figure is the two GraphQL calls' time. Two stacks run side by side, each with its own "
            "embedded AWS process (patched, durable) and one uvicorn process without workers, so nothing "
            "else writes meanwhile, and each with its own uploading account. First both are empty (the "
            "control: the two stacks should be alike); then the *full* stack gets "
            f"{level.size:,} READY document records of {FILLER_ACCOUNTS} other accounts (signed up through "
            "the API) written into its documents table with batch writes, one of which lists its documents "
            "and counts them through the API before timing; the *empty* stack holds only the records its "
            "own uploads create. In both phases the stacks alternate sample by sample (ABBA) after a "
            "warm-up of each. A failed call counts as infinitely slow (inf); the p50 is the upper median.",
            "",
            "| phase | p50 ms, empty stack | p50 ms, full stack | full / empty | samples | failed |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *api_rows,
            "",
            f"Goal (issue 9): full / empty ≤ {GOAL} on the real configuration: **{verdict}** ({ratio:.2f}; "
            f"the control, both stacks empty: {control.p50('full') / control.p50('empty'):.2f}).",
            "",
            "moto as released is not measured through the API in this run: the embedded AWS process always "
            "installs the patch, and DocStore has no setting to run it without. The earlier run "
            f"({EARLIER_RUN}, when moto ran in the benchmark's process and the patch could be removed there) "
            f"measured it at {1000 * earlier_empty:.0f} ms with no documents and {earlier_full:.1f} s with "
            f"50,000, a ratio of {earlier_full / earlier_empty:.1f}; those figures are that run's, not this one's.",
        ]
    )
