"""The search indexer: the one process that writes a data folder's search index.

Everything that changes what search should find (a document turning READY, a rename, a retag, a
delete, a plan change) sends a message on the ``search-index`` queue naming the document or the
account. The indexer never trusts the message for content: it reads the document and its owner's
plan from DynamoDB, and the extracted text from S3, and makes the index entry match, or removes
it. Messages may therefore come twice, late or out of order; the last one handled always leaves
the entry as the records are now.

Only one process holds the index's writer (tantivy's lock in the index folder). A process that
cannot take it leaves the queue to the one that did, and tries again now and then, so another
takes over when that one stops. Changes are committed in groups: a message is deleted only after
the commit that holds its change, so a crash loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from adapters.messages import IndexAccount, IndexDocument, on_queue
from adapters.queue import SEARCH_INDEX
from adapters.search.base import IndexedDocument, WriterBusy
from domain.documents import DocumentStatus
from models import accounts, documents
from models.errors import AccountNotFound
from workers.consumer import Consumer, UnknownMessage

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from adapters.blocking import Blocking
    from adapters.messages import QueueMessage
    from adapters.queue import Queue
    from adapters.s3 import ObjectStore
    from adapters.search.tantivy_index import TantivyIndex, TantivyWriter
    from domain.plans import Plan
    from models.documents import Document

log = logging.getLogger(__name__)

#: How long changes gather before one commit makes them all visible.
COMMIT_INTERVAL_SECONDS = 0.1
#: How often a process without the writer looks whether it is free.
WRITER_RETRY_SECONDS = 5.0
#: Text indexed per document, at most (about 500 pages): the rest is stored, not searched. Snippets
#: tokenise the whole stored text of each hit, so an unbounded text would slow every search it hits.
MAX_INDEXED_CHARS = 1_000_000
#: Names the generation a running rebuild (workers/rebuild.py) writes; see there.
MARKER = "REBUILDING"


def in_progress(root: Path) -> str | None:
    """The generation a running rebuild is writing, or None."""
    try:
        return (root / MARKER).read_text().strip() or None
    except FileNotFoundError:
        return None


def journal_path(root: Path, generation: str) -> Path:
    return root / f"{generation}.journal"


def note(root: Path, generation: str, owner_id: str, document_ids: list[str]) -> None:
    """Remember documents changed during the rebuild (one small append: atomic with O_APPEND)."""
    if not document_ids:
        return
    lines = "".join(f"{owner_id}\t{document_id}\n" for document_id in document_ids)
    with journal_path(root, generation).open("a", encoding="utf-8") as journal:
        journal.write(lines)


def entry(record: Document, plan: Plan, text: str | None) -> IndexedDocument:
    """The index entry of a READY document: its text (the first ``MAX_INDEXED_CHARS``) only on PREMIUM."""
    return IndexedDocument(
        owner_id=record.owner_id,
        document_id=record.document_id,
        name=record.name,
        tags=tuple(str(tag) for tag in record.tags or ()),
        description=record.description or "",
        content_type=record.content_type,
        created_at=record.created_at,
        updated_at=record.updated_at,
        content=text[:MAX_INDEXED_CHARS] if plan.searches_contents and text is not None else None,
    )


def entry_for(objects: ObjectStore, record: Document, plan: Plan) -> IndexedDocument:
    """``record``'s entry under ``plan``, its text read from S3 only where the plan indexes it."""
    text = objects.get_text(record.text_key) if plan.searches_contents and record.text_key else None
    return entry(record, plan, text)


def current_entries(
    objects: ObjectStore, owner_id: str, document_ids: list[str]
) -> tuple[list[IndexedDocument], list[str]]:
    """What the index should hold for these documents now: (entries to write, ids to remove)."""
    try:
        plan = accounts.get(owner_id).plan
    except AccountNotFound:
        return [], document_ids
    found = documents.get_many(owner_id, document_ids)
    upserts: list[IndexedDocument] = []
    removals: list[str] = []
    for document_id in document_ids:
        record = found.get(document_id)
        # READY, or about to be: the pipeline writes READY once the index holds the document.
        if record is None or not (
            record.status == DocumentStatus.READY or (record.status == DocumentStatus.PROCESSING and record.indexing)
        ):
            removals.append(document_id)
            continue
        upserts.append(entry_for(objects, record, plan))
    return upserts, removals


