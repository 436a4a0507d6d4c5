"""Shares: a document shared with another account, as VIEWER or EDITOR.

A share is a row of ``shares`` under its grantee, sorted by document id: the access check of a
grantee (``access.documents``) is one consistent GetItem of the base table, so a removed share
denies access at the very next request, and ``sharedWithMe`` is one Query of the grantee's
partition. The owner's shares of a document come from the ``by-owner`` index (range
``{document_id}#{grantee_id}``): a listing, and the clean-up after a document's delete, where
the index lagging a moment is harmless (a row left behind names a document that answers
NOT_FOUND, and is never shown: the grantee's listing reads each document).

One row per (document, grantee): sharing again changes the role and keeps when it was first
shared. The share is written in one transaction with a check that the document is the owner's
and stored, so no share is ever made of a document deleted meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DeleteError, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from domain.documents import STORED
from domain.sharing import Role
from models import documents
from models.base import (
    BaseMeta,
    EnumAttribute,
    TableModel,
    condition_failed,
    failed_items,
    transaction_connection,
    utcnow,
)
from models.documents import Document
from models.errors import DocumentNotFound, ShareNotFound

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime


class ByOwner(GlobalSecondaryIndex["Share"]):
    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    owner_key = UnicodeAttribute(range_key=True)


class Share(TableModel):
    """One account's access to another account's document."""

    class Meta(BaseMeta):
        table_name = "shares"

    grantee_id = UnicodeAttribute(hash_key=True)
    document_id = UnicodeAttribute(range_key=True)
    owner_id = UnicodeAttribute()
    #: ``{document_id}#{grantee_id}``: the owner's shares of a document, through ``by-owner``.
    owner_key = UnicodeAttribute()
    role = EnumAttribute(Role)
    #: Both emails as they were when shared (an account's email does not change).
    grantee_email = UnicodeAttribute()
    owner_email = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    by_owner = ByOwner()


def owner_key(document_id: str, grantee_id: str) -> str:
    return f"{document_id}#{grantee_id}"


def get(grantee_id: str, document_id: str) -> Share | None:
    """The grantee's share of the document, read consistently; None when there is none."""
    try:
        return Share.get(grantee_id, document_id, consistent_read=True)
    except Share.DoesNotExist:
        return None


def reach(viewer_id: str, document_id: str) -> tuple[Share, Document]:
    """The share that gives the viewer the document, and the document: :class:`DocumentNotFound`
    without a share, or when the document is not :attr:`Document.reachable` (the one rule of what
    a share reaches: ``access.documents`` for requests, the followers' digest for the workers)."""
    share = get(viewer_id, document_id)
    if share is None:
        raise DocumentNotFound(document_id)
    document = documents.get(share.owner_id, document_id)
    if not document.reachable:
        raise DocumentNotFound(document_id)
    return share, document


def put(
    owner_id: str,
    owner_email: str,
    document_id: str,
    grantee_id: str,
    grantee_email: str,
    role: Role,
    now: datetime | None = None,
) -> Share:
    """Share the owner's stored document with the grantee as ``role``, or change the role of the
    share there is: :class:`DocumentNotFound` (nothing written) when the document is not the
    owner's or not stored."""
    now = now or utcnow()
    row = Share(grantee_id=grantee_id, document_id=document_id)
    try:
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.condition_check(
                Document,
                owner_id,
                document_id,
                condition=Document.document_id.exists()
                & Document.status.is_in(*STORED)
                & Document.version_of.does_not_exist(),
            )
            transaction.update(
                row,
                actions=[
                    Share.owner_id.set(owner_id),
                    Share.owner_key.set(owner_key(document_id, grantee_id)),
                    Share.role.set(role),
                    Share.grantee_email.set(grantee_email),
                    Share.owner_email.set(owner_email),
                    Share.created_at.set(Share.created_at | now),
                    Share.updated_at.set(now),
                ],
                # Document ids are unique across accounts: a row of this key is this owner's.
                condition=Share.owner_id.does_not_exist() | (Share.owner_id == owner_id),
            )
    except TransactWriteError as error:
        document_failed, share_failed = failed_items(error)
        if document_failed or share_failed:
            raise DocumentNotFound(document_id) from None
        raise
    found = get(grantee_id, document_id)
    if found is None:  # removed between the commit and this read: as if never shared
        raise DocumentNotFound(document_id)
    return found


def delete(share: Share) -> None:
    """Remove the share: the grantee loses access at once. :class:`ShareNotFound` when it is gone."""
    try:
        share.delete(condition=Share.owner_id == share.owner_id)
    except DeleteError as error:
        if condition_failed(error):
            raise ShareNotFound(share.document_id + share.grantee_id) from None
        raise


#: The most shares ``Document.shares`` lists.
LISTED = 100


def of_document(owner_id: str, document_id: str, limit: int | None = LISTED) -> list[Share]:
    """The owner's shares of a document, in the order of the grantees' ids (the index's copy)."""
    rows = Share.by_owner.query(owner_id, Share.owner_key.startswith(f"{document_id}#"), limit=limit)
    return list(rows)


def of_owner(owner_id: str) -> list[Share]:
    return list(Share.by_owner.query(owner_id))


def page(grantee_id: str, limit: int, after: str | None) -> tuple[list[Share], bool]:
    """The grantee's shares, newest document first: ``limit`` of them after the document id
    ``after``, and whether more follow (one consistent Query, one row more than asked)."""
    condition = Share.document_id < after if after is not None else None
    rows = list(Share.query(grantee_id, condition, consistent_read=True, scan_index_forward=False, limit=limit + 1))
    return rows[:limit], len(rows) > limit


def newest(grantee_id: str, limit: int) -> list[Share]:
    """The grantee's ``limit`` shares of the newest documents (one consistent Query)."""
    return list(Share.query(grantee_id, consistent_read=True, scan_index_forward=False, limit=limit))


def forget_document(owner_id: str, document_id: str) -> list[Share]:
    """Delete every share of a document (its delete has committed); the shares there were."""
    rows = of_document(owner_id, document_id, limit=None)
    with Share.batch_write() as batch:
        for row in rows:
            batch.delete(row)
    return rows


def restore(rows: Iterable[Share]) -> int:
    """Put shares back as they were (``docstore restore``); how many."""
    count = 0
    with Share.batch_write() as batch:
        for row in rows:
            batch.save(row)
            count += 1
    return count


class SharedUpload(TableModel):
    """An upload of a new version that an EDITOR started of a document shared with it: the upload
    record lives under the document's owner (its bytes are the owner's), and this row is how the
    editor's ``completeUpload`` finds it by the upload's id. Kept a day past the form (TTL)."""

    class Meta(BaseMeta):
        table_name = "shared_uploads"

    uploader_id = UnicodeAttribute(hash_key=True)
    upload_id = UnicodeAttribute(range_key=True)
    owner_id = UnicodeAttribute()
    document_id = UnicodeAttribute()
    expires_at = UTCDateTimeAttribute()


def note_upload(uploader_id: str, upload_id: str, owner_id: str, document_id: str, expires_at: datetime) -> None:
    SharedUpload(
        uploader_id=uploader_id, upload_id=upload_id, owner_id=owner_id, document_id=document_id, expires_at=expires_at
    ).save()


def upload_of(uploader_id: str, upload_id: str) -> SharedUpload | None:
    """The editor's upload of that id, read consistently; None when there is none."""
    try:
        return SharedUpload.get(uploader_id, upload_id, consistent_read=True)
    except SharedUpload.DoesNotExist:
        return None
