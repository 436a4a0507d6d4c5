"""The pipeline: what happens to a document after its upload, and to an account's quota.

For each queue message it reads the document's state from DynamoDB, does the next step, and
moves the state on with a conditional write, publishing an event on the owner's channel as it
goes. Running any step twice changes nothing the second time:

- ``upload.completed``: detect the real type from the bytes, and hash them as they are downloaded
  (``domain.content_hash``); count the document (once) and record both; for
  PREMIUM accounts, and types whose extractor gives text (``workers.extractors.registry``), extract
  the text in the sandbox and store it as a derived object; then READY, or FAILED with a reason.
  Before the text, the thumbnails of the types that have them (``registry.THUMBNAILS``) are made in
  the sandbox too, or found made already for the same bytes (``services.thumbnails``); a file that
  gives none (a bomb, a damaged or endless video) only has none: the document goes on as without.
  Once the document is settled, the thumbnails no version of it has any more are deleted.
  Bytes that are no type DocStore stores are REJECTED and leave the account's usage. With a
  search index, READY waits for it: the document is marked ``indexing``, the indexer is told, and
  READY (and its event) follow once the index holds it, so a document is searchable from the
  moment anyone can see it READY.
- ``upload.started`` arrives once the form has expired: settles an upload nobody completed, or
  takes on one whose ``upload.completed`` was lost, and deletes what the form posted to its
  staging key (completion copied what it counted; anything there now was posted again, or after
  the document was deleted).
- ``document.deleted``: the account's usage fell; re-check its quota level.
- ``account.created``: count the account in the dashboard counters (once), and replicate it
  to the other regions (``workers.account_sync``).
- ``account.updated``: replicate the account's changed record to the other regions.

After every change of usage the quota level is re-checked: crossing 80 % or 90 % sends a
warning, passing the limit flags the account over quota; each emailed once per crossing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from adapters.cache import Invalidation
from adapters.messages import (
    AccountCreated,
    AccountUpdated,
    DigestDue,
    DocumentDeleted,
    IndexDocument,
    UploadCompleted,
    UploadStarted,
    new_key,
)
from domain.content_hash import ContentHasher
from domain.documents import DocumentStatus
from events.envelope import Event, EventType
from models import accounts, changes, documents, keys, outbox, processing, quota, share_links
from models.content_types import CONTENT_TYPES
from models.errors import AccountNotFound, DocumentNotFound
from services import changes as changes_service
from services import follows
from services import thumbnails as thumbnail_files
from services import uploads as upload_files
from workers.consumer import UnknownMessage
from workers.detect import detect_file
from workers.extraction import ExtractionFailed
from workers.extractors import registry

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from adapters.blocking import Blocking
    from adapters.cache import ReadCache
    from adapters.mail import Mailer
    from adapters.messages import QueueMessage
    from adapters.metrics import Metrics
    from adapters.pubsub import Publisher
    from adapters.queue import Queue
    from adapters.s3 import ObjectStore
    from adapters.search.base import SearchBackend
    from models.documents import Document
    from runtime.outbox import Outbox
    from workers.account_sync import AccountSync
    from workers.extraction import Extraction
    from workers.indexer import Commits

log = logging.getLogger(__name__)

#: How often the pipeline looks whether the index holds a document it waits for.
#: The pipeline looks whether the index holds a document after this long, then each time half as
#: long again, up to INDEX_POLL_MAX_SECONDS: the first look comes soon, and a wait of a second takes
#: about eight looks (each a trip through the thread pool), not fifty.
INDEX_POLL_SECONDS = 0.02
INDEX_POLL_MAX_SECONDS = 0.25


@dataclass(frozen=True)
class Downloaded:
    """A document's original, downloaded: its real type (``workers.detect``) and its content hash."""

    content_type: str
    content_hash: str


@dataclass(frozen=True)
class StoredText:
    """A document's extracted text, stored in S3 at ``key``; ``pages`` as ``Extracted.pages``."""

    key: str
    pages: int | None


@dataclass(frozen=True)
class Thumbnails:
    """The thumbnails a document's bytes have in S3: of the bytes of ``content_hash``, in ``sizes``."""

    content_hash: str
    sizes: tuple[int, ...]


