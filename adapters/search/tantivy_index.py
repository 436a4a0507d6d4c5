"""The embedded search index: tantivy in the data folder.

Layout: ``root/CURRENT`` names the live generation, ``root/<generation>/`` holds its tantivy index.
A rebuild (``docstore reindex``) fills a new generation beside the live one, ``promote`` switches
``CURRENT`` atomically, and readers in every process follow on their next ``refresh``. ``collect``
deletes old generations: on Linux a reader that still has their files open or mapped keeps reading
them until it lets go, since unlinking only removes the names.

One writer per generation folder, across processes, through tantivy's own writer lock (``WriterBusy``).
Readers see what was committed when they last refreshed; tantivy also reloads by itself shortly
after a commit. ``tantivy_schema`` says what is indexed, ``tantivy_query`` how a query runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import tantivy

from adapters.search import query as lang
from adapters.search.base import MAX_RESULT_WINDOW, PageTooDeep, QuerySyntaxError, WriterBusy
from adapters.search.tantivy_query import run
from adapters.search.tantivy_schema import clean, key_of, open_index, to_tantivy

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from types import TracebackType

    from adapters.search.base import IndexedDocument, SearchFilter, SearchPage

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
#: Writer memory (tantivy needs at least 15 MB a thread) and threads: indexing is light here.
WRITER_HEAP_BYTES = 64_000_000
WRITER_THREADS = 1
#: ``collect`` keeps an unused generation touched more recently than this.
COLLECT_AFTER = timedelta(minutes=10)


# Generations ------------------------------------------------------------------------------------


def _new_generation_name() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"


def _is_generation(path: Path) -> bool:
    return path.is_dir() and path.name[:1].isdigit() and "-" in path.name


def _read_current(root: Path) -> str | None:
    try:
        return (root / CURRENT).read_text().strip() or None
    except FileNotFoundError:
        return None


def _write_file_atomically(target: Path, text: str, *, replace: bool) -> bool:
    """Write ``target`` through a temporary file; ``replace=False`` keeps an existing one (returns False)."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    with temporary.open("w") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        if replace:
            os.replace(temporary, target)
        else:
            try:
                os.link(temporary, target)  # fails if it exists: two processes creating the first index
            except FileExistsError:
                return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True


