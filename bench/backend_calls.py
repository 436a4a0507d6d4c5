"""How many DynamoDB, S3 and SQS requests each GraphQL operation and each processed document makes.

A count, not a timing: the same flow gives the same figures on any machine. One user goes through
every operation in ``gql/operations/`` that a user makes, in the order a person would (sign up,
sign in, upload, list, search, rename, upgrade, delete, sign out), against the app in this process
with its workers running, as ``docstore serve`` runs them.

Every boto3 and PynamoDB request is counted where botocore sends it: a ``before-send`` handler
added to botocore's built-in handlers before any client exists, so every client of the process
has it (each attempt is one request; a retry counts again). A context variable names the operation
that is running; the request handlers and the blocking threads they start inherit it, while the
workers' tasks, started before any operation, count as background. A document's processing is
the background requests between ``completeUpload`` and the moment it is READY and its quota
event is out, once nothing more is sent for a while; an expired upload form is the background
requests from the moment its form expires (a short-lived form, in a flow of its own) until the same
quiet. Idle long polls of the consumers (a ``ReceiveMessage`` that returned nothing) and idle
passes of the outbox relay (a ``Scan`` that found nothing) depend on time, not on work, and are
left out; the client's own POSTs of the file to S3 do not pass the server and are not counted. An
operation's figure is taken at the end of the flow, so that what it set off after its answer under
its own name (the removal of its outbox messages, ``DOCSTORE_OUTBOX_REMOVE_SECONDS`` later) counts
as its own.

Each side runs the whole flow with a fresh account: the read cache off (``cache_seconds=0``)
and on (600 s, so that no entry runs out during the flow).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import os
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.handlers
import httpx

from adapters.queue import UPLOAD_EVENTS
from bench.stack import embedded_aws
from server import create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from adapters.aws import AwsTarget
    from settings import Settings

NAME = "backend_calls"
OPERATIONS = Path(__file__).resolve().parent.parent / "gql" / "operations"
PASSWORD = "bench horse battery staple"
BACKGROUND = "background"
#: What the background must stay quiet for before a document counts as processed.
QUIET_SECONDS = 3.0
SERVICES = ("dynamodb", "s3", "sqs", "ses")
#: How long the upload forms of the expiry flow last: long enough for a document to be processed
#: (and the background quiet) before its form expires, which the flow checks.
EXPIRY_FORM_SECONDS = 30
#: How long the background must be quiet before an expiry window opens: longer than after a
#: document, so that what deleteDocument set off (a quota check) is over even on a busy machine.
EXPIRY_QUIET_SECONDS = 6.0
#: The expiry flow's rows: label, whether the document is deleted before its form expires.
EXPIRIES = (("upload form expired (document kept)", False), ("upload form expired (document deleted)", True))
#: The sides: label, settings changed.
#: The cache keeps entries 600 s on its side, so that no entry runs out during the flow and the
#: count does not depend on the machine's speed (with the default 5 s, the first request more than
#: 5 s after a read reads again).
SIDES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("cache off", {"cache_seconds": 0}),
    ("cache on", {"cache_seconds": 600}),
)

_operation: contextvars.ContextVar[str] = contextvars.ContextVar("bench_backend_operation", default=BACKGROUND)


class Calls:
    """Requests by (operation, service, AWS operation), from every botocore client of the process."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.idle_polls = 0
        self._lock = threading.Lock()

    def before_send(self, event_name: str, **_: Any) -> None:
        _event, service, operation = event_name.split(".", 2)
        with self._lock:
            self.counts[(_operation.get(), service, operation)] += 1

    def after_receive(self, parsed: dict[str, Any], **_: Any) -> None:
        if not parsed.get("Messages"):
            with self._lock:
                self.counts[(_operation.get(), "sqs", "ReceiveMessage")] -= 1
                self.idle_polls += 1

    def after_scan(self, parsed: dict[str, Any], **_: Any) -> None:
        # The only Scan in the flow is the outbox relay's: idle when the outbox held nothing old.
        if not parsed.get("Items"):
            with self._lock:
                self.counts[(_operation.get(), "dynamodb", "Scan")] -= 1
                self.idle_polls += 1

    def snapshot(self, label: str) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter({(s, o): n for (name, s, o), n in self.counts.items() if name == label and n})


