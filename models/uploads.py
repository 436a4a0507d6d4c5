"""The upload life cycle: reserve bytes, then count the real object or reject it, exactly once.

Every transition is a conditional write on the document's status, made in one transaction with
the account's byte counts, so a retry, a second ``completeUpload`` or the sweeper racing the
owner can never count or release bytes twice.

The form posts to the document's staging key (``models.keys``). Completion copies what is there
to a key no form can write, counts that copy's size, and records its key: a form posted again
later (S3 takes it until the form expires) lands where nothing reads, and is deleted once the
form has expired.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from adapters.messages import UploadCompleted, UploadStarted
from domain.documents import DocumentStatus
from models import accounts, documents, keys, outbox, retries
from models.accounts import Account
from models.base import condition_failed, failed_items, transaction_connection, utcnow
from models.documents import CANCELLED, Document
from models.errors import DocumentNotFound, QuotaExceeded, UploadRejected
from models.retries import Conflict, Race

if TYPE_CHECKING:
    from datetime import datetime

    from adapters.s3 import ObjectInfo, ObjectStore
    from domain.plans import Plan

log = logging.getLogger(__name__)

SWEEP_SHARDS = 8
MISSING_OBJECT = "MISSING_OBJECT"
TOO_LARGE = "TOO_LARGE"
OVER_QUOTA = "OVER_QUOTA"
REJECTION_MESSAGES = {
    MISSING_OBJECT: "No file arrived for this upload; request a new form and post the file before completing.",
    TOO_LARGE: "The file is larger than the size declared when the upload was requested.",
    OVER_QUOTA: "Counting this file would pass the plan's storage limit.",
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
    now: datetime | None = None,
    messages: list[outbox.Pending] | None = None,
) -> Document:
    """Reserve ``size`` bytes and create the ``PENDING_UPLOAD`` record, in one transaction, with an
    ``upload.started`` message in the outbox, delayed until the form and the sweeper's grace have
    passed: it settles the upload if nobody completes it. ``messages`` receives it once committed.

    :class:`QuotaExceeded` when the reservation would pass the plan's limit, with the account's
    numbers as read after the refusal; :class:`PlanRace` when the plan changed before every
    attempt; either way nothing is written.
    """
    now = now or utcnow()
    expires = now + timedelta(seconds=form_seconds)
    document = Document(
        owner_id=account.id,
        document_id=document_id,
        name=name,
        name_folded=documents.fold(name),
        name_key=documents.name_key(name, document_id),
        content_type=content_type,
        size=size,
        declared_size=size,
        tags=tags,
        description=description,
        status=DocumentStatus.PENDING_UPLOAD,
        object_key=keys.staging(account.id, document_id),  # where the form posts, until completion
        created_at=now,
        updated_at=now,
        updated_key=documents.updated_key(now, document_id),
        upload_expires_at=expires,
        sweep_shard=str(ord(document_id[-1]) % SWEEP_SHARDS),
        sweep_at=int((expires + timedelta(seconds=sweep_grace_seconds)).timestamp()) + 1,
    )
    started = UploadStarted(account_id=account.id, document_id=document_id)
    delay = form_seconds + sweep_grace_seconds + 1
    current = account  # after a plan change raced the reservation, the account as it is now

    def attempt(_: int) -> Document:
        nonlocal current
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
                message = outbox.put(transaction, started, delay_seconds=delay, now=now)
        except TransactWriteError as error:
            if failed_items(error) != [False, False, True]:  # [document put, outbox put, account update]
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
        if messages is not None:
            messages.append(message)
        return document

    return retries.retry(Race.PLAN, account.id, attempt)


def complete(
    store: ObjectStore,
    owner_id: str,
    document_id: str,
    now: datetime | None = None,
    *,
    plan: Plan | None = None,
    messages: list[outbox.Pending] | None = None,
) -> Document:
    """Check the real object and count it: the document is ``PROCESSING`` with its real size and
    checksum, and an ``upload.completed`` message in the outbox (in the same transaction) tells the
    pipeline to take it on; ``messages`` receives it once committed.

    ``plan`` is the owner's plan as the caller knows it (the read cache's): the count is made
    against that plan's limit on the condition that the plan is still that one, so the account
    need not be read first. If the condition fails, the account is read: on another plan, the
    count is tried again against that one (a race, ``models.retries``: :class:`PlanRace` if the
    plan changes before every attempt); on the same one, the usage is past its limit.

    The posted file is copied (server-side) from the staging key to a key of this attempt's own
    first, and the copy is what is checked, counted and recorded as the document's
    ``object_key``: whatever the form posts later, or posted while this ran, changes nothing
    stored. An upload whose form was signed before staging keys (its record names its final
    key) is counted in place.

    A second call returns the same document and writes no message: the first one's is in the
    outbox until SQS has it. A missing object, one larger than declared, or
    usage past the plan's limit rejects the upload (:class:`UploadRejected`): the reservation is
    released and the objects deleted. :class:`DocumentNotFound` for an unknown or foreign id.
    """
    made: list[str] = []
    try:
        record = _settle(store, owner_id, document_id, now, plan, messages, made)
    except (UploadRejected, DocumentNotFound):
        _discard(store, made, kept=None)  # a rejected or vanished upload keeps no copy
        raise
    # Only once the record is read back: a transaction whose answer was lost may have recorded
    # a copy that a retry then saw refused. Any other failure keeps the copies (the document's
    # deletion or rejection removes them with its prefix).
    _discard(store, made, kept=record.object_key)
    return record


def _settle(
    store: ObjectStore,
    owner_id: str,
    document_id: str,
    now: datetime | None,
    plan: Plan | None,
    messages: list[outbox.Pending] | None,
    made: list[str],
) -> Document:
    """:func:`complete`'s work; every copy it makes is added to ``made``."""
    known_plan = plan

    def settled() -> Document:
        """The upload as this call or another settled it: the document, or :class:`UploadRejected`."""
        document = documents.get(owner_id, document_id)
        if document.status == DocumentStatus.REJECTED:
            reason = document.failure_reason or MISSING_OBJECT
            raise UploadRejected(reason, REJECTION_MESSAGES.get(reason, "The upload was rejected."))
        return document

    def rejected(document: Document, reason: str) -> Document:
        _reject(store, document, reason, now)
        decided = settled()  # rejected, by this call or another; or completed by another meanwhile
        if decided.status == DocumentStatus.PENDING_UPLOAD:
            raise Conflict  # the rejection did not land (the account is gone?): look again
        return decided

    def attempt(_: int) -> Document:
        nonlocal known_plan, now
        document = settled()
        if document.status != DocumentStatus.PENDING_UPLOAD:
            return document
        stored, info = _copy_posted(store, document)
        if stored != document.object_key:
            made.append(stored)
        if info is None:
            return rejected(document, MISSING_OBJECT)
        if info.size > document.declared_size:
            return rejected(document, TOO_LARGE)
        if known_plan is None:
            known_plan = accounts.get(owner_id).plan
        now = now or utcnow()
        completed = UploadCompleted(account_id=owner_id, document_id=document_id)
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                message = outbox.put(transaction, completed, now=now)
                transaction.update(
                    Account(id=owner_id),
                    actions=[
                        Account.used_bytes.add(info.size),
                        Account.reserved_bytes.add(-document.declared_size),
                        Account.allocated_bytes.add(info.size - document.declared_size),
                        Account.document_count.add(1),
                    ],
                    condition=(Account.used_bytes <= known_plan.limit_bytes - info.size) & (Account.plan == known_plan),
                )
                transaction.update(
                    document,
                    actions=[
                        Document.status.set(DocumentStatus.PROCESSING),
                        Document.object_key.set(stored),
                        Document.size.set(info.size),
                        Document.checksum.set(info.etag),
                        *documents.touched(document_id, now),
                        Document.sweep_shard.remove(),
                        Document.sweep_at.remove(),
                    ],
                    condition=Document.status == DocumentStatus.PENDING_UPLOAD,
                )
        except TransactWriteError as error:
            flags = failed_items(error)  # [outbox put, account update, document update]
            if flags[2:3] == [True]:
                return settled()  # settled by someone else meanwhile: what they decided
            if flags[1:2] == [True]:
                now_on = accounts.get(owner_id).plan
                if now_on != known_plan:  # counted against a plan the account is not on (any more)
                    known_plan = now_on
                    raise Conflict from None
                return rejected(document, OVER_QUOTA)
            raise
        if messages is not None:
            messages.append(message)
        return documents.get(owner_id, document_id)

    return retries.retry(Race.PLAN, owner_id, attempt)