class TantivyIndex:
    """``SearchBackend`` on a tantivy index folder. Searches may run in several threads at once."""

    def __init__(self, root: Path, generation: str) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._generation = generation
        self._index = open_index(root / generation)
        self._current_stat = self._stat_current()

    @classmethod
    def open(cls, root: Path) -> TantivyIndex:
        """Open the live index under ``root``, creating an empty one (and ``root``) on first use."""
        root.mkdir(parents=True, exist_ok=True)
        generation = _read_current(root)
        if generation is None:
            generation = _new_generation_name()
            open_index(root / generation, create=True)
            if not _write_file_atomically(root / CURRENT, generation, replace=False):
                shutil.rmtree(root / generation, ignore_errors=True)
                generation = _read_current(root)
                if generation is None:
                    raise RuntimeError(f"{root / CURRENT} vanished while the index was being created")
        return cls(root, generation)

    @property
    def generation(self) -> str:
        """The generation this reader searches."""
        return self._generation

    # SearchBackend

    def validate(self, query: str, *, content: bool) -> None:
        """Parse only: raise what ``search`` would raise for this query."""
        lang.check_fields(lang.parse(query), content=content)

    def search(
        self,
        owner_id: str,
        query: str,
        *,
        content: bool,
        flt: SearchFilter,
        offset: int,
        limit: int,
        own: bool = True,
        shared: Sequence[tuple[str, str]] = (),
    ) -> SearchPage:
        """See ``SearchBackend.search``."""
        if offset < 0 or limit < 0:
            raise ValueError("offset and limit cannot be negative")
        if offset + limit > MAX_RESULT_WINDOW:
            raise PageTooDeep(offset, limit)
        tree = lang.parse(query)
        lang.check_fields(tree, content=content)
        with self._lock:
            index = self._index
        try:
            return run(
                index.searcher(),
                owner_id,
                tree,
                content=content,
                flt=flt,
                offset=offset,
                limit=limit,
                own=own,
                shared=shared,
            )
        except ValueError as error:
            # tantivy refused a query the parser let through: a bug here, but still the user's query.
            log.warning("search query refused by tantivy: %s", error)
            raise QuerySyntaxError("This query cannot be run: simplify it.") from error

    def refresh(self) -> None:
        """Follow ``CURRENT`` to a new generation if it moved, else load the latest commit."""
        stat = self._stat_current()
        with self._lock:
            if stat != self._current_stat:
                generation = _read_current(self.root)
                if generation is not None and generation != self._generation:
                    self._index = open_index(self.root / generation)
                    self._generation = generation
                self._current_stat = stat
            index = self._index
        index.reload()

    def holds(self, owner_id: str, document_id: str) -> bool:
        """See ``SearchBackend.holds``."""
        self.refresh()
        with self._lock:
            index = self._index
        query = tantivy.Query.term_query(index.schema, "key", key_of(owner_id, document_id))
        return bool(index.searcher().search(query, 1).hits)

    def _stat_current(self) -> tuple[int, int] | None:
        try:
            stat = (self.root / CURRENT).stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    # Writing and generations

    def writer(self) -> TantivyWriter:
        """A writer on the generation ``CURRENT`` names; ``WriterBusy`` if another writer holds it.

        A rebuild promoted later leaves this writer on the old generation: compare its ``generation``
        with ``current_generation(root)`` and reopen.
        """
        self.refresh()
        with self._lock:
            return TantivyWriter(self._index, self._generation)

    @staticmethod
    def current_generation(root: Path) -> str | None:
        """The generation ``CURRENT`` names, if any: a writer compares it with its own to notice a rebuild."""
        return _read_current(root)

    @staticmethod
    def new_generation(root: Path) -> tuple[str, TantivyWriter]:
        """A new empty generation beside the live one (not live yet), and its writer."""
        root.mkdir(parents=True, exist_ok=True)
        generation = _new_generation_name()
        return generation, TantivyWriter(open_index(root / generation, create=True), generation)

    @staticmethod
    def promote(root: Path, generation: str) -> None:
        """Make ``generation`` the live one, atomically; readers follow on their next ``refresh``."""
        if not _is_generation(root / generation) or not tantivy.Index.exists(str(root / generation)):
            raise ValueError(f"no index generation {generation!r} under {root}")
        _write_file_atomically(root / CURRENT, generation, replace=True)

    @staticmethod
    def collect(root: Path, older_than: timedelta = COLLECT_AFTER) -> list[str]:
        """Delete generations that are neither live nor the newest one, untouched for ``older_than``.

        The newest is kept even when not live: a rebuild may still be filling it. Returns the deleted
        names. Safe while other processes read: an unlinked file lives on while it is open or mapped.
        """
        if not root.is_dir():
            return []
        live = _read_current(root)
        generations = sorted(path for path in root.iterdir() if _is_generation(path))
        newest = generations[-1].name if generations else None
        deadline = time.time() - older_than.total_seconds()
        deleted = []
        for path in generations:
            if path.name in (live, newest):
                continue
            try:
                if path.stat().st_mtime > deadline:
                    continue
            except FileNotFoundError:
                continue
            shutil.rmtree(path, ignore_errors=True)
            deleted.append(path.name)
        return deleted


class TantivyWriter:
    """``IndexWriter`` on one generation. Blocking; use from one thread at a time."""

    def __init__(self, index: tantivy.Index, generation: str) -> None:
        try:
            self._writer: tantivy.IndexWriter | None = index.writer(WRITER_HEAP_BYTES, WRITER_THREADS)
        except ValueError as error:
            if "LockBusy" in str(error):
                raise WriterBusy(f"another writer holds the search index generation {generation}") from error
            raise
        self.generation = generation

    def _open(self) -> tantivy.IndexWriter:
        if self._writer is None:
            raise RuntimeError("this search index writer is closed")
        return self._writer

    def upsert(self, documents: Sequence[IndexedDocument]) -> None:
        """Add each document, replacing any indexed one with the same (owner, id)."""
        writer = self._open()
        for document in documents:
            writer.delete_documents_by_term("key", key_of(document.owner_id, document.document_id))
            writer.add_document(to_tantivy(document))

    def delete(self, owner_id: str, document_ids: Sequence[str]) -> None:
        """Remove these documents of ``owner_id``; unknown ids are ignored."""
        writer = self._open()
        for document_id in document_ids:
            writer.delete_documents_by_term("key", key_of(owner_id, document_id))

    def delete_owner(self, owner_id: str) -> None:
        """Remove every document of ``owner_id``."""
        self._open().delete_documents_by_term("owner", clean(owner_id))

    def commit(self) -> None:
        """Make the changes so far durable and visible to readers after their refresh."""
        self._open().commit()

    def close(self) -> None:
        """Drop uncommitted changes, wait for merges and release the lock; safe to call twice."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.rollback()
            writer.wait_merging_threads()  # consumes tantivy's writer: the lock goes with it

    def __enter__(self) -> TantivyWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
