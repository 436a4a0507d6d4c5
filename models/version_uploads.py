"""Uploads of a new version in progress, found from their document.

An upload in mode OVERWRITE or UPDATE is a record of its own (``version_of`` names the document),
which no index of ``documents`` finds from the document. A delete of the document must release
what such an upload holds at once, so each one has a row here, ``(owner, {document}#{upload})``,
put in the transaction that starts the upload, the one that checks the document is still there.
Once a delete of the document has committed, no upload of a version of it can start, and one
consistent Query of these rows finds every one that started before.

The row goes with the upload: in the transaction that makes it the version (``models.versions``)
or rejects it (``models.uploads.reject``: cancelled, expired, refused). Nothing else reads it, so
a row left behind (a process stopped at the wrong moment) costs a read at the document's delete,
and DynamoDB's TTL removes it a day after the upload could last have completed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from pynamodb.attributes import TTLAttribute, UnicodeAttribute

from models.base import BaseMeta, TableModel

if TYPE_CHECKING:
    from datetime import datetime

    from pynamodb.transactions import TransactWrite

#: How long a row outlives the last moment its upload could complete (the form or the multipart
#: upload expired, and the sweeper's grace passed): the sweeper settles it by then.
KEPT_AFTER = timedelta(days=1)


class VersionUpload(TableModel):
    """An upload of a new version of ``document_id`` in progress: ``upload_id`` is its record."""

    class Meta(BaseMeta):
        table_name = "version_uploads"

    owner_id = UnicodeAttribute(hash_key=True)
    upload_key = UnicodeAttribute(range_key=True)
    upload_id = UnicodeAttribute()
    expires_at = TTLAttribute()


def _key(document_id: str, upload_id: str) -> str:
    return f"{document_id}#{upload_id}"


def put(transaction: TransactWrite, owner_id: str, document_id: str, upload_id: str, until: datetime) -> None:
    """Add the row of a starting upload to the transaction that starts it (``until``: the last
    moment it can complete)."""
    row = VersionUpload(
        owner_id=owner_id,
        upload_key=_key(document_id, upload_id),
        upload_id=upload_id,
        expires_at=until + KEPT_AFTER,
    )
    transaction.save(row)


def forget(transaction: TransactWrite, owner_id: str, document_id: str, upload_id: str) -> None:
    """Add the deletion of the upload's row to the transaction that settles the upload."""
    transaction.delete(VersionUpload(owner_id=owner_id, upload_key=_key(document_id, upload_id)))


def of(owner_id: str, document_id: str) -> list[str]:
    """The ids of the uploads of a new version of the document that may still be in progress
    (one consistent Query of the owner's rows for it)."""
    rows = VersionUpload.query(owner_id, VersionUpload.upload_key.startswith(f"{document_id}#"), consistent_read=True)
    return [row.upload_id for row in rows]