@dataclass
class Pipeline:
    blocking: Blocking
    objects: ObjectStore
    publisher: Publisher
    extraction: Extraction
    mailer: Mailer
    #: The search-index queue: told about each document that turns READY (the indexer reads it).
    index_queue: Queue | None = None
    work_dir: Path | None = None
    account_sync: AccountSync | None = None
    metrics: Metrics | None = None
    #: The index as this process reads it: with the queue, READY waits until it holds the document.
    search: SearchBackend | None = None
    #: How long READY waits for the index; past it (an indexer down or far behind) READY is written
    #: anyway, with a warning, and the document becomes searchable when the indexer catches up.
    index_wait_seconds: float = 10.0
    #: Commits of the indexer of this process, when it holds the index's writer: READY waits for the
    #: commit that holds the document instead of looking at the index every few milliseconds.
    index_commits: Commits | None = None
    #: The process's read cache: the plan a document is processed under comes from it (a plan
    #: change invalidates it everywhere, and counting is conditioned on the plan all the same).
    cache: ReadCache | None = None
    #: Where the messages of changes the pipeline makes go after their commit (``runtime.outbox``).
    outbox: Outbox | None = None
    #: The longer side of each thumbnail (``DOCSTORE_THUMBNAIL_SMALL_PX``, ``_LARGE_PX``), and how
    #: long making them may take (``DOCSTORE_THUMBNAIL_SECONDS``).
    thumbnail_sizes: tuple[int, ...] = (256, 1024)
    thumbnail_seconds: float = 20.0
    #: Followers' digests: at most one email per follower this often (``DOCSTORE_DIGEST_SECONDS``).
    digest_seconds: int = 600
    #: Documents handed to this process's indexer whose sync has not ended yet (``_hand_to_indexer``).
    _handed: set[asyncio.Future[None]] = field(default_factory=set, init=False, repr=False)

    async def handle(self, message: QueueMessage) -> None:
        match message:
            case UploadCompleted(account_id=account_id, document_id=document_id):
                await self.upload_completed(account_id, document_id)
            case UploadStarted(account_id=account_id, document_id=document_id):
                await self.upload_expired(account_id, document_id)
            case DocumentDeleted(account_id=account_id):
                await self.check_quota(account_id)
            case AccountCreated(account_id=account_id):
                await self.blocking.run(accounts.count_new, account_id)
                await self.sync_account(account_id)
            case AccountUpdated(account_id=account_id):
                await self.sync_account(account_id)
            case DigestDue(account_id=account_id, key=key):
                await self.send_digest(account_id, key)
            case _:
                raise UnknownMessage(f"the pipeline takes no {message.kind!r} message")

    async def send_digest(self, follower_id: str, key: str) -> None:
        """A follower's digest (``services.follows.send_digest``), and the next one scheduled."""
        send = functools.partial(follows.send_digest, self.mailer, follower_id, key, self.digest_seconds)
        following = await self.blocking.run(send)
        if following is not None and self.outbox is not None:
            await self.outbox.deliver([following])

    async def sync_account(self, account_id: str) -> None:
        if self.account_sync is not None:
            await self.account_sync.sync(account_id)

    async def upload_expired(self, account_id: str, document_id: str) -> None:
        try:
            record = await self.blocking.run(documents.get, account_id, document_id)
        except DocumentNotFound:
            record = None
        # What to process once settled: the document itself, or, for a new version's upload (a
        # record of its own, which completion folds into its document and deletes), that document.
        target = document_id
        if record is not None and record.status == DocumentStatus.PENDING_UPLOAD:
            completed: list[outbox.Pending] = []
            recorded: list[changes.Change] = []
            settled: list[Document] = []
            outcome = await self.blocking.run(
                functools.partial(
                    upload_files.sweep,
                    self.objects,
                    account_id,
                    document_id,
                    messages=completed,
                    recorded=recorded,
                    completed=settled,
                )
            )
            log.info("upload %s settled after its form expired: %s", document_id, outcome)
            await changes_service.publish(self.publisher, recorded)
            # The upload.completed message would ask for what happens next, here; should this stop
            # midway, this message (not yet deleted) comes back and finishes it.
            if self.outbox is not None:
                self.outbox.discard(completed)
            if settled:
                target = settled[0].document_id
        # Settled (or deleted): nothing reads the staging key any more, and the form can post no more.
        await self.blocking.run(upload_files.form_expired, self.objects, account_id, document_id)
        if record is None:
            return
        if record.status == DocumentStatus.PENDING_UPLOAD:
            await self.upload_completed(account_id, target)  # completed just now, or settled otherwise
        elif record.status == DocumentStatus.PROCESSING:
            # Its upload.completed was lost, or waits behind others: taking it on here is harmless.
            await self.upload_completed(account_id, document_id, record)
        # Past PROCESSING (the usual case: READY long ago), its upload.completed was handled to the
        # end, the index told, or is still on its queue and will be: nothing to do here. (A READY
        # document's message is deleted only once it has told the index, ``upload_completed``.)

    async def upload_completed(self, account_id: str, document_id: str, record: Document | None = None) -> None:
        """Process the document, ``record`` as just read if the caller has it (else it is read)."""
        try:
            if record is None:
                record = await self.blocking.run(documents.get, account_id, document_id)
            account = await self.blocking.run(accounts.get_cached, account_id, self.cache)
        except (DocumentNotFound, AccountNotFound):
            return
        if record.status == DocumentStatus.READY:
            # A repeat: the first delivery may have stopped before the index heard of it.
            await self.announce_to_index(record)
        if record.status != DocumentStatus.PROCESSING:
            return
        await self.publish(EventType.PROCESSING_STARTED, record)
        work = Path(tempfile.mkdtemp(prefix="docstore-", dir=self.work_dir))
        try:
            detected = await self._process(account, record, work / "original")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        # Settled (or gone): what no version shows any more, dropped versions' too, is deleted; a first
        # version of a type without thumbnails has none to look for.
        if registry.makes_thumbnail(detected) or record.current_version > 1 or record.thumbnail_hash:
            await self.blocking.run(thumbnail_files.prune, self.objects, record.owner_id, record.document_id)
        await self.check_quota(account_id)

    async def _process(self, account: accounts.Account, record: Document, path: Path) -> str:
        """Process ``record``'s bytes, downloaded to ``path``; the type detected in them."""
        downloaded = await self.download(record, path)
        detected = downloaded.content_type
        if detected not in CONTENT_TYPES:
            # REJECTED: the bytes are deleted, so the document has no content hash (as every
            # REJECTED one: docs/CONTENT_HASH.md).
            recorded: list[changes.Change] = []
            if await self.blocking.run(processing.reject, record, processing.WRONG_TYPE, recorded):
                self._processed("rejected")
                stored = keys.document_prefix(record.owner_id, record.document_id)
                await self.blocking.run(self.objects.delete_prefix, stored)
                # Its share links (Make Public's, made at completion) go with its bytes.
                await self.blocking.run(share_links.forget_document, record.owner_id, record.document_id)
                await self.publish(EventType.DOCUMENT_FAILED, record, reason=processing.WRONG_TYPE)
                await changes_service.publish(self.publisher, recorded)
            return detected
        await self.blocking.run(
            processing.count, record, plan=account.plan, content_type=detected, content_hash=downloaded.content_hash
        )
        thumbnails = await self.make_thumbnails(record, path, detected, downloaded.content_hash)
        shown_hash, shown_sizes = (None, ()) if thumbnails is None else (thumbnails.content_hash, thumbnails.sizes)
        stored_text: str | None = None
        pages: int | None = None
        if account.plan.searches_contents and registry.gives_text(detected):
            try:
                text = await self.extract_text(record, path, detected, progress=self._progress(record))
            except ExtractionFailed as failure:
                if await self.blocking.run(
                    functools.partial(
                        processing.finish,
                        record,
                        failure_reason=failure.reason,
                        thumbnail_hash=shown_hash,
                        thumbnail_sizes=shown_sizes,
                    )
                ):
                    self._processed("failed")
                    await self.publish(EventType.DOCUMENT_FAILED, record, reason=failure.reason)
                return detected
            stored_text, pages = text.key, text.pages
        indexed = False
        if self.search is not None and self.index_queue is not None:
            if not await self.blocking.run(processing.prepare_for_index, record, text_key=stored_text, pages=pages):
                return detected
            commits = self.index_commits if self.index_commits is not None and self.index_commits.writing else None
            committed = commits.expect(record.owner_id, record.document_id) if commits is not None else None
            try:
                if commits is None or not self._hand_to_indexer(commits, record):
                    await self.announce_to_index(record)
                await self._until_indexed(record, committed)
            finally:
                if commits is not None and committed is not None:
                    commits.forget(record.owner_id, record.document_id, committed)
            indexed = True
        finished = functools.partial(
            processing.finish,
            record,
            text_key=stored_text,
            pages=pages,
            indexed=indexed,
            thumbnail_hash=shown_hash,
            thumbnail_sizes=shown_sizes,
        )
        if await self.blocking.run(finished):
            self._processed("ready")
            if not indexed:
                await self.announce_to_index(record)
            await self.publish(
                EventType.DOCUMENT_READY,
                record,
                content_hash=downloaded.content_hash,
                has_thumbnail=thumbnails is not None,
            )
        return detected

    async def download(self, record: Document, path: Path) -> Downloaded:
        """Download ``record``'s original to ``path``; its real type, from its bytes (``workers.detect``),
        and its content hash, computed from the chunks as they are written (one read of the object;
        the hash holds no more than one chunk, ``adapters.s3.DOWNLOAD_CHUNK``, whatever the size).
        The first step of the upload pipeline and of the backfill."""
        hasher = ContentHasher()
        await self.blocking.run(self.objects.download, record.object_key, path, digest=hasher)
        return Downloaded(detect_file(path, record.content_type), hasher.hexdigest())

    async def make_thumbnails(
        self, record: Document, path: Path, content_type: str, content_hash: str
    ) -> Thumbnails | None:
        """The thumbnails of ``record``'s bytes at ``path`` (of the type detected in them, whose
        content hash is ``content_hash``): found in S3 when the document had the same bytes before,
        else made in the extraction pool's sandbox within ``thumbnail_seconds`` and stored
        (``services.thumbnails``). None for a type without thumbnails, and for a file that gives
        none, whatever it does in the sandbox: the document is not failed for it."""
        if not registry.makes_thumbnail(content_type) or not self.thumbnail_sizes:
            return None
        owner_id, document_id = record.owner_id, record.document_id
        sizes = tuple(sorted(set(self.thumbnail_sizes)))
        made = Thumbnails(content_hash, sizes)
        if await self.blocking.run(thumbnail_files.stored, self.objects, owner_id, document_id, content_hash, sizes):
            self._thumbnail("reused")
            return made
        folder = path.parent / "thumbnails"
        await anyio.Path(folder).mkdir()
        try:
            rendered = await self.extraction.thumbnails(
                path, content_type, folder, sizes, seconds=self.thumbnail_seconds
            )
        except ExtractionFailed as failure:
            log.info("document %s (%s) has no thumbnail: %s", document_id, content_type, failure.reason)
            self._thumbnail("failed", failure.kind)
            return None
        written = [(thumbnail.size, thumbnail.path) for thumbnail in rendered]
        await self.blocking.run(thumbnail_files.store, self.objects, owner_id, document_id, content_hash, written)
        self._thumbnail("made")
        return made

    def _thumbnail(self, outcome: str, reason: str = "") -> None:
        if self.metrics is not None:
            self.metrics.thumbnail(outcome, reason)

    async def extract_text(
        self,
        record: Document,
        path: Path,
        content_type: str,
        *,
        extraction: Extraction | None = None,
        progress: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> StoredText:
        """Extract the text of ``record``'s original at ``path``, of the type detected in it, in
        ``extraction`` (the pipeline's own pool by default), and store it in S3 at ``keys.text``.
        Raises ``ExtractionFailed``, with the reason for the owner, when the file gives no text.
        Each extraction, failed or not, is counted in the metrics."""
        pool = self.extraction if extraction is None else extraction
        started = time.monotonic()
        try:
            extracted = await pool.extract(path, content_type, progress=progress)
        except ExtractionFailed as failure:
            if self.metrics is not None:
                self.metrics.observe_extraction(content_type, time.monotonic() - started, failure.kind)
            raise
        if self.metrics is not None:
            self.metrics.observe_extraction(content_type, time.monotonic() - started)
        key = keys.text(record.owner_id, record.document_id)
        await self.blocking.run(self.objects.put_text, key, extracted.text)
        return StoredText(key, extracted.pages)

    async def _until_indexed(self, record: Document, committed: asyncio.Future[None] | None = None) -> None:
        """Until the index holds ``record``, or ``index_wait_seconds`` have passed. With
        ``committed`` (the indexer is in this process) the first look waits for its commit."""
        assert self.search is not None
        deadline = time.monotonic() + self.index_wait_seconds
        pause = INDEX_POLL_SECONDS
        if committed is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(committed), timeout=self.index_wait_seconds)
        while not await self.blocking.run(self.search.holds, record.owner_id, record.document_id):
            if time.monotonic() >= deadline:
                log.warning(
                    "document %s not in the search index after %.0f s: READY without it (is the indexer running?)",
                    record.document_id,
                    self.index_wait_seconds,
                )
                return
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 1.5, INDEX_POLL_MAX_SECONDS)

    def _hand_to_indexer(self, commits: Commits, record: Document) -> bool:
        """Hand ``record`` to the indexer of this process, when it writes the index: its sync runs
        beside the pipeline (which waits for its commit as for any other), with no search-index
        message. Should the sync fail, the message is sent after all. False when there is no such
        indexer."""
        index = commits.index
        if index is None:
            return False

        def done(task: asyncio.Task[None]) -> None:
            self._handed.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.warning(
                    "indexing document %s in this process failed; telling the indexer's queue",
                    record.document_id,
                    exc_info=task.exception(),
                )
                told = asyncio.ensure_future(self.announce_to_index(record))
                self._handed.add(told)
                told.add_done_callback(self._handed.discard)

        task = asyncio.ensure_future(index(record.owner_id, [record.document_id]))
        self._handed.add(task)  # held until done: the event loop keeps only weak references
        task.add_done_callback(done)
        return True

    def _processed(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.document_processed(outcome)

    async def announce_to_index(self, record: Document) -> None:
        if self.index_queue is not None:
            message = IndexDocument(account_id=record.owner_id, document_id=record.document_id, key=new_key())
            await self.blocking.run(self.index_queue.send, message)

    def _progress(self, record: Document) -> Callable[[int, int], Awaitable[None]]:
        # The extraction process throttles what reaches here (workers.extractors.sandbox).
        async def progress(page: int, pages: int) -> None:
            await self.publish(EventType.EXTRACTION_PROGRESS, record, page=page, pages=pages)

        return progress

    async def check_quota(self, account_id: str) -> None:
        """Announce the account's usage, and any crossing of a quota level (once)."""
        try:
            account = await self.blocking.run(accounts.get, account_id)
        except AccountNotFound:
            return
        used, limit = int(account.used_bytes), account.limit_bytes
        await self.publisher.publish(
            Event(EventType.QUOTA_CHANGED, account_id, data={"used_bytes": used, "limit_bytes": limit})
        )
        # The account just read is where the evaluation starts: one read, not two.
        crossing = await self.blocking.run(quota.evaluate, account_id, account)
        if crossing is not None and self.cache is not None:
            await self.cache.invalidate(Invalidation(account_id))  # the quota flag or level moved
        if crossing is None or not crossing.upward:
            return
        if crossing.after == quota.OVER:
            event = Event(EventType.QUOTA_EXCEEDED, account_id, data={"used_bytes": used, "limit_bytes": limit})
            subject = "DocStore: your storage is over its limit"
            body = (
                f"Your documents use {used:,} bytes, more than your plan's {limit:,}. "
                "New uploads are refused until you delete documents or upgrade."
            )
        else:
            event = Event(EventType.QUOTA_WARNING, account_id, data={"percent": crossing.after})
            subject = f"DocStore: you have used {crossing.after}% of your storage"
            body = f"Your documents use {used:,} of your plan's {limit:,} bytes ({crossing.after}% or more)."
        await self.publisher.publish(event)
        try:
            await self.blocking.run(self.mailer.send, account.email, subject, body)
        except Exception:
            log.exception("could not email account %s about its quota", account_id)

    async def publish(self, kind: EventType, record: Document, **data: Any) -> None:
        await self.publisher.publish(Event(kind, record.owner_id, document_id=record.document_id, data=data))
