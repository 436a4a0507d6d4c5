"""The search contract: what is indexed, what a search returns, and the errors a query can cause.

``SearchBackend`` answers queries, ``IndexWriter`` feeds the index; ``tantivy_index.TantivyIndex`` is
the embedded implementation, and an OpenSearch one would implement the same two protocols
(docs/SEARCH.md). Every method is blocking: call it through the Blocking helper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

#: A longer query is a ``QuerySyntaxError``.
MAX_QUERY_CHARS = 10_000
#: Words, phrases and prefixes in one query; 10,000 characters of ordinary text stay under it.
MAX_QUERY_CLAUSES = 2_500
#: Prefixes (``invo*``) in one query: each one walks the term dictionary.
MAX_QUERY_PREFIXES = 50
#: Parentheses nested deeper than this are a ``QuerySyntaxError``.
MAX_QUERY_DEPTH = 20
#: Characters a prefix needs before its ``*``.
MIN_PREFIX_CHARS = 2
#: ``offset + limit`` may not pass this: relevance paging goes no deeper (``PageTooDeep``).
MAX_RESULT_WINDOW = 1_000


@dataclass(frozen=True)
class IndexedDocument:
    """One document as the index holds it; ``(owner_id, document_id)`` identifies it."""

    owner_id: str
    document_id: str
    name: str
    tags: tuple[str, ...]
    description: str
    content_type: str
    created_at: datetime  # tz-aware UTC
    updated_at: datetime
    content: str | None  # None: metadata only (FREE accounts, or no text)


@dataclass(frozen=True)
class SearchFilter:
    """The ``documents`` filter, minus status (only READY documents are indexed).

    ``name_contains`` is a case-insensitive substring of the name (NFKC + casefold, as
    ``models.documents.fold``; empty means no condition), ``tags`` must all be present (exact
    match), ``content_type`` is exact, and the date bounds are strict.
    """

    name_contains: str | None = None
    tags: tuple[str, ...] = ()
    content_type: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None


@dataclass(frozen=True)
class Highlight:
    """Where a hit matched: ``field`` is "name", "tags", "description" or "content"; ``snippet`` is
    an HTML-escaped fragment of that field with the matched words in ``<b>…</b>``."""

    field: str
    snippet: str


@dataclass(frozen=True)
class Hit:
    document_id: str
    score: float
    highlights: tuple[Highlight, ...]


@dataclass(frozen=True)
class SearchPage:
    hits: list[Hit]
    has_more: bool


class QuerySyntaxError(ValueError):
    """The query cannot be read. ``message`` is for the user and says what and where;
    ``position`` is the 0-based character offset in the query, when there is one."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


class ContentSearchNotAllowed(Exception):
    """A metadata-only search (``content=False``, the FREE plan) named the ``content:`` field."""

    def __init__(self, position: int | None = None) -> None:
        super().__init__("Searching the text of documents (content:) needs the PREMIUM plan.")
        self.position = position


class PageTooDeep(ValueError):
    """``offset + limit`` passed ``MAX_RESULT_WINDOW``: narrow the query instead of paging on."""

    def __init__(self, offset: int, limit: int) -> None:
        super().__init__(f"Search results go {MAX_RESULT_WINDOW:,} deep; offset {offset} + limit {limit} is past that.")
        self.offset = offset
        self.limit = limit


class IndexOutdated(Exception):
    """The index was built with another schema (an older DocStore): rebuild it (``docstore reindex``)."""

    def __init__(self, where: object) -> None:
        super().__init__(f"the search index at {where} has another schema: rebuild it with `docstore reindex`")
        self.where = where


class WriterBusy(Exception):
    """Another writer (in this process or another) holds this index: one writer per index folder."""


class SearchBackend(Protocol):
    """Answers one owner's queries. Safe to call from several threads at once."""

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
        """One page of ``owner_id``'s documents matching ``query`` and ``flt``, best first (BM25).

        Only ``owner_id``'s documents (unless ``own`` is False) and the ``shared`` (owner,
        document) pairs, documents other accounts share with ``owner_id``, are ever considered.
        ``content=False`` searches name, tags and description only and raises
        ``ContentSearchNotAllowed`` if the query names ``content:``;
        ``content=True`` searches the text too. Raises ``QuerySyntaxError`` for a query it cannot read
        (an empty or whitespace-only one: "The query is empty."), ``PageTooDeep`` when ``offset +
        limit`` passes ``MAX_RESULT_WINDOW``. ``has_more`` is exact. A query whose words all vanish in
        analysis (only punctuation, say) matches nothing.
        """
        ...

    def validate(self, query: str, *, content: bool) -> None:
        """Parse only: raise what ``search`` would raise for this query, touch no index."""
        ...

    def refresh(self) -> None:
        """Make the latest commit, by any process, visible to later searches."""
        ...

    def holds(self, owner_id: str, document_id: str) -> bool:
        """Whether the latest commit, by any process, holds an entry for this document (refreshes
        first, so a search made after True finds it)."""
        ...


class IndexWriter(Protocol):
    """Changes the index. Nothing is visible to searches before ``commit``. One writer per index."""

    def upsert(self, documents: Sequence[IndexedDocument]) -> None:
        """Add each document, replacing any indexed one with the same (owner, id)."""
        ...

    def delete(self, owner_id: str, document_ids: Sequence[str]) -> None:
        """Remove these documents of ``owner_id``; unknown ids are ignored."""
        ...

    def delete_owner(self, owner_id: str) -> None:
        """Remove every document of ``owner_id``."""
        ...

    def commit(self) -> None:
        """Make every change so far durable and visible to readers that refresh."""
        ...

    def close(self) -> None:
        """Drop uncommitted changes and release the writer lock; safe to call twice."""
        ...