@contextlib.contextmanager
def counting() -> Iterator[Calls]:
    """Count every request of every botocore client created while inside (the tables' connections
    are rebuilt by ``tables.configure``, so the stack's clients are all new)."""
    calls = Calls()
    handlers = [
        ("before-send", calls.before_send),
        ("after-call.sqs.ReceiveMessage", calls.after_receive),
        ("after-call.dynamodb.Scan", calls.after_scan),
    ]
    botocore.handlers.BUILTIN_HANDLERS.extend(handlers)
    try:
        yield calls
    finally:
        for handler in handlers:
            botocore.handlers.BUILTIN_HANDLERS.remove(handler)


def operation(name: str) -> str:
    (path,) = OPERATIONS.glob(f"*/{name}.graphql")
    return path.read_text()


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


Figures = dict[str, Counter[tuple[str, str]]]


def run(*, quick: bool, command: str) -> str:
    """Run the flow on each side; the markdown section with one table of counts."""
    started = datetime.now(UTC)
    results: dict[str, Figures] = {}
    # Each side's expiry flow purges the upload queue: on a fast machine the two purges could come
    # within the minute SQS (and moto, unless told) asks between purges of one queue.
    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"
    with (
        counting() as calls,
        tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp,
        embedded_aws(Path(tmp)) as (settings, target),
    ):
        for label, changes in SIDES:
            side = settings.with_overrides(run_workers=True, queue_wait_seconds=1, extraction_processes=1, **changes)
            results[label] = asyncio.run(flow(side, calls, label))
            results[label].update(asyncio.run(expiry_flow(side, target, calls, label)))
            progress(f"{label}: {sum(sum(c.values()) for c in results[label].values())} requests in all")
    return section(results, started=started, command=command)


class User:
    """One account walking through the operations, each call counted under its operation's name."""

    def __init__(self, http: httpx.AsyncClient, calls: Calls, tag: str) -> None:
        self.http = http
        self.calls = calls
        self.figures: Figures = {}
        #: The counts under each operation's name before it ran (both sides share one count).
        self.before: dict[str, Counter[tuple[str, str]]] = {}
        self.forms: dict[str, dict[str, Any]] = {}
        self.token = ""
        self.email = f"bench-calls-{tag}-{time.time_ns()}@example.com"

    async def call(self, name: str, variables: dict[str, Any] | None = None, *, label: str | None = None) -> Any:
        """Operation ``name``; its requests counted under ``label`` (its own name by default)."""
        label = label or name
        before = self.calls.snapshot(label)
        token = _operation.set(label)
        try:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            body = {"query": operation(name), "variables": variables or {}}
            response = await self.http.post("/graphql", json=body, headers=headers)
        finally:
            _operation.reset(token)
        answer = response.json()
        if response.status_code != 200 or "errors" in answer:
            raise RuntimeError(f"{name} failed ({response.status_code}): {answer}")
        if not label.startswith("poll"):
            self.before[label] = before
        data = answer["data"]
        return next(iter(data.values()))

    async def upload(self, content: bytes, name: str) -> str:
        """requestUpload, the client's POST to S3: the document's id (completeUpload is next)."""
        form = await self.call(
            "RequestUpload", {"input": {"filename": name, "contentType": "text/plain", "size": len(content)}}
        )
        self.forms[str(form["documentId"])] = form
        await self.post(form, content, name)
        return str(form["documentId"])

    async def post(self, form: dict[str, Any], content: bytes, name: str) -> None:
        """The client's POST of a form to S3 (not through DocStore, so not counted)."""
        fields = {field["name"]: field["value"] for field in form["fields"]}
        async with httpx.AsyncClient(timeout=60) as s3:
            posted = await s3.post(form["url"], data=fields, files={"file": (name, content)})
        if posted.status_code not in (201, 204, 303):
            raise RuntimeError(f"S3 refused the form: {posted.status_code} {posted.text}")

    async def processed(self, document_id: str, label: str) -> None:
        """completeUpload, then the background requests until the document is READY and quiet."""
        before = self.calls.snapshot(BACKGROUND)
        document = await self.call("CompleteUpload", {"input": {"documentId": document_id}})
        if document["status"] != "PROCESSING":
            raise RuntimeError(f"completeUpload answered {document}")
        deadline = time.monotonic() + 60
        while (await self.call("Document", {"id": document_id}, label="poll"))["status"] == "PROCESSING":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{document_id} still PROCESSING after 60 s")
            await asyncio.sleep(0.05)
        await quiet(self.calls)
        self.figures[label] = self.calls.snapshot(BACKGROUND) - before


