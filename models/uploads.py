"""The upload life cycle's records: reserve bytes, then count the real object or reject it,
exactly once.

Every transition is a conditional write on the document's status, made in one transaction with
the account's byte counts, so a retry, a second ``completeUpload`` or the sweeper racing the
owner can never count or release bytes twice.

What happens to the files (the copy from the staging key that completion counts, deleting what a
rejection or an expired form leaves) is ``services.uploads``'s, which calls these writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from adapters.messages import UploadCompleted, UploadStarted
from domain.changes import ChangeKind
from domain.documents import DocumentStatus
from models import accounts, changes, documents, keys, outbox, paths, retries, version_uploads
from models.accounts import Account
from models.base import condition_failed, failed_items, number_is, transaction_connection, utcnow
from models.documents import CANCELLED, Document
from models.errors import DocumentNotFound, PathTaken, QuotaExceeded, UploadRejected, VersionConflict
from models.retries import Conflict, Race

if TYPE_CHECKING:
    from datetime import datetime

    from domain.plans import Plan

SWEEP_SHARDS = 8
MISSING_OBJECT = "MISSING_OBJECT"
TOO_LARGE = "TOO_LARGE"
OVER_QUOTA = "OVER_QUOTA"
#: A multipart upload's completion named parts that are not the upload's: missing, unknown, with
#: another ETag, or of another size than the part size (smaller; larger is TOO_LARGE).
PARTS_MISMATCH = "PARTS_MISMATCH"
#: A multipart upload left incomplete past ``DOCSTORE_MULTIPART_UPLOAD_SECONDS``: aborted.
EXPIRED = "EXPIRED"
#: An upload of a new version whose document is gone (deleted), or busy with another version.
DOCUMENT_CHANGED = "DOCUMENT_CHANGED"
#: An UPDATE whose base version stopped being the document's current one before it completed.
VERSION_CONFLICT = "VERSION_CONFLICT"
REJECTION_MESSAGES = {
    MISSING_OBJECT: "No file arrived for this upload; request a new form and post the file before completing.",
    TOO_LARGE: "The file is larger than the size declared when the upload was requested.",
    OVER_QUOTA: "Counting this file would pass the plan's storage limit.",
    PARTS_MISMATCH: (
        "The parts named are not the upload's parts: every part from 1 to partCount, each with the ETag S3 "
        "answered for it, each but the last exactly partSize bytes, adding up to the declared size."
    ),
    EXPIRED: "The multipart upload was not completed in time and was aborted.",
    CANCELLED: "The upload was cancelled.",
    DOCUMENT_CHANGED: "The document this version was for was deleted, or has another version in progress.",
    VERSION_CONFLICT: "The document has a newer version than the one this update was based on.",
}


def start(
    account: Account,
    *,
    document_id: str,
    name: str,
    content_type: str,
    size: int,
    tags: list[str],
    description: str,
    form_seconds: int,
    sweep_grace_seconds: int,
    path: str | None = None,
    now: datetime | None = None,
    messages: list[outbox.Pending] | None = None,
    multipart: Multipart | None = None,
    taken: Taken | None = None,
    version_of: Document | None = None,
    base_version: int | None = None,
    keep_versions: int | None = None,
    make_public: bool = False,
) -> Document:
    """Reserve ``size`` bytes and create the ``PENDING_UPLOAD`` record at ``path`` (by default
    ``/`` + its name) with its path's claim, in one transaction, with an ``upload.started``
    message in the outbox, delayed until the form and the sweeper's grace have passed: it settles
    the upload if nobody completes it. ``messages`` receives it once committed.

    The upload adds a document and never replaces one: where another document holds the path,
    the record is put at the first free numbered copy of it, Dropbox-style (``/report (1).pdf``),
    found with one Query of the owner's claims, and the transaction is sent again (again, when
    another upload took that one meanwhile).

    A ``multipart`` upload (``form_seconds`` is then how long it may stay incomplete) records its
    key, upload id and part size, and has no message: its time passes SQS's longest delay, so
    the sweeper alone settles it, from the sweep index.

    With ``taken`` (mode OVERWRITE or UPDATE) a taken path raises it instead, after the one
    failed transaction. With ``version_of`` (the document that holds the path, as read) the
    upload is of a new version of it: the record claims no path (it shows the document's), is not
    listed, notes ``base_version`` (UPDATE: the version the document must still be at, checked in
    this transaction and again at completion, else :class:`VersionConflict`) and how many
    versions the plan keeps; the transaction checks that the document is still there
    (:class:`DocumentNotFound` otherwise).

    :class:`QuotaExceeded` when the reservation would pass the plan's limit, with the account's
    numbers as read after the refusal; :class:`PlanRace` when the plan changed before every
    attempt; either way nothing is written.
    """
    now = now or utcnow()
    path = path or paths.default(name)
    if version_of is not None:
        path = documents.path_of(version_of)
    expires = now + timedelta(seconds=form_seconds)
    document = Document(
        owner_id=account.id,
        document_id=document_id,
        name=name,
        name_folded=documents.fold(name),
        name_key=documents.name_key(name, document_id),
        path=path,
        path_key=paths.key(path),
        content_type=content_type,
        size=size,
        declared_size=size,
        tags=tags,
        description=description,
        status=DocumentStatus.PENDING_UPLOAD,
        # Where the form posts, until completion; a multipart upload's parts go to its final key.
        object_key=keys.staging(account.id, document_id) if multipart is None else multipart.object_key,
        upload_id=None if multipart is None else multipart.upload_id,
        part_size=None if multipart is None else multipart.part_size,
        created_at=now,
        updated_at=now,
        updated_key=documents.updated_key(now, document_id),
        upload_expires_at=expires,
        sweep_shard=str(ord(document_id[-1]) % SWEEP_SHARDS),
        sweep_at=int((expires + timedelta(seconds=sweep_grace_seconds)).timestamp()) + 1,
    )
    if make_public:  # a share link is made once the upload completes (services.share_links)
        document.make_public = True
    if version_of is not None:
        document.path_key = None
        document.version_of = version_of.document_id
        document.base_version = base_version
        document.keep_versions = keep_versions
    started = UploadStarted(account_id=account.id, document_id=document_id)
    delay = form_seconds + sweep_grace_seconds + 1
    current = account  # after a plan change raced the reservation, the account as it is now

    def attempt(_: int) -> Document:
        nonlocal current
        for _rename in range(paths.RENAME_ATTEMPTS):
            limit = current.limit_bytes
            try:
                with TransactWrite(connection=transaction_connection()) as transaction:
                    transaction.update(
                        Account(id=current.id),
                        actions=[Account.reserved_bytes.add(size), Account.allocated_bytes.add(size)],
                        condition=(Account.plan == current.plan)
                        & (Account.allocated_bytes <= limit - size)
                        & (Account.over_quota == False),  # noqa: E712 (a DynamoDB condition, not a test)
                    )
                    transaction.save(document, condition=Document.document_id.does_not_exist())
                    message = None
                    if multipart is None:
                        message = outbox.put(transaction, started, delay_seconds=delay, now=now)
                    if version_of is None:
                        paths.claim(transaction, current.id, str(document.path), document_id)
                    else:
                        target = Document.status.is_in(*paths.CLAIMING) & Document.version_of.does_not_exist()
                        if base_version is not None:
                            target &= number_is(Document.version, base_version if base_version > 1 else 0)
                        transaction.condition_check(
                            Document, version_of.owner_id, version_of.document_id, condition=target
                        )
                        # So that a delete of the document finds this upload and releases it.
                        until = expires + timedelta(seconds=sweep_grace_seconds)
                        version_uploads.put(transaction, current.id, version_of.document_id, document_id, until)
            except TransactWriteError as error:
                if version_of is not None:
                    # [document check, document put, outbox put (none for a multipart upload),
                    # version_uploads put, account update]
                    target_failed, *others, account_failed = failed_items(error)
                    if target_failed:
                        now_there = read(version_of.owner_id, version_of.document_id)
                        if now_there is None or now_there.status not in paths.CLAIMING:
                            raise DocumentNotFound(version_of.document_id) from None
                        raise VersionConflict(now_there.current_version) from None
                    if any(others) or not account_failed:
                        raise
                    fresh = accounts.get(current.id)
                    full = fresh.over_quota or fresh.allocated_bytes + size > fresh.limit_bytes
                    if fresh.plan == current.plan or full:
                        raise QuotaExceeded(
                            limit_bytes=fresh.limit_bytes,
                            used_bytes=int(fresh.used_bytes),
                            reserved_bytes=int(fresh.reserved_bytes),
                            requested_bytes=size,
                        ) from None
                    current = fresh
                    raise Conflict from None
                # [document put, outbox put (none for a multipart upload), claim put, account update]
                *others, claim_failed, account_failed = failed_items(error)
                if claim_failed and not account_failed and not any(others):
                    if taken is not None:
                        raise taken from None
                    # The path is taken: the first free numbered copy of the one asked for, and again.
                    document.path = paths.next_free(current.id, path)
                    document.path_key = paths.key(document.path)
                    continue
                if any(others) or not account_failed:
                    raise
                fresh = accounts.get(current.id)
                if fresh.plan == current.plan or fresh.over_quota or fresh.allocated_bytes + size > fresh.limit_bytes:
                    raise QuotaExceeded(
                        limit_bytes=fresh.limit_bytes,
                        used_bytes=int(fresh.used_bytes),
                        reserved_bytes=int(fresh.reserved_bytes),
                        requested_bytes=size,
                    ) from None
                current = fresh
                raise Conflict from None  # the plan changed under us: try again against the new limit
            if messages is not None and message is not None:
                messages.append(message)
            return document
        raise Conflict  # other uploads took every free copy found: a moment later, look again

    return retries.retry(Race.PLAN, account.id, attempt)


class Taken(PathTaken):
    """Raised by :func:`start` (given as ``taken``) when the path is another document's."""


@dataclass(frozen=True)
class Multipart:
    """Where a multipart upload's parts go: S3's upload at ``object_key``, in parts of ``part_size``."""

    object_key: str
    upload_id: str
    part_size: int


class SettledMeanwhile(Exception):
    """:func:`count` found the upload no longer pending: another call settled it first."""


class PastLimit(Exception):
    """:func:`count` was refused by the account: the file does not fit the plan it was counted
    against, or the account is no longer on that plan."""


def settled(owner_id: str, document_id: str) -> Document:
    """The upload as it was settled, read consistently: the document (pending, or counted), or
    :class:`UploadRejected` with the reason it was rejected for."""
    document = documents.get(owner_id, document_id)
    if document.status == DocumentStatus.REJECTED:
        reason = document.failure_reason or MISSING_OBJECT
        raise UploadRejected(reason, REJECTION_MESSAGES.get(reason, "The upload was rejected."))
    return document


@dataclass(frozen=True)
class Counted:
    """A pending upload counted: its ``upload.completed`` message, and the document as the count
    left it (``documents.as_written``: ``PROCESSING``, with the checked file's key, size and
    checksum)."""

    message: outbox.Pending
    document: Document


def count(
    document: Document,
    stored: str,
    size: int,
    checksum: str,
    plan: Plan,
    now: datetime,
    recorded: list[changes.Change] | None = None,
) -> Counted:
    """Count a pending upload's checked file, kept at ``stored`` (``size`` bytes, S3's ``checksum``):
    the document is ``PROCESSING`` with that size and checksum, the account's reservation becomes usage, and an
    ``upload.completed`` message is in the outbox and the change feed has its ``CREATED`` change
    (``models.changes``), all in one transaction, conditioned on the account being on ``plan``
    with room for the file. The message, once committed, and the document as written (not read
    again); ``recorded`` receives the change.

    :class:`SettledMeanwhile` (also when it moved since it was read: read it again) or
    :class:`PastLimit` when a condition failed; nothing is written. Another change of the account
    taking the feed's next number first is a race (``models.retries``), tried again.
    """
    owner_id, document_id = document.owner_id, document.document_id
    completed = UploadCompleted(account_id=owner_id, document_id=document_id)
    values: dict[str, Any] = {
        "status": DocumentStatus.PROCESSING,
        "object_key": stored,
        "size": size,
        "checksum": checksum,
        **documents.touch(document_id, now),
        "sweep_shard": None,
        "sweep_at": None,
    }

    try:
        message, change = changes.retried(owner_id, lambda: _count(document, values, size, plan, now, completed))
    except TransactWriteError as error:
        flags = changes.others(failed_items(error))  # [outbox put, account update, document update]
        if flags[2:3] == [True]:
            raise SettledMeanwhile from None
        if flags[1:2] == [True]:
            raise PastLimit from None
        raise
    if recorded is not None:
        recorded.append(change)
    return Counted(message, documents.as_written(document, values))


def _count(
    document: Document, values: dict[str, Any], size: int, plan: Plan, now: datetime, completed: UploadCompleted
) -> tuple[outbox.Pending, changes.Change]:
    """One attempt of :func:`count`: its transaction, writing ``values`` to the document."""
    owner_id, document_id = document.owner_id, document.document_id
    with TransactWrite(connection=transaction_connection()) as transaction:
        message = outbox.put(transaction, completed, now=now)
        transaction.update(
            Account(id=owner_id),
            actions=[
                Account.used_bytes.add(size),
                Account.reserved_bytes.add(-document.declared_size),
                Account.allocated_bytes.add(size - document.declared_size),
                Account.document_count.add(1),
            ],
            condition=(Account.used_bytes <= plan.limit_bytes - size) & (Account.plan == plan),
        )
        transaction.update(
            document,
            actions=documents.setting(values),
            condition=(Document.status == DocumentStatus.PENDING_UPLOAD) & documents.path_unchanged(document),
        )
        change = changes.record(
            transaction, owner_id, ChangeKind.CREATED, document_id, documents.path_of(document), now=now
        )
    return message, change


def reject(document: Document, reason: str, now: datetime | None = None) -> bool:
    """Release the reservation, free the path and mark the upload ``REJECTED`` with ``reason``, in
    one transaction; False, and nothing written, when it was settled by someone else meanwhile.
    An upload moved meanwhile is read again and rejected where it is now.

    The document stays in the sweep index, so an object that lands later is cleaned up once the
    form has expired.
    """
    now = now or utcnow()
    for _ in range(paths.RENAME_ATTEMPTS):
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.update(
                    Account(id=document.owner_id),
                    actions=[
                        Account.reserved_bytes.add(-document.declared_size),
                        Account.allocated_bytes.add(-document.declared_size),
                    ],
                    condition=Account.id.exists(),
                )
                transaction.update(
                    document,
                    actions=documents.rejected(document.document_id, reason, now),
                    condition=(Document.status == DocumentStatus.PENDING_UPLOAD) & documents.path_unchanged(document),
                )
                paths.free(transaction, document.owner_id, document.path_key, document.document_id)
                if document.version_of is not None:
                    version_uploads.forget(transaction, document.owner_id, document.version_of, document.document_id)
        except TransactWriteError as error:
            if not any(failed_items(error)):
                raise
            fresh = read(document.owner_id, document.document_id)
            if fresh is None or fresh.status != DocumentStatus.PENDING_UPLOAD or fresh.path_key == document.path_key:
                return False
            document = fresh  # moved meanwhile: reject it where it is now
            continue
        return True
    return False


def forget_rejected(document: Document) -> bool:
    """The owner deletes a rejected upload: forget its record now, or, while its form may still
    deliver an object, mark it cancelled for the sweeper to delete with that object. False when
    there was nothing left to forget (not rejected, or cancelled already)."""
    if document.status != DocumentStatus.REJECTED:
        return False
    if document.sweep_at is None:
        return documents.delete_record(document, status=DocumentStatus.REJECTED)
    try:
        document.update(
            actions=[Document.failure_reason.set(CANCELLED)],
            condition=(Document.status == DocumentStatus.REJECTED) & ~(Document.failure_reason == CANCELLED),
        )
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def read(owner_id: str, document_id: str) -> Document | None:
    """The record as it is now (a consistent read), cancelled uploads too; None if there is none."""
    try:
        return Document.get(owner_id, document_id, consistent_read=True)
    except Document.DoesNotExist:
        return None


def due_for_sweep(now: datetime | None = None, limit: int = 100) -> list[tuple[str, str]]:
    """(owner, document) keys whose upload forms expired, oldest first, across every shard."""
    cutoff = int((now or utcnow()).timestamp())
    keys: list[tuple[str, str]] = []
    for shard in range(SWEEP_SHARDS):
        for item in Document.sweep_due.query(str(shard), Document.sweep_at <= cutoff, limit=limit):
            keys.append((item.owner_id, item.document_id))
    return keys


def leave_sweep(document: Document) -> None:
    """Nothing more for the sweeper to do with this document: out of the sweep index."""
    actions: list[Any] = [Document.sweep_shard.remove(), Document.sweep_at.remove()]
    try:
        document.update(actions=actions, condition=Document.status == document.status)
    except UpdateError as error:
        if not condition_failed(error):
            raise