def _copy_posted(store: ObjectStore, document: Document) -> tuple[str, ObjectInfo | None]:
    """Where a pending upload's bytes are to be kept, and what is there (None: no file arrived)."""
    if not keys.is_staging(document.object_key):
        return document.object_key, store.head(document.object_key)  # posted in place, before staging
    stored = keys.original(document.owner_id, document.document_id, keys.nonce())
    return stored, store.copy(document.object_key, stored)


def _discard(store: ObjectStore, made: list[str], *, kept: str | None) -> None:
    """Delete the copies :func:`complete` made, but the one the record names (``kept``)."""
    for key in made:
        if key != kept:
            _delete_object(store, key)


def _reject(store: ObjectStore, document: Document, reason: str, now: datetime | None = None) -> None:
    """Release the reservation and mark the upload ``REJECTED``, then delete whatever arrived.

    The document stays in the sweep index, so an object that lands later, or a delete that
    fails here, is cleaned up once the form has expired.
    """
    now = now or utcnow()
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
                condition=Document.status == DocumentStatus.PENDING_UPLOAD,
            )
    except TransactWriteError as error:
        if not any(failed_items(error)):
            raise
        return  # settled by someone else meanwhile
    _delete_object(store, document.object_key)


def _delete_object(store: ObjectStore, key: str) -> None:
    try:
        store.delete(key)
    except Exception:
        log.exception("could not delete %s now; the sweeper will try again", key)


