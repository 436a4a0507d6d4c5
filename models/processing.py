"""The pipeline's transitions: PROCESSING to READY, FAILED or REJECTED, and counting.

Each is a conditional write on the document's status, so a message handled twice (or by two
workers at once) changes nothing the second time.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from domain.changes import ChangeKind
from domain.documents import DocumentStatus
from models import accounts, changes, counters, documents, paths, retries
from models.accounts import Account
from models.base import condition_failed, failed_items, transaction_connection, utcnow
from models.documents import Document
from models.errors import AccountNotFound
from models.retries import Conflict, Race

if TYPE_CHECKING:
    from collections.abc import Sequence

    from domain.plans import Plan

WRONG_TYPE = "WRONG_TYPE"


def count(document: Document, *, plan: Plan | None = None, content_type: str, content_hash: str | None = None) -> bool:
    """Count a PROCESSING document in the dashboard counters under its detected type, once.

    It counts under the owner's current plan (``plan`` is only a first guess, read earlier) and
    into the owner's counted totals, conditioned on that plan: if a plan change wins the race the
    transaction is tried again under the new plan. Also records the detected type as the
    document's content type, and ``content_hash`` (the bytes' hash, read with them) in the same
    write. False when it was already counted or is no longer PROCESSING (or
    the owner is gone); :class:`PlanRace` when plan changes win every attempt.
    """
    size = int(document.size)
    if document.counted_type is not None:
        # A new version (``models.versions``): its document is counted already, its bytes were
        # counted when the version was made; what the bytes are is recorded all the same.
        recorded: list[Any] = [Document.content_type.set(content_type)]
        if content_hash is not None:
            recorded.append(Document.content_hash.set(content_hash))
        try:
            document.update(actions=recorded, condition=Document.status == DocumentStatus.PROCESSING)
        except UpdateError as error:
            if not condition_failed(error):
                raise
        return False

    def attempt(number: int) -> bool:
        current = plan if number == 1 else None  # after a lost race, the plan as it is now
        if current is None:
            try:
                current = accounts.get(document.owner_id).plan
            except AccountNotFound:
                return False
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                counters.add(transaction, plan=current, content_type=content_type, documents=1, size=size)
                transaction.update(
                    Account(id=document.owner_id),
                    actions=[Account.counted_documents.add(1), Account.counted_bytes.add(size)],
                    condition=Account.plan == current,
                )
                recorded: list[Any] = [
                    Document.counted_plan.set(current),
                    Document.counted_type.set(content_type),
                    Document.content_type.set(content_type),
                ]
                if content_hash is not None:
                    recorded.append(Document.content_hash.set(content_hash))
                transaction.update(
                    document,
                    actions=recorded,
                    condition=(Document.status == DocumentStatus.PROCESSING) & Document.counted_type.does_not_exist(),
                )
        except TransactWriteError as error:
            failed = failed_items(error)  # updates only: the 3 counters, the account, the document
            if failed[4:5] == [True]:
                return False
            if failed[3:4] == [True]:
                raise Conflict from None  # the plan changed (or the account is gone): read it again
            raise
        return True

    return retries.retry(Race.PLAN, document.owner_id, attempt)


def prepare_for_index(document: Document, *, text_key: str | None = None, pages: int | None = None) -> bool:
    """Done but for the search index: still PROCESSING, with its text, pages and change time
    recorded (all the index entry carries) and ``indexing`` set, so the indexer takes it in before
    ``finish(indexed=True)`` makes it READY. False when it was not PROCESSING."""
    actions: list[Any] = [Document.indexing.set(True), *documents.touched(document.document_id, utcnow())]
    if text_key:
        actions.append(Document.text_key.set(text_key))
    if pages is not None:
        actions.append(Document.pages.set(pages))
    try:
        document.update(actions=actions, condition=Document.status == DocumentStatus.PROCESSING)
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def finish(
    document: Document,
    *,
    failure_reason: str | None = None,
    text_key: str | None = None,
    pages: int | None = None,
    indexed: bool = False,
    thumbnail_hash: str | None = None,
    thumbnail_sizes: Sequence[int] = (),
) -> bool:
    """PROCESSING to READY (or FAILED with a reason, counted in the failed-documents counter in
    the same transaction). False when it was not PROCESSING. ``indexed``: the document went through
    :func:`prepare_for_index`, so its change time stays the one the index entry has.
    ``thumbnail_hash``: the content hash whose thumbnails (``thumbnail_sizes``) are stored for the
    bytes just processed; None removes the previous version's, which no longer show the document."""
    actions: list[Any] = [
        Document.status.set(DocumentStatus.FAILED if failure_reason else DocumentStatus.READY),
        Document.indexing.remove(),
        Document.served_key.remove(),  # downloads serve the new version from now on
    ]
    if not indexed:
        actions += documents.touched(document.document_id, utcnow())
    if failure_reason:
        actions.append(Document.failure_reason.set(failure_reason[:500]))
    if text_key:
        actions.append(Document.text_key.set(text_key))
    if pages is not None:
        actions.append(Document.pages.set(pages))
    if thumbnail_hash is not None:
        actions += [
            Document.thumbnail_hash.set(thumbnail_hash),
            Document.thumbnail_sizes.set(list(thumbnail_sizes)),  # type: ignore[arg-type]  # PynamoDB types lists by attribute
        ]
    else:
        actions += [Document.thumbnail_hash.remove(), Document.thumbnail_sizes.remove()]
    condition = Document.status == DocumentStatus.PROCESSING
    try:
        if failure_reason:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.update(document, actions=actions, condition=condition)
                counters.add_failed(transaction, 1)
        else:
            document.update(actions=actions, condition=condition)
    except TransactWriteError as error:
        if any(failed_items(error)):
            return False
        raise
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def reject(document: Document, reason: str, recorded: list[changes.Change] | None = None) -> bool:
    """PROCESSING to REJECTED: the bytes leave the account's usage (not yet counted anywhere
    else), the path is freed and the change feed has its ``DELETED`` change (``recorded``
    receives it); the caller deletes the object afterwards. False when it was not
    PROCESSING. A document moved meanwhile is read again and rejected where it is now."""
    if document.counted_type is not None:
        # A new version of the wrong type: its document and its other versions stay; it is kept
        # as a FAILED version (restoreVersion brings an earlier one back).
        finish(document, failure_reason=reason)
        return False
    now = utcnow()
    size = int(document.size)

    def write(document: Document) -> changes.Change:
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.update(
                Account(id=document.owner_id),
                actions=[
                    Account.used_bytes.add(-size),
                    Account.allocated_bytes.add(-size),
                    Account.document_count.add(-1),
                ],
                condition=Account.id.exists(),
            )
            transaction.update(
                document,
                actions=documents.rejected(document.document_id, reason, now),
                condition=(Document.status == DocumentStatus.PROCESSING)
                & Document.counted_type.does_not_exist()
                & documents.path_unchanged(document),
            )
            paths.free(transaction, document.owner_id, document.path_key, document.document_id)
            # Counted at completion (CREATED), so the owner's sync clients hear it is gone.
            path = documents.path_of(document)
            return changes.record(
                transaction, document.owner_id, ChangeKind.DELETED, document.document_id, path, now=now
            )

    for _ in range(paths.RENAME_ATTEMPTS):
        try:
            change = changes.retried(document.owner_id, functools.partial(write, document))
        except TransactWriteError as error:
            if not any(changes.others(failed_items(error))):
                raise
            try:
                fresh = Document.get(document.owner_id, document.document_id, consistent_read=True)
            except Document.DoesNotExist:
                return False
            moved = fresh.path_key != document.path_key
            if not moved or fresh.status != DocumentStatus.PROCESSING or fresh.counted_type is not None:
                return False
            document = fresh  # moved meanwhile: reject it where it is now
            continue
        if recorded is not None:
            recorded.append(change)
        return True
    return False
