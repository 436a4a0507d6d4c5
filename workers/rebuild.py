"""Rebuilding the search index (``docstore reindex``) while search keeps answering.

The rebuild writes a new generation of the index beside the live one, from the records in
DynamoDB and the extracted text in S3, and makes it live in one atomic step. Searches read the
old generation until then.

Changes made while it reads must not be lost, and a document deleted meanwhile must not come back
with the new generation. So while a rebuild runs, a marker file names its generation and the
indexer notes every document it touches in that generation's journal. Once the new generation is
live (and a grace period has let the indexer finish what it started on the old one), the rebuild
sends every journaled document back through the indexer, which writes each as its record is now.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.messages import IndexDocument, new_key
from adapters.search.tantivy_index import TantivyIndex
from models import accounts, documents
from models.errors import AccountNotFound
from workers.indexer import MARKER, entry_for, journal_path

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from adapters.queue import Queue
    from adapters.s3 import ObjectStore
    from adapters.search.base import IndexedDocument
    from domain.plans import Plan

log = logging.getLogger(__name__)

LOCK = "REBUILD.lock"
#: Longer than any one change the indexer makes: after this, it writes only to the new generation.
GRACE_SECONDS = 5.0
BATCH = 500


class RebuildRunning(RuntimeError):
    """Another ``docstore reindex`` is rebuilding this index."""


def journaled(root: Path, generation: str) -> list[tuple[str, str]]:
    try:
        text = journal_path(root, generation).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    pairs = (line.split("\t", 1) for line in text.splitlines() if "\t" in line)
    return list(dict.fromkeys((owner, document) for owner, document in pairs))


@dataclass(frozen=True)
class Rebuilt:
    generation: str
    documents: int
    with_text: int
    replayed: int
    seconds: float


@contextlib.contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK).open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RebuildRunning(f"another `docstore reindex` is rebuilding {root}") from None
        yield


def _entries(objects: ObjectStore, progress: Callable[[IndexedDocument], None]) -> Iterator[IndexedDocument]:
    plans: dict[str, Plan | None] = {}
    for record in documents.all_ready():
        if record.owner_id not in plans:
            try:
                plans[record.owner_id] = accounts.get(record.owner_id).plan
            except AccountNotFound:
                plans[record.owner_id] = None
        plan = plans[record.owner_id]
        if plan is None:
            continue
        item = entry_for(objects, record, plan)
        progress(item)
        yield item


def rebuild(
    root: Path,
    objects: ObjectStore,
    index_queue: Queue,
    *,
    progress: Callable[[IndexedDocument], None] = lambda _: None,
    live: Callable[[str], None] = lambda _: None,
    grace_seconds: float = GRACE_SECONDS,
) -> Rebuilt:
    """Write a new generation from the records, make it live, replay what changed meanwhile.

    ``progress`` is called with each entry as it is read (before it is written), ``live`` with the
    new generation once searches use it (the replay follows, after the grace period).
    """
    started = time.monotonic()
    with _exclusive(root):
        generation, writer = TantivyIndex.new_generation(root)
        marker = root / f"{MARKER}.tmp"
        marker.write_text(generation)
        os.replace(marker, root / MARKER)
        count = with_text = 0
        try:
            batch: list[IndexedDocument] = []
            for item in _entries(objects, progress):
                batch.append(item)
                count += 1
                with_text += item.content is not None
                if len(batch) >= BATCH:
                    writer.upsert(batch)
                    batch = []
            writer.upsert(batch)
            writer.commit()
        finally:
            writer.close()
        try:
            TantivyIndex.promote(root, generation)
            live(generation)
            time.sleep(grace_seconds)
        finally:
            (root / MARKER).unlink(missing_ok=True)
        changed = journaled(root, generation)
        for owner_id, document_id in changed:
            index_queue.send(IndexDocument(account_id=owner_id, document_id=document_id, key=new_key()))
        journal_path(root, generation).unlink(missing_ok=True)
        TantivyIndex.collect(root)
    log.info("search index rebuilt as %s: %d documents, %d replayed", generation, count, len(changed))
    return Rebuilt(generation, count, with_text, len(changed), time.monotonic() - started)
