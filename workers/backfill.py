"""Plan changes and missing content hashes, worked through in the background at lower priority
than new uploads.

``upgradePlan`` changes the plan at once and sends ``plan.changed`` on the ``backfill`` queue:

- to PREMIUM: every READY document of the account without extracted text gets it now (through the
  pipeline's own code for new uploads, ``Pipeline.download`` and ``Pipeline.extract_text``, but in an
  extraction process of the backfill's own, so an upload never waits behind a backfill), and every
  document's search entry gains its text;
- to FREE: the search entries lose their text (the extracted text stays in S3, so a later upgrade
  needs no second extraction);

and either way the quota is checked again against the new plan's limit. The documents it downloads
to extract their text also get their content hash, if they were stored before content hashes.

``hash.documents`` (``docstore backfill-hashes`` sends one per account) gives every stored document
of the account that has no content hash one: its bytes are streamed from S3 through the hash (one
GET, nothing written to disk, one chunk in memory) and the hash recorded, conditioned on the
document still being stored with those bytes.

A large account is worked through in chunks, by both kinds of message: each message handles up to
``CHUNK`` documents after its ``after`` cursor and sends the next chunk as a new message, so no
message outlives its visibility timeout and a crash resumes where the last chunk ended. Each chunk
of a plan change reads the plan again and stops when the account is no longer PREMIUM. A chunk of
content hashes also ends once it has read ``HASH_CHUNK_BYTES``: at 100 MB/s or more for one GET,
a message hashes for about ten seconds, well inside the queues' visibility timeout (300 s by
default); a document near the 5 GiB an upload may have is a message of its own (about a minute).
"""

from __future__ import annotations

import logging
import tempfile
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.messages import HashDocuments, IndexAccount, IndexDocument, PlanChanged, new_key
from domain.content_hash import ContentHasher
from models import accounts, documents
from models.errors import AccountNotFound
from workers.consumer import UnknownMessage
from workers.extraction import ExtractionFailed
from workers.extractors import registry

if TYPE_CHECKING:
    from adapters.blocking import Blocking
    from adapters.messages import QueueMessage
    from adapters.queue import Queue
    from adapters.s3 import ObjectStore
    from models.documents import Document
    from workers.extraction import Extraction
    from workers.pipeline import Pipeline

log = logging.getLogger(__name__)

#: Documents per message.
CHUNK = 20
#: The bytes a message of content hashes reads at most before it hands on the rest (it always
#: hashes at least one document).
HASH_CHUNK_BYTES = 1024**3


class Backfill:
    def __init__(
        self,
        *,
        blocking: Blocking,
        objects: ObjectStore,
        extraction: Extraction,
        pipeline: Pipeline,
        backfill_queue: Queue,
        index_queue: Queue,
    ) -> None:
        self.blocking = blocking
        self.objects = objects
        self.extraction = extraction
        self.pipeline = pipeline
        self.backfill_queue = backfill_queue
        self.index_queue = index_queue

    async def handle(self, message: QueueMessage) -> None:
        match message:
            case PlanChanged():
                await self.plan_changed(message)
            case HashDocuments():
                await self.hash_documents(message)
            case _:
                raise UnknownMessage(f"the backfill takes no {message.kind!r} message")

    async def hash_documents(self, message: HashDocuments) -> None:
        account_id = message.account_id
        chunk = await self.blocking.run(self._unhashed, account_id, message.after)
        handled: list[Document] = []
        for record in chunk:
            hasher = ContentHasher()
            if await self.blocking.run(self.objects.feed, record.object_key, hasher):
                await self._hashed(record, hasher.hexdigest())
            else:
                log.warning("backfill: document %s has no object at %s to hash", record.document_id, record.object_key)
            handled.append(record)
            if sum(int(done.size) for done in handled) >= HASH_CHUNK_BYTES:
                break
        if len(handled) < len(chunk) or len(chunk) == CHUNK:
            following = HashDocuments(account_id=account_id, key=new_key(), after=handled[-1].document_id)
            await self.blocking.run(self.backfill_queue.send, following)
        else:
            log.info("content hashes of account %s done", account_id)

    async def plan_changed(self, message: PlanChanged) -> None:
        account_id, after = message.account_id, message.after
        try:
            account = await self.blocking.run(accounts.get, account_id)
        except AccountNotFound:
            return
        if after is None:
            # First chunk: entries of documents that already have text (or need none) follow the plan now.
            await self.blocking.run(self.index_queue.send, IndexAccount(account_id=account_id, key=new_key()))
            await self.pipeline.check_quota(account_id)
        if not account.plan.searches_contents:
            return
        chunk = await self.blocking.run(self._chunk, account_id, after)
        for record in chunk:
            if record.text_key is None and registry.gives_text(record.content_type):
                await self._extract(record)
        if len(chunk) == CHUNK:
            following = PlanChanged(account_id=account_id, key=new_key(), after=chunk[-1].document_id)
            await self.blocking.run(self.backfill_queue.send, following)
        else:
            log.info("backfill of account %s done", account_id)

    @staticmethod
    def _chunk(account_id: str, after: str | None) -> list[Document]:
        return list(islice(documents.ready_of(account_id, after, page_size=CHUNK), CHUNK))

    @staticmethod
    def _unhashed(account_id: str, after: str | None) -> list[Document]:
        return list(islice(documents.unhashed_of(account_id, after, page_size=CHUNK), CHUNK))

    async def _extract(self, record: Document) -> None:
        with tempfile.TemporaryDirectory(prefix="docstore-backfill-", dir=self.pipeline.work_dir) as work:
            path = Path(work) / "original"
            downloaded = await self.pipeline.download(record, path)
            if not registry.gives_text(downloaded.content_type):
                await self._hashed(record, downloaded.content_hash)
                return
            try:
                text = await self.pipeline.extract_text(
                    record, path, downloaded.content_type, extraction=self.extraction
                )
            except ExtractionFailed as failure:
                log.info("backfill: document %s gives no text: %s", record.document_id, failure.reason)
                await self._hashed(record, downloaded.content_hash)
                return
        missing = downloaded.content_hash if record.content_hash is None else None
        if await self.blocking.run(documents.set_text, record, text.key, text.pages, content_hash=missing):
            indexed = IndexDocument(account_id=record.owner_id, document_id=record.document_id, key=new_key())
            await self.blocking.run(self.index_queue.send, indexed)
        else:
            # Deleted (or given text) meanwhile: a text object nobody points at must not stay behind.
            current = await self.blocking.run(documents.get_many, record.owner_id, [record.document_id])
            if record.document_id not in current:
                await self.blocking.run(self.objects.delete, text.key)

    async def _hashed(self, record: Document, content_hash: str) -> None:
        """Record ``content_hash``, read from ``record``'s bytes, if the record has none yet."""
        if record.content_hash is None:
            await self.blocking.run(documents.set_content_hash, record, content_hash)