async def quiet(calls: Calls, seconds: float = QUIET_SECONDS) -> None:
    """Until the background has sent nothing (idle polls aside) for ``seconds``."""
    last, since = calls.snapshot(BACKGROUND), time.monotonic()
    while time.monotonic() - since < seconds:
        await asyncio.sleep(0.1)
        now = calls.snapshot(BACKGROUND)
        if now != last:
            last, since = now, time.monotonic()


async def flow(settings: Settings, calls: Calls, tag: str) -> Figures:
    """Every user operation once, in a person's order, and a document processed on each plan."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60) as http,
    ):
        user = User(http, calls, tag.replace(" ", "-"))
        credentials = {"email": user.email, "password": PASSWORD}
        user.token = (await user.call("SignUp", {"input": credentials}))["token"]
        await quiet(calls)  # account.created: counted and replicated in the background
        user.token = (await user.call("SignIn", {"input": credentials}))["token"]
        await user.call("Me")
        await user.call("Me", label="me, a second time")
        first = await user.upload(b"invoice from the plumber\n", "free.txt")
        await user.processed(first, "document processed (FREE)")
        await user.call("Documents")
        await user.call("Document", {"id": first})
        await user.call("Search", {"query": "free"})
        await user.call("UpdateDocument", {"input": {"id": first, "name": "renamed.txt"}})
        await user.call("UpgradePlan", {"input": {"plan": "PREMIUM"}})
        await quiet(calls)  # the backfill and account.updated
        second = await user.upload(b"invoice from the electrician\n", "premium.txt")
        await user.processed(second, "document processed (PREMIUM)")
        await user.call("DeleteDocument", {"input": {"id": second}})
        await quiet(calls)  # document.deleted: the quota is checked again
        await user.call("SignOut")
        await asyncio.sleep(settings.outbox_remove_seconds + 1)  # the last outbox removals
        for label, before in user.before.items():
            user.figures[label] = calls.snapshot(label) - before
        return user.figures


async def expiry_flow(settings: Settings, target: AwsTarget, calls: Calls, tag: str) -> Figures:
    """A document kept and one deleted, each form posted again once the document is READY (or
    deleted); the background requests of each one's delayed ``upload.started`` message, from the
    form's expiry until the background is quiet. Forms last ``EXPIRY_FORM_SECONDS`` here.

    The main flow's own ``upload.started`` messages, due two minutes after its uploads, are purged
    first (uncounted), so that none is handled inside these windows."""
    settings = settings.with_overrides(upload_form_seconds=EXPIRY_FORM_SECONDS, sweep_grace_seconds=0)
    token = _operation.set("setup")
    try:
        sqs = target.client("sqs")
        sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=f"{settings.table_prefix}-{UPLOAD_EVENTS}")["QueueUrl"])
    finally:
        _operation.reset(token)
    app = create_app(settings)
    figures: Figures = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60) as http,
    ):
        user = User(http, calls, f"{tag.replace(' ', '-')}-expiry")
        user.token = (await user.call("SignUp", {"input": {"email": user.email, "password": PASSWORD}}))["token"]
        await quiet(calls)
        for label, deleted in EXPIRIES:
            document_id = await user.upload(b"invoice from the roofer\n", "roof.txt")
            # The message was sent with the form: it is delivered by then at the latest.
            expires = time.monotonic() + settings.upload_form_seconds + settings.sweep_grace_seconds + 1
            await user.processed(document_id, "processed")
            if deleted:
                await user.call("DeleteDocument", {"input": {"id": document_id}})
            await user.post(user.forms[document_id], b"posted again\n" * 1000, "roof.txt")
            await quiet(calls, EXPIRY_QUIET_SECONDS)
            if time.monotonic() > expires - 1:
                raise RuntimeError(f"the document took longer than its form; raise EXPIRY_FORM_SECONDS ({label})")
            before = calls.snapshot(BACKGROUND)
            await asyncio.sleep(expires - time.monotonic())
            deadline = time.monotonic() + 30
            while calls.snapshot(BACKGROUND) == before:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no upload.started message 30 s after the form expired ({label})")
                await asyncio.sleep(0.1)
            await quiet(calls)
            figures[label] = calls.snapshot(BACKGROUND) - before
    return figures


ORDER = (
    "SignUp",
    "SignIn",
    "Me",
    "me, a second time",
    "RequestUpload",
    "CompleteUpload",
    "Documents",
    "Document",
    "Search",
    "UpdateDocument",
    "UpgradePlan",
    "DeleteDocument",
    "SignOut",
    "document processed (FREE)",
    "document processed (PREMIUM)",
    *(label for label, _ in EXPIRIES),
)


def by_service(counts: Counter[tuple[str, str]], service: str) -> str:
    parts = [f"{op} {n}" for (s, op), n in sorted(counts.items()) if s == service and n]
    return ", ".join(parts) or "–"


def section(results: dict[str, Figures], *, started: datetime, command: str) -> str:
    labels = list(results)
    last = results[labels[-1]]
    rows = []
    for name in ORDER:
        figures = [results[label].get(name, Counter()) for label in labels]
        totals = " | ".join(str(sum(f.values())) for f in figures)
        counts = last.get(name, Counter())
        services = " | ".join(by_service(counts, service) for service in SERVICES)
        title = f"`{name[0].lower()}{name[1:]}`" if " " not in name else name
        rows.append(f"| {title} | {totals} | {services} |")
    header = " | ".join(f"requests, {label}" for label in labels)
    divider = "|".join("---" for _ in range(len(labels) + len(SERVICES) + 1))
    detail = f"by service, {labels[-1]}"
    table = "\n".join([f"| operation | {header} | DynamoDB ({detail}) | S3 | SQS | SES |", f"|{divider}|", *rows])
    sides = ", ".join(f"{label} ({json.dumps(changes) if changes else 'defaults'})" for label, changes in SIDES)
    return f"""## Backend requests per operation and per processed document

