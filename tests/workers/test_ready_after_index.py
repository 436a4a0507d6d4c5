"""READY waits for the search index: the pipeline marks a finished document ``indexing``, tells the
indexer, and writes READY once the index holds it; past its wait it writes READY anyway.

A real tantivy index in a temporary folder, a real SQS queue on moto, and the real indexer
consuming it in the test's event loop; events go to a recording publisher (a process boundary).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from adapters.blocking import Blocking
from adapters.queue import SqsQueue
from adapters.search.base import SearchFilter
from adapters.search.tantivy_index import TantivyIndex
from domain.documents import DocumentStatus
from events.envelope import Event, EventType
from models import documents, processing
from tests.workers.test_pipeline import Recorder, completed, new_account, stored
from workers.indexer import Commits, Indexer, current_entries
from workers.pipeline import Pipeline

pytestmark = pytest.mark.anyio


class ReadyWitness(Recorder):
    """Records events, and at each DocumentReady what the index and the record said right then."""

    def __init__(self, index: TantivyIndex) -> None:
        super().__init__()
        self.index = index
        self.at_ready: list[tuple[bool, str]] = []

    async def publish(self, event: Event) -> None:
        await super().publish(event)
        if event.type is EventType.DOCUMENT_READY and event.document_id is not None:
            held = self.index.holds(event.account_id, event.document_id)
            self.at_ready.append((held, documents.get(event.account_id, event.document_id).status))


@pytest.fixture
def queue(target) -> SqsQueue:
    client = target.client("sqs")
    url = client.create_queue(QueueName=f"test-index-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return SqsQueue(target, url)


@pytest.fixture
def index(tmp_path: Path) -> TantivyIndex:
    return TantivyIndex.open(tmp_path / "search")


@pytest.fixture
async def indexer(index: TantivyIndex, queue: SqsQueue, store, tmp_path: Path) -> AsyncIterator[Indexer]:
    """The single writer, consuming ``queue`` until the test ends."""
    running = Indexer(Blocking(4), store, index, tmp_path / "search")
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: running.run_forever(queue, wait_seconds=1, visibility_seconds=None))
        yield running
        group.cancel_scope.cancel()


def pipeline_for(
    store, extraction, mailer, publisher, index, queue, wait: float = 10.0, commits: Commits | None = None
) -> Pipeline:
    return Pipeline(
        blocking=Blocking(4),
        objects=store,
        publisher=publisher,
        extraction=extraction,
        mailer=mailer,
        index_queue=queue,
        search=index,
        index_wait_seconds=wait,
        index_commits=commits,
    )


class CountingIndex:
    """The index as the pipeline reads it, counting how often it looks whether a document is held."""

    def __init__(self, index: TantivyIndex) -> None:
        self.index = index
        self.looks = 0

    def holds(self, owner_id: str, document_id: str) -> bool:
        self.looks += 1
        return self.index.holds(owner_id, document_id)


@pytest.mark.parametrize("plan", ["FREE", "PREMIUM"])
async def test_ready_is_written_and_announced_only_once_the_index_holds_the_document(
    plan: str, store, extraction, mailer, index, queue, indexer
) -> None:
    witness = ReadyWitness(index)
    pipeline = pipeline_for(store, extraction, mailer, witness, index, queue)
    account = new_account(plan)
    record = stored(store, account, b"indexed before ready\n", "text/plain")

    await pipeline.handle(completed(record))

    assert witness.at_ready == [(True, DocumentStatus.READY)]
    final = documents.get(account.id, record.document_id)
    assert (final.status, final.indexing) == (DocumentStatus.READY, None)
    # The entry has the record's change time to the microsecond (the date bounds are strict).
    tick = timedelta(microseconds=1)
    window = SearchFilter(updated_after=final.updated_at - tick, updated_before=final.updated_at + tick)
    page = index.search(account.id, "file", content=False, flt=window, offset=0, limit=5)
    assert [hit.document_id for hit in page.hits] == [record.document_id]
    assert witness.kinds() == ["ProcessingStarted", "DocumentReady", "QuotaChanged"]


async def test_without_an_indexer_ready_comes_after_the_wait_with_a_warning(
    store, extraction, mailer, index, queue, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    pipeline = pipeline_for(store, extraction, mailer, recorder, index, queue, wait=0.3)
    account = new_account("FREE")
    record = stored(store, account, b"nobody indexes this\n", "text/plain")

    with caplog.at_level(logging.WARNING, logger="workers.pipeline"):
        await pipeline.handle(completed(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.indexing) == (DocumentStatus.READY, None)
    assert recorder.kinds() == ["ProcessingStarted", "DocumentReady", "QuotaChanged"]
    assert [r.getMessage() for r in caplog.records if r.name == "workers.pipeline"] == [
        f"document {record.document_id} not in the search index after 0 s: READY without it (is the indexer running?)"
    ]
    assert not index.holds(account.id, record.document_id)
    (message,) = queue.receive(10, 1)  # the indexer's message waits for it
    body = json.loads(message.body)
    assert len(body.pop("key")) == 32
    assert body == {"type": "index.document", "account_id": account.id, "document_id": record.document_id}


async def test_the_indexer_takes_a_processing_document_only_once_it_is_marked_indexing(store) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"not yet\n", "text/plain")
    assert record.status == DocumentStatus.PROCESSING

    assert current_entries(store, account.id, [record.document_id]) == ([], [record.document_id])

    assert processing.prepare_for_index(record, pages=1)
    upserts, removals = current_entries(store, account.id, [record.document_id])

    assert ([entry.document_id for entry in upserts], removals) == ([record.document_id], [])
    marked = documents.get(account.id, record.document_id)
    assert (marked.status, marked.indexing, marked.pages) == (DocumentStatus.PROCESSING, True, 1)


async def test_marking_a_document_that_is_no_longer_processing_changes_nothing(store) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"settled\n", "text/plain")
    assert processing.finish(record, failure_reason="TEST")
    before = documents.get(account.id, record.document_id)

    assert not processing.prepare_for_index(record, pages=3)

    after: Any = documents.get(account.id, record.document_id)
    assert (after.status, after.indexing, after.pages, after.updated_at) == (
        before.status,
        None,
        None,
        before.updated_at,
    )


class Sent:
    """The messages the pipeline sends on the search-index queue (sent all the same)."""

    def __init__(self, queue: SqsQueue, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kinds: list[str] = []
        send = queue.send

        def counted(message: Any, delay_seconds: int = 0) -> None:
            self.kinds.append(type(message).__name__)
            send(message, delay_seconds)

        monkeypatch.setattr(queue, "send", counted)


async def writing(commits: Commits) -> None:
    with anyio.fail_after(10):
        while not commits.writing:  # noqa: ASYNC110 (a flag the indexer sets once it has the writer)
            await anyio.sleep(0.01)


async def test_with_the_indexer_in_this_process_it_is_handed_the_document_and_ready_follows_its_commit(
    store, extraction, mailer, index, queue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = Commits()
    witness = ReadyWitness(index)
    looking = CountingIndex(index)
    sent = Sent(queue, monkeypatch)
    pipeline = pipeline_for(store, extraction, mailer, witness, looking, queue, commits=commits)
    account = new_account("FREE")
    record = stored(store, account, b"told by the commit\n", "text/plain")
    running = Indexer(Blocking(4), store, index, tmp_path / "search", commits)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: running.run_forever(queue, wait_seconds=1, visibility_seconds=None))
        await writing(commits)
        assert commits.index == running.sync

        await pipeline.handle(completed(record))

        group.cancel_scope.cancel()
    assert witness.at_ready == [(True, DocumentStatus.READY)]
    assert sent.kinds == []  # no search-index message: the indexer was handed the document
    assert looking.looks == 1  # after the commit, the readers of this process are refreshed once
    assert (commits.writing, commits.index) == (False, None)  # the writer was given up when the indexer stopped
    assert commits._waiting == {}
    assert pipeline._handed == set()


async def test_when_the_indexer_of_this_process_fails_the_document_the_queue_is_told(
    store, extraction, mailer, index, queue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = Commits()
    witness = ReadyWitness(index)
    sent = Sent(queue, monkeypatch)
    pipeline = pipeline_for(store, extraction, mailer, witness, index, queue, commits=commits)
    account = new_account("FREE")
    record = stored(store, account, b"told by the queue\n", "text/plain")
    running = Indexer(Blocking(4), store, index, tmp_path / "search", commits)
    handed: list[tuple[str, list[str]]] = []

    async def failing(owner_id: str, document_ids: list[str]) -> None:
        handed.append((owner_id, document_ids))
        raise OSError("the index folder went away")

    async with anyio.create_task_group() as group:
        group.start_soon(lambda: running.run_forever(queue, wait_seconds=1, visibility_seconds=None))
        await writing(commits)
        commits.index = failing

        await pipeline.handle(completed(record))

        group.cancel_scope.cancel()
    assert handed == [(account.id, [record.document_id])]
    assert sent.kinds == ["IndexDocument"]
    assert witness.at_ready == [(True, DocumentStatus.READY)]  # the queue's indexer committed it
    assert pipeline._handed == set()
