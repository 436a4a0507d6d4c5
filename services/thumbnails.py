"""Thumbnails in S3: storing what the extraction process rendered, finding what is stored already,
and deleting what no version of a document shows any more.

A document's thumbnails are derived objects: they are not counted in its owner's usage (only the
bytes an upload counted are), and they are stored under content-addressed keys of the document's
own (``models.keys.thumbnail``), each immutable, so a browser or a CDN keeps them for a year. The
pipeline makes them (``workers.pipeline``); a delete of the document takes them with its prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models import documents, keys
from models.errors import DocumentNotFound
from models.version_rows import earlier

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from adapters.s3 import ObjectStore

#: What S3 answers a thumbnail's GET with: a key's bytes never change, so anyone may keep them.
CACHE_CONTROL = "public, max-age=31536000, immutable"
CONTENT_TYPE = "image/webp"


def stored(objects: ObjectStore, owner_id: str, document_id: str, content_hash: str, sizes: Sequence[int]) -> bool:
    """Whether the document has the thumbnails of the bytes ``content_hash`` in every one of
    ``sizes`` already (made for an earlier version with the same bytes: a restore)."""
    return all(objects.head(keys.thumbnail(owner_id, document_id, content_hash, size)) for size in sizes)


def store(
    objects: ObjectStore, owner_id: str, document_id: str, content_hash: str, made: Sequence[tuple[int, Path]]
) -> None:
    """Put each rendered WebP (``(size, path)``) under its content-addressed key, immutable."""
    for size, path in made:
        key = keys.thumbnail(owner_id, document_id, content_hash, size)
        objects.put_file(key, path, content_type=CONTENT_TYPE, cache_control=CACHE_CONTROL)


def prune(objects: ObjectStore, owner_id: str, document_id: str) -> int:
    """Delete the document's thumbnails that none of its versions has any more: those of versions
    the plan's retention dropped, of a version whose processing failed midway, or all of them when
    the document is gone (deleted while the pipeline rendered them). How many were deleted.

    Run by the pipeline after each version is processed (every new version, and so every drop of an
    old one, goes through it): the thumbnails kept are those of the bytes of the current version and
    of every earlier version still kept, so a restore finds its thumbnails made."""
    prefix = keys.thumbnails(owner_id, document_id)
    try:
        record = documents.get(owner_id, document_id)
    except DocumentNotFound:
        return objects.delete_prefix(prefix)
    live = {record.thumbnail_hash, record.content_hash} | {row.content_hash for row in earlier(owner_id, document_id)}
    gone = [key for key in objects.keys_under(prefix) if key[len(prefix) :].split("/", 1)[0] not in live]
    for key in gone:
        objects.delete(key)
    return len(gone)
