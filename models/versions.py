"""Versions: a document's earlier contents, kept so they can be listed, downloaded and restored.

The current version lives on the document's own record (``object_key``, ``size``, ``checksum``,
``content_hash``, ``version``); each earlier one is a row of the ``versions`` table under the
owner, sorted by ``{document_id}#v{version:010d}``, so one Query on the owner's partition lists a
document's history newest first without reading another document's. A document never given a
second version has no row: a first upload writes nothing more than before.

A new version is made by one transaction (:func:`add_uploaded`, :func:`restore`): the document
takes the new version's object and number and goes back to ``PROCESSING`` (the pipeline detects,
hashes, extracts and indexes the new bytes; ``served_key`` keeps downloads on the previous
version's object until it is done), the previous current version becomes a row, the rows past the
plan's retention are deleted with their bytes taken off the account and the counters, and the
account's usage grows by the new bytes. Every version's bytes count in the quota. The dashboard's
document counts do not move: a version is bytes, not a document. The objects of deleted rows are
for the caller to delete once committed (``models/`` writes no files).

The change feed's records of a new version and of a restore belong in these two transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from adapters.messages import UploadCompleted
from domain.changes import ChangeKind
from domain.documents import DocumentStatus
from models import accounts, changes, counters, documents, outbox, uploads, version_uploads
from models.accounts import Account
from models.base import transaction_connection
from models.documents import Document
from models.errors import DocumentNotFound, QuotaExceeded, VersionConflict
from models.version_rows import Version, earlier, version_key

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from domain.plans import Plan

#: The statuses a document takes a new version in: its last one is done (not PENDING_UPLOAD or
#: PROCESSING, whose bytes the pipeline still works on).
SETTLED = (DocumentStatus.READY, DocumentStatus.FAILED)
#: How often a new version is tried again when the document changed between the read and the write.
ATTEMPTS = 10


def get(owner_id: str, document_id: str, version: int) -> Version | None:
    try:
        return Version.get(owner_id, version_key(document_id, version), consistent_read=True)
    except Version.DoesNotExist:
        return None


class Changed(Exception):
    """:func:`restore` found the document changed since it was read; nothing was written."""


class TargetGone(Exception):
    """The document a version was for is gone, or is still busy with a version of its own."""


@dataclass(frozen=True)
class Added:
    """A new version made: the document as written (``documents.as_written``: not read again),
    the objects to delete once committed (those of the versions past the retention), and the
    ``upload.completed`` message that has the pipeline process the new bytes."""

    document: Document
    dropped_keys: list[str]
    message: outbox.Pending
    #: The change feed's row of it (``NEW_VERSION`` or ``RESTORED``), to publish once committed.
    change: changes.Change


@dataclass(frozen=True)
class New:
    """The bytes of a new version."""

    object_key: str
    size: int
    checksum: str | None
    content_hash: str | None
    content_type: str


def _previous(document: Document) -> Version:
    return Version(
        owner_id=document.owner_id,
        version_key=version_key(document.document_id, document.current_version),
        document_id=document.document_id,
        version=document.current_version,
        object_key=document.object_key,
        size=int(document.size),
        checksum=document.checksum,
        content_hash=document.content_hash,
        content_type=document.content_type,
        created_at=document.version_at or document.created_at,
    )


def _write(
    document: Document,
    new: New,
    *,
    kind: ChangeKind,
    plan: Plan,
    keep: int,
    now: datetime,
    reserved: int = 0,
    extra: Any = None,
) -> Added:
    """One attempt at the new-version transaction on ``document`` as just read (see the module's
    docstring). ``reserved``: bytes reserved for it that become usage; ``extra(transaction)`` adds
    the caller's items (the upload record's delete). Raises ``TransactWriteError`` as sent."""
    owner_id, document_id = document.owner_id, document.document_id
    number = document.current_version + 1
    dropped = list(earlier(owner_id, document_id, below=number - keep + 1)) if number > keep else []
    freed = sum(int(row.size) for row in dropped)
    grown = new.size - freed
    account_actions: list[Any] = [
        Account.used_bytes.add(grown),
        Account.allocated_bytes.add(grown - reserved),
    ]
    if reserved:
        account_actions.append(Account.reserved_bytes.add(-reserved))
    counted = document.counted_type is not None
    if counted:
        account_actions.append(Account.counted_bytes.add(grown))
    version_condition = documents.version_unchanged(document)
    with TransactWrite(connection=transaction_connection()) as transaction:
        message = outbox.put(transaction, UploadCompleted(account_id=owner_id, document_id=document_id), now=now)
        transaction.update(
            Account(id=owner_id),
            actions=account_actions,
            condition=(Account.used_bytes <= plan.limit_bytes - new.size) & (Account.plan == plan),
        )
        values: dict[str, Any] = {
            "status": DocumentStatus.PROCESSING,
            "object_key": new.object_key,
            "served_key": document.served,
            "size": new.size,
            "declared_size": new.size,
            "content_type": new.content_type,
            "version": number,
            "version_at": now,
            "text_key": None,
            "pages": None,
            "failure_reason": None,
            "indexing": None,
            **documents.touch(document_id, now),
            "checksum": new.checksum or None,
            "content_hash": new.content_hash or None,
        }
        transaction.update(
            document,
            actions=documents.setting(values),
            # The path as read, too: the change row carries it (a move meanwhile: read again).
            condition=(Document.status == document.status)
            & (Document.object_key == document.object_key)
            & version_condition
            & documents.path_unchanged(document),
        )
        if counted:
            counters.add(transaction, plan=plan, content_type=str(document.counted_type), documents=0, size=grown)
        if document.status == DocumentStatus.FAILED:
            counters.add_failed(transaction, -1)
        transaction.save(_previous(document), condition=Version.version_key.does_not_exist())
        for row in dropped:
            transaction.delete(row, condition=Version.version_key.exists())
        if extra is not None:
            extra(transaction)
        # Last, as models.changes wants: another change of the account taking the number first
        # fails this transaction like any change of the document, and the caller reads again.
        path = documents.path_of(document)
        change = changes.record(transaction, owner_id, kind, document_id, path, version=number, now=now)
    return Added(
        document=documents.as_written(document, values),
        dropped_keys=[row.object_key for row in dropped],
        message=message,
        change=change,
    )


def add_uploaded(upload: Document, stored: str, size: int, checksum: str, plan: Plan, now: datetime) -> Added:
    """Make a completed upload of a new version (``upload.version_of``) its document's current
    version: the upload's reservation becomes usage and the upload record is deleted, in the same
    transaction as the new version. Against the document as it is now, read again when it changed
    meanwhile (a restore, another version).

    :class:`TargetGone` when the document is gone or has a version in progress, and
    :class:`VersionConflict` when an UPDATE's base version is no longer the current one (the
    caller rejects the upload then); ``uploads.SettledMeanwhile`` when someone else settled the
    upload meanwhile, ``uploads.PastLimit`` when the account is off ``plan`` or without room.
    Nothing is written when one is raised."""
    owner_id, target_id = upload.owner_id, str(upload.version_of)
    keep = int(upload.keep_versions or 1)

    def extra(transaction: TransactWrite) -> None:
        transaction.delete(upload, condition=Document.status == DocumentStatus.PENDING_UPLOAD)
        version_uploads.forget(transaction, owner_id, target_id, upload.document_id)

    for _ in range(ATTEMPTS):
        document = _settled_document(owner_id, target_id)
        if upload.base_version is not None and document.current_version != int(upload.base_version):
            raise VersionConflict(document.current_version)
        new = New(stored, size, checksum, None, upload.content_type)
        try:
            return _write(
                document,
                new,
                kind=ChangeKind.NEW_VERSION,
                plan=plan,
                keep=keep,
                now=now,
                reserved=int(upload.declared_size),
                extra=extra,
            )
        except TransactWriteError:
            fresh = uploads.read(owner_id, upload.document_id)
            if fresh is None or fresh.status != DocumentStatus.PENDING_UPLOAD:
                raise uploads.SettledMeanwhile from None
            account = accounts.get(owner_id)
            if account.plan != plan or account.used_bytes + size > plan.limit_bytes:
                raise uploads.PastLimit from None
            continue  # the document changed since it was read: look again
    raise TargetGone(target_id)


def _settled_document(owner_id: str, document_id: str) -> Document:
    try:
        document = documents.get(owner_id, document_id)
    except DocumentNotFound:
        raise TargetGone(document_id) from None
    if document.status not in SETTLED or document.version_of is not None:
        raise TargetGone(document_id)
    return document


def restore(document: Document, version: int, copied: New, plan: Plan, keep: int, now: datetime) -> Added:
    """Make a copy (``copied``, already in S3) of the document's earlier ``version`` its new
    current version (see the module's docstring): one transaction, on the document as read.

    :class:`TargetGone` when the document is busy with a version (or gone), :class:`QuotaExceeded`
    when the copy does not fit; :class:`Changed` with nothing written when the document
    changed meanwhile (the caller reads it again)."""
    if document.status not in SETTLED or document.version_of is not None:
        raise TargetGone(document.document_id)
    try:
        return _write(document, copied, kind=ChangeKind.RESTORED, plan=plan, keep=keep, now=now)
    except TransactWriteError:
        account = accounts.get(document.owner_id)
        if account.used_bytes + copied.size > plan.limit_bytes:
            raise QuotaExceeded(
                limit_bytes=account.limit_bytes,
                used_bytes=int(account.used_bytes),
                reserved_bytes=int(account.reserved_bytes),
                requested_bytes=copied.size,
            ) from None
        raise Changed(document.document_id) from None


def forget(rows: Sequence[Version]) -> None:
    """Delete a deleted document's earlier version rows, as its delete read them
    (``documents.delete_stored``'s ``earlier``: their bytes were freed with it, and no version can
    be added to a deleted document, so these are the rows it had); their objects are for the
    caller to delete."""
    with Version.batch_write() as batch:
        for row in rows:
            batch.delete(row)
