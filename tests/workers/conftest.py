"""Fixtures of the pipeline's tests: the pipeline as production wires it, an extraction pool per
test, the mail sender, the event recorder."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from adapters.blocking import Blocking
from adapters.mail import SesMailer
from adapters.metrics import Metrics
from adapters.queue import SEARCH_INDEX, SqsQueue, ensure_queues
from adapters.search.tantivy_index import TantivyIndex
from runtime.outbox import Outbox
from runtime.services import open_search
from tests.workers.test_pipeline import Recorder
from workers.extraction import Extraction
from workers.indexer import Commits, Indexer
from workers.pipeline import Pipeline
from workers.runner import build_indexer, build_pipeline


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def extraction() -> Any:
    """A pool per test: its processes belong to the event loop that started them."""
    pool = Extraction(processes=1, seconds=20, memory_bytes=1024**3)
    yield pool
    await pool.aclose()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def mailer(target) -> SesMailer:
    mailer = SesMailer(target, "no-reply@docstore.example")
    mailer.verify_sender()
    return mailer


@dataclass
class Wired:
    """The pipeline of one test, wired as ``docstore serve`` wires it, and what it is wired to."""

    pipeline: Pipeline
    #: This test's own work queues: the session's workers never read them.
    queues: dict[str, SqsQueue]
    #: This test's own search index, written by ``indexer``.
    index: TantivyIndex
    indexer: Indexer
    metrics: Metrics
    outbox: Outbox


@pytest.fixture
async def wired(settings, target, store, recorder, extraction, mailer, tmp_path: Path) -> AsyncIterator[Wired]:
    """The pipeline as the workers build it (``workers.runner.build_pipeline``): the search index
    (READY waits until it holds the document), the indexer consuming the search-index queue in
    the test's event loop, the outbox, the account sync and metrics. Queues and index are this
    test's own (isolated from the session's live server); events go to ``recorder`` (pub/sub is a
    process boundary, and the subscription tests cover the real one)."""
    local = settings.with_overrides(data_dir=tmp_path / "data")
    prefix = f"{settings.table_prefix}-pipe-{uuid.uuid4().hex[:8]}"
    urls = ensure_queues(target, prefix, visibility_seconds=settings.queue_visibility_seconds)
    queues = {name: SqsQueue(target, url) for name, url in urls.items()}
    blocking = Blocking(4)
    index = open_search(local)
    metrics = Metrics()
    outbox = Outbox(blocking, queues, settings.outbox_remove_seconds)
    commits = Commits()
    pipeline = build_pipeline(
        local,
        blocking=blocking,
        objects=store,
        publisher=recorder,
        mailer=mailer,
        queues=queues,
        search=index,
        extraction=extraction,
        outbox=outbox,
        commits=commits,
        metrics=metrics,
    )
    indexer = build_indexer(local, blocking=blocking, objects=store, search=index, commits=commits)
    async with anyio.create_task_group() as group:
        group.start_soon(
            lambda: indexer.run_forever(
                queues[SEARCH_INDEX],
                wait_seconds=settings.queue_wait_seconds,
                visibility_seconds=settings.queue_visibility_seconds,
            )
        )
        yield Wired(pipeline, queues, index, indexer, metrics, outbox)
        group.cancel_scope.cancel()
    await outbox.aclose()
    for url in urls.values():
        target.client("sqs").delete_queue(QueueUrl=url)


@pytest.fixture
def pipeline(wired: Wired) -> Pipeline:
    return wired.pipeline