class Commits:
    """Tells the pipeline of this process when the indexer of this process has committed a
    document's entry, so that it need not poll the index for it.

    Only where this process holds the index's writer (``writing``); elsewhere the pipeline polls,
    since the indexer that will hold the document is in another process. While it writes, the
    pipeline also hands it documents itself (``index``) instead of sending a search-index message:
    a SQS round trip less per document, for the same entry and the same commit."""

    def __init__(self) -> None:
        self.writing = False
        #: The writing indexer's :meth:`Indexer.sync` while it writes, else None.
        self.index: Callable[[str, list[str]], Awaitable[None]] | None = None
        self._waiting: dict[tuple[str, str], list[asyncio.Future[None]]] = {}

    def expect(self, owner_id: str, document_id: str) -> asyncio.Future[None]:
        """A future done once a commit holds this document's entry (or its removal)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((owner_id, document_id), []).append(future)
        return future

    def forget(self, owner_id: str, document_id: str, future: asyncio.Future[None]) -> None:
        waiting = self._waiting.get((owner_id, document_id), [])
        if future in waiting:
            waiting.remove(future)
        if not waiting:
            self._waiting.pop((owner_id, document_id), None)

    def committed(self, owner_id: str, document_ids: list[str]) -> None:
        for document_id in document_ids:
            for future in self._waiting.pop((owner_id, document_id), []):
                if not future.done():
                    future.set_result(None)


class Indexer:
    """Applies search-index messages to the index through its single writer."""

    def __init__(
        self, blocking: Blocking, objects: ObjectStore, index: TantivyIndex, root: Path, commits: Commits | None = None
    ) -> None:
        self.blocking = blocking
        self.objects = objects
        self.index = index
        self.root = root
        self.commits = commits
        self.writer: TantivyWriter | None = None
        self.generation: str | None = None
        self.lock = asyncio.Lock()
        self.pending: asyncio.Future[None] | None = None

    async def handle(self, message: QueueMessage) -> None:
        match message:
            case IndexDocument(account_id=account_id, document_id=document_id):
                await self.sync(account_id, [document_id])
            case IndexAccount(account_id=account_id):
                ready = await self.blocking.run(
                    lambda: [record.document_id for record in documents.ready_of(account_id)]
                )
                for start in range(0, len(ready), 100):
                    await self.sync(account_id, ready[start : start + 100])
            case _:
                raise UnknownMessage(f"the indexer takes no {message.kind!r} message")

    async def sync(self, owner_id: str, document_ids: list[str]) -> None:
        """Make the entries of these documents match their records; returns once committed."""
        upserts, removals = await self.blocking.run(current_entries, self.objects, owner_id, document_ids)
        async with self.lock:
            await self.blocking.run(self._apply, owner_id, upserts, removals)
            committed = self._next_commit()
        await asyncio.shield(committed)
        if self.commits is not None:
            self.commits.committed(owner_id, document_ids)

    def _apply(self, owner_id: str, upserts: list[IndexedDocument], removals: list[str]) -> None:
        writer = self._writer()
        generation = in_progress(self.root)
        if generation is not None:
            # A rebuild is reading the records: it replays these ids once its index is live.
            note(self.root, generation, owner_id, [doc.document_id for doc in upserts] + removals)
        if upserts:
            writer.upsert(upserts)
        if removals:
            writer.delete(owner_id, removals)

    def _writer(self) -> TantivyWriter:
        """The writer of the live generation, reopened when a rebuild made another one live."""
        live = self.index.current_generation(self.root)
        if self.writer is not None and live != self.generation:
            log.info("search index generation %s is live now; writing to it", live)
            self.writer.commit()
            self.writer.close()
            self.writer = None
        if self.writer is None:
            self.writer = self.index.writer()
            self.generation = self.writer.generation
        return self.writer

    def _next_commit(self) -> asyncio.Future[None]:
        if self.pending is None:
            self.pending = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(
                COMMIT_INTERVAL_SECONDS, lambda: asyncio.ensure_future(self._commit())
            )
        return self.pending

    async def _commit(self) -> None:
        async with self.lock:
            done, self.pending = self.pending, None
            try:
                if self.writer is not None:
                    await self.blocking.run(self.writer.commit)
            except Exception as error:
                if done is not None:
                    done.set_exception(error)
                return
        if done is not None:
            done.set_result(None)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def run_forever(self, queue: Queue, *, wait_seconds: int, visibility_seconds: int | None) -> None:
        """Take the writer (waiting while another process has it), then consume the queue."""
        told = False
        while self.writer is None:
            try:
                async with self.lock:
                    await self.blocking.run(self._writer)
            except WriterBusy:
                if not told:
                    log.info("another process writes the search index in %s; this one only reads it", self.root)
                    told = True
                await asyncio.sleep(WRITER_RETRY_SECONDS)
        log.info("this process writes the search index in %s", self.root)
        if self.commits is not None:
            self.commits.writing = True
            self.commits.index = self.sync
        consumer = Consumer(
            queue,
            self.handle,
            self.blocking,
            name=SEARCH_INDEX,
            kinds=on_queue(SEARCH_INDEX),
            concurrency=16,
            wait_seconds=wait_seconds,
            visibility_seconds=visibility_seconds,
            # A message only says which entries to bring up to date: handling it again is harmless.
            remembers=False,
        )
        try:
            await consumer.run_forever()
        finally:
            if self.commits is not None:
                self.commits.writing = False
                self.commits.index = None
            await self.blocking.run(self.close)
