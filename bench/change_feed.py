"""Change-feed replay: ``changes(first: 100)`` paged from the start to the end of 10,000 changes.

What a sync client does after a reconnect: page through everything since its cursor. One account,
whose feed holds ``CHANGES`` changes about ``DOCUMENTS`` stored documents, is replayed through
``gql/operations/changes/Changes.graphql`` over HTTP (each change with its current document) from
the start until ``hasNextPage`` is false, ``ROUNDS`` times; the figure is changes per second.

Seeding: the documents are uploaded through the models (``uploads.start`` and ``uploads.count``,
which record their CREATED changes); the rest of the feed is written straight into the changes
table (``BatchWriteItem``, then the head row), since writing 10,000 changes one transaction at
a time would take longer than the replay measured, and the replay reads rows, not how they came.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from ulid import ULID

from bench.client import graphql, sign_up
from bench.serving import ServedApp
from bench.stack import embedded_aws
from domain.changes import ChangeKind
from domain.plans import Plan
from models import accounts, changes, uploads
from models.base import utcnow
from models.changes import ChangeRow
from server import create_app

NAME = "change_feed"
CHANGES = 10_000
DOCUMENTS = 100
PAGE = 100
ROUNDS = 3


def run(*, quick: bool, command: str) -> str:
    """Seed, check one replay, then time ``ROUNDS`` replays; the markdown section."""
    total, rounds = (1_000, 1) if quick else (CHANGES, ROUNDS)
    started = datetime.now(UTC)
    # No workers: the seeded documents have no objects to process, and the replay is measured alone.
    with (
        tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp,
        embedded_aws(Path(tmp), run_workers=False) as (
            settings,
            _,
        ),
    ):
        progress(f"embedded AWS at {settings.aws_endpoint_url}, provisioned")
        with ServedApp(create_app, settings) as server:
            progress(f"server pid {server.process.pid} at {server.url}")
            with httpx.Client(base_url=server.url, timeout=120) as http:
                token, account_id = sign_up(http)
                seed(account_id, total)
                progress(f"seeded {total} changes")
                timings = [replay(http, token, total) for _ in range(rounds)]
    return section(timings, total=total, started=started, command=command)


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


def seed(account_id: str, total: int) -> None:
    """``DOCUMENTS`` stored documents (changes 1 to ``DOCUMENTS``), then UPDATED changes about
    them in turn up to ``total``, and the head row at ``total``."""
    account = accounts.get(account_id)
    document_ids = []
    for number in range(DOCUMENTS):
        document = uploads.start(
            account,
            document_id=str(ULID()),
            name=f"bench-{number:03}.txt",
            content_type="text/plain",
            size=10,
            tags=[],
            description="",
            form_seconds=3600,
            sweep_grace_seconds=3600,
        )
        key = f"{account_id}/{document.document_id}/bench/original"
        uploads.count(document, key, 10, "etag", Plan.FREE, utcnow())
        document_ids.append(document.document_id)
    now = utcnow()
    with ChangeRow.batch_write() as batch:
        for sequence in range(DOCUMENTS + 1, total + 1):
            number = sequence % DOCUMENTS
            batch.save(
                ChangeRow(
                    owner_id=account_id,
                    sequence=sequence,
                    kind=ChangeKind.UPDATED,
                    at=now,
                    document_id=document_ids[number],
                    path=f"/bench-{number:03}.txt",
                    expires_at=now + timedelta(days=30),
                )
            )
    ChangeRow(owner_id=account_id, sequence=changes.HEAD).update(actions=[ChangeRow.latest.set(total)])
    if changes.latest(account_id) != total:
        raise RuntimeError("the feed's head is not where it was seeded")


def replay(http: httpx.Client, token: str, total: int) -> tuple[float, int]:
    """Page from the start to the end; (seconds, pages). Checks every change came once, in order."""
    after: str | None = None
    seen = 0
    pages = 0
    started = time.perf_counter()
    while True:
        page = graphql(http, "Changes", {"after": after, "first": PAGE}, token)["changes"]
        if page["__typename"] != "ChangeConnection":
            raise RuntimeError(f"the feed answered {page['__typename']}: {page.get('message')}")
        pages += 1
        for edge in page["edges"]:
            seen += 1
            if edge["node"]["sequence"] != seen or edge["node"]["document"] is None:
                raise RuntimeError(f"change {seen} came as {edge['node']}")
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    seconds = time.perf_counter() - started
    if seen != total:
        raise RuntimeError(f"replayed {seen} changes, not {total}")
    progress(f"replayed {seen} changes in {pages} pages, {seconds:.2f} s")
    return seconds, pages


def section(timings: list[tuple[float, int]], *, total: int, started: datetime, command: str) -> str:
    rates = [total / seconds for seconds, _ in timings]
    page_ms = [1000 * seconds / pages for seconds, pages in timings]
    rows = [
        f"| {number} | {seconds:.2f} | {total / seconds:,.0f} | {1000 * seconds / pages:.1f} |"
        for number, (seconds, pages) in enumerate(timings, 1)
    ]
    return "\n".join(
        [
            "## Change-feed replay",
            "",
            f"`{command}`, {started:%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}.",
            "",
            f"One account with {total:,} changes about {DOCUMENTS} documents, replayed from the start with "
            f"`changes(first: {PAGE})` (`gql/operations/changes/Changes.graphql`, each change with its current "
            "document: one Query and one BatchGetItem a page) over HTTP to one uvicorn process (no workers), one "
            "client, pages one after another, against the embedded AWS.",
            "",
            "| round | seconds | changes/s | ms/page |",
            "| ---: | ---: | ---: | ---: |",
            *rows,
            "",
            f"**Median: {statistics.median(rates):,.0f} changes/s** ({statistics.median(page_ms):.1f} ms a page).",
        ]
    )
