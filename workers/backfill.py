"""Plan changes, worked through in the background at lower priority than new uploads.

``upgradePlan`` changes the plan at once and sends ``plan.changed`` on the ``backfill`` queue:

- to PREMIUM: every READY document of the account without extracted text gets it now (through the
  pipeline's own code for new uploads, ``Pipeline.download`` and ``Pipeline.extract_text``, but in an
  extraction process of the backfill's own, so an upload never waits behind a backfill), and every
  document's search entry gains its text;
- to FREE: the search entries lose their text (the extracted text stays in S3, so a later upgrade
  needs no second extraction);

and either way the quota is checked again against the new plan's limit.

A large account is worked through in chunks: each message handles up to ``CHUNK`` documents after
its ``after`` cursor and sends the next chunk as a new message, so no message outlives its
visibility timeout and a crash resumes where the last chunk ended. Each chunk reads the plan again
and stops when the account is no longer PREMIUM.
"""

from __future__ import annotations

import logging
import tempfile
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.messages import IndexAccount, IndexDocument, PlanChanged, new_key
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
        if not isinstance(message, PlanChanged):
            raise UnknownMessage(f"the backfill takes no {message.kind!r} message")
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
