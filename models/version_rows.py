"""The rows of earlier versions (``models.versions`` writes them; a document's delete frees their
bytes, ``models.documents``): one row per earlier version under the owner, sorted by
``{document_id}#v{version:010d}``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from models.base import BaseMeta, TableModel

if TYPE_CHECKING:
    from collections.abc import Iterator


class Version(TableModel):
    """An earlier version of a document: its object and what was known of its bytes."""

    class Meta(BaseMeta):
        table_name = "versions"

    owner_id = UnicodeAttribute(hash_key=True)
    version_key = UnicodeAttribute(range_key=True)
    document_id = UnicodeAttribute()
    version = NumberAttribute()
    object_key = UnicodeAttribute()
    size = NumberAttribute()
    checksum = UnicodeAttribute(null=True)
    content_hash = UnicodeAttribute(null=True)
    content_type = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


def version_key(document_id: str, version: int) -> str:
    return f"{document_id}#v{version:010d}"


def earlier(
    owner_id: str, document_id: str, *, newest_first: bool = True, below: int | None = None
) -> Iterator[Version]:
    """The document's earlier versions (one Query of the owner's rows that start with its id),
    newest first, those below version ``below`` only."""
    condition = (
        Version.version_key.between(version_key(document_id, 0), version_key(document_id, below - 1))
        if below is not None
        else Version.version_key.startswith(f"{document_id}#v")
    )
    return iter(Version.query(owner_id, condition, scan_index_forward=not newest_first, consistent_read=True))