def cancel(store: ObjectStore, document: Document, now: datetime | None = None) -> bool:
    """The owner deletes an upload that is not counted: release what it holds, forget it.

    Returns False when there was nothing left to cancel.
    """
    if document.status == DocumentStatus.PENDING_UPLOAD:
        _reject(store, document, CANCELLED, now)
        return _record_status(document) == (DocumentStatus.REJECTED, CANCELLED)
    if document.status != DocumentStatus.REJECTED:
        return False
    if document.sweep_at is None:
        return documents.delete_record(document, status=DocumentStatus.REJECTED)
    # Its form may still deliver an object: the sweeper deletes record and object after expiry.
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


def _record_status(document: Document) -> tuple[DocumentStatus | None, str | None]:
    try:
        fresh = Document.get(document.owner_id, document.document_id, consistent_read=True)
    except Document.DoesNotExist:
        return (None, None)
    return (fresh.status, fresh.failure_reason)


def due_for_sweep(now: datetime | None = None, limit: int = 100) -> list[tuple[str, str]]:
    """(owner, document) keys whose upload forms expired, oldest first, across every shard."""
    cutoff = int((now or utcnow()).timestamp())
    keys: list[tuple[str, str]] = []
    for shard in range(SWEEP_SHARDS):
        for item in Document.sweep_due.query(str(shard), Document.sweep_at <= cutoff, limit=limit):
            keys.append((item.owner_id, item.document_id))
    return keys


def sweep(
    store: ObjectStore,
    owner_id: str,
    document_id: str,
    now: datetime | None = None,
    messages: list[outbox.Pending] | None = None,
) -> str:
    """Settle one expired upload form. Returns what happened, for logs and tests; ``messages``
    receives the ``upload.completed`` message of an upload it completes."""
    try:
        document = Document.get(owner_id, document_id, consistent_read=True)
    except Document.DoesNotExist:
        return "gone"
    if document.status == DocumentStatus.PENDING_UPLOAD:
        try:
            complete(store, owner_id, document_id, now, messages=messages)
        except UploadRejected as rejection:
            return f"rejected:{rejection.reason}"
        if keys.is_staging(document.object_key):
            _delete_object(store, document.object_key)  # copied; the form has expired
        return "completed"
    if document.status == DocumentStatus.REJECTED:
        store.delete(document.object_key)
        # A completion that stopped between its copy and its write may have left the copy.
        store.delete_prefix(keys.document_prefix(owner_id, document_id))
        if document.failure_reason == CANCELLED:
            documents.delete_record(document, status=DocumentStatus.REJECTED)
            return "cancelled"
    _leave_sweep(document)
    return "closed"


def _leave_sweep(document: Document) -> None:
    actions: list[Any] = [Document.sweep_shard.remove(), Document.sweep_at.remove()]
    try:
        document.update(actions=actions, condition=Document.status == document.status)
    except UpdateError as error:
        if not condition_failed(error):
            raise


def form_expired(store: ObjectStore, owner_id: str, document_id: str) -> None:
    """An upload's form has expired: delete what it posted, whatever became of the document
    (it may be gone). Completion copied what it counted; anything still at the staging key was
    posted after that, or never counted."""
    store.delete(keys.staging(owner_id, document_id))


def expire_staging(store: ObjectStore, days: int, now: datetime | None = None) -> int:
    """Delete the staging objects written more than ``days`` ago, as the bucket's lifecycle rule
    does on S3 (the embedded AWS runs no lifecycle rules); how many were deleted."""
    return store.delete_older(keys.STAGING_PREFIX, (now or utcnow()) - timedelta(days=days))
