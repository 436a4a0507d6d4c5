"""Building blocks for the search tests: documents, an index filled in one commit, short searches."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.search.base import IndexedDocument, SearchFilter, SearchPage
from adapters.search.tantivy_index import TantivyIndex

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def doc(
    owner: str,
    document_id: str,
    name: str = "untitled.pdf",
    *,
    tags: tuple[str, ...] = (),
    description: str = "",
    content: str | None = None,
    content_type: str = "application/pdf",
    created_at: datetime = T0,
    updated_at: datetime | None = None,
) -> IndexedDocument:
    return IndexedDocument(
        owner_id=owner,
        document_id=document_id,
        name=name,
        tags=tags,
        description=description,
        content_type=content_type,
        created_at=created_at,
        updated_at=updated_at or created_at,
        content=content,
    )


def add(index: TantivyIndex, *documents: IndexedDocument) -> None:
    with index.writer() as writer:
        writer.upsert(documents)
        writer.commit()
    index.refresh()


def page(
    index: TantivyIndex,
    owner: str,
    query: str,
    *,
    content: bool = True,
    flt: SearchFilter | None = None,
    offset: int = 0,
    limit: int = 50,
) -> SearchPage:
    return index.search(owner, query, content=content, flt=flt or SearchFilter(), offset=offset, limit=limit)


def ids(index: TantivyIndex, owner: str, query: str, **options: object) -> list[str]:
    return [hit.document_id for hit in page(index, owner, query, **options).hits]  # type: ignore[arg-type]