Run {started:%Y-%m-%d %H:%M} UTC: `{command}` (a count: the same on any machine). Sides: {sides}.

One user, a fresh account per side, goes through every operation a user makes, in this order, on
the app in the bench process with its workers running; each request of botocore (boto3 and
PynamoDB) is counted under the operation that made it. A processed document is the workers'
requests from `completeUpload` until it is READY and quiet, a 25-byte text file (FREE: detect and
count; PREMIUM: its text extracted and stored too). An expired upload form is the workers' requests
for the delayed `upload.started` message that `requestUpload` sends, handled once the form has
expired (here after {EXPIRY_FORM_SECONDS} s), for a document kept and for one deleted, each form posted again after
completion. The consumers' idle long polls, the outbox relay's idle passes and the client's own
POSTs of the file to S3 are not counted. An operation's figure includes the removal of its outbox
messages (`docs/OUTBOX.md`): a BatchWriteItem that follows its answer by
`DOCSTORE_OUTBOX_REMOVE_SECONDS` and removes the messages of every operation of that second,
counted under the operation that started it. The cache keeps its entries 600 s here so that none
runs out during the flow; with the default `DOCSTORE_CACHE_SECONDS=30`, a user's first request more
than 30 s after the last read of their session reads it (and the account) again.

{table}
"""
