"""Paths: where a document sits in its owner's tree, unique per account.

A path is ``/`` then segments joined by ``/`` (folders are implied, never stored). Paths compare
as Dropbox's do, ignoring case and Unicode normalisation (``/Report.PDF`` and ``/report.pdf`` are
the same place) while each document keeps the spelling it was given: :func:`key` is the compared
form. Uniqueness is a claim row per (owner, key) in the ``paths`` table, written, moved and
deleted in the same DynamoDB transaction as the document it names, so no race can leave two
documents on one path, or a claim that names no document on its path.

A document holds its claim while it holds bytes or a reservation (``PENDING_UPLOAD`` and the
stored statuses); a rejection or a delete frees it in the transaction that makes it.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from pynamodb.attributes import UnicodeAttribute

from domain.documents import STORED, DocumentStatus
from models.base import BaseMeta, TableModel

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

#: The statuses in which a document holds its path's claim.
CLAIMING = (DocumentStatus.PENDING_UPLOAD, *STORED)
#: How often an upload tries another free name when others keep taking the one it chose.
RENAME_ATTEMPTS = 10


class PathClaim(TableModel):
    """One row per path in use: the unique constraint a secondary index cannot give, and the
    owner's paths in path order (a prefix of ``path_key`` is a folder's whole subtree)."""

    class Meta(BaseMeta):
        table_name = "paths"

    owner_id = UnicodeAttribute(hash_key=True)
    path_key = UnicodeAttribute(range_key=True)
    document_id = UnicodeAttribute()


def key(path: str) -> str:
    """The form paths are compared in: case-folded, NFC (canonical caseless matching)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def default(name: str) -> str:
    """A document's path when none was given: its name at the top of the tree."""
    return "/" + name


def of(path: str | None, name: str) -> str:
    """A document's path: its own, or, on a record written before paths, its default."""
    return path or default(name)


def holder(owner_id: str, path_key: str) -> str | None:
    """The id of the document that holds the path now, if any (one consistent read)."""
    try:
        return PathClaim.get(owner_id, path_key, consistent_read=True).document_id
    except PathClaim.DoesNotExist:
        return None


def numbered(path: str, number: int) -> str:
    """``/a/report.pdf`` as its ``number``-th copy, ``/a/report (number).pdf``; a name with no
    extension (or a dot file) gets the number at its end."""
    folder, _, leaf = path.rpartition("/")
    stem, dot, extension = leaf.rpartition(".")
    if not dot or not stem:
        stem, extension = leaf, ""
    return f"{folder}/{stem} ({number}){'.' + extension if extension else ''}"


def _stem_prefix(path: str) -> str:
    """The key prefix every numbered copy of ``path`` starts with (``/a/report (``)."""
    folder, _, leaf = path.rpartition("/")
    stem, dot, _extension = leaf.rpartition(".")
    return key(f"{folder}/{stem if dot and stem else leaf} (")


def next_free(owner_id: str, path: str) -> str:
    """The first numbered copy of ``path`` that no claim holds now (one Query of the owner's
    claims that start like it). Another upload may take it before this one does: the caller's
    conditional write decides, and it asks again."""
    taken = {
        claim.path_key
        for claim in PathClaim.query(
            owner_id,
            PathClaim.path_key.startswith(_stem_prefix(path)),
            consistent_read=True,
            attributes_to_get=["path_key"],
        )
    }
    number = 1
    while key(numbered(path, number)) in taken:
        number += 1
    return numbered(path, number)


def claim(transaction: TransactWrite, owner_id: str, path: str, document_id: str) -> None:
    """Add the claim of ``path`` for the document to ``transaction``, on the condition that no
    document holds it (a put: one item of the transaction)."""
    transaction.save(
        PathClaim(owner_id=owner_id, path_key=key(path), document_id=document_id),
        condition=PathClaim.path_key.does_not_exist(),
    )


def free(transaction: TransactWrite, owner_id: str, path_key: str | None, document_id: str) -> bool:
    """Add the deletion of the document's claim on ``path_key`` to ``transaction``, on the
    condition that the claim is this document's (a delete: one item of the transaction). False,
    and nothing added, for a record written before paths (``path_key`` None), which holds none."""
    if path_key is None:
        return False
    transaction.delete(PathClaim(owner_id=owner_id, path_key=path_key), condition=PathClaim.document_id == document_id)
    return True
