"""Documents: one row per document under its owner, listed through local indexes, never scanned."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DeleteError, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.transactions import TransactWrite
from ulid import ULID

from adapters.messages import DocumentDeleted, IndexDocument, new_key
from domain.changes import ChangeKind
from domain.documents import STORED, DocumentStatus
from domain.plans import Plan
from models import accounts, changes, counters, outbox, paths, retries, version_rows
from models.accounts import Account
from models.base import (
    BaseMeta,
    EnumAttribute,
    TableModel,
    condition_failed,
    failed_items,
    transaction_connection,
    utcnow,
)
from models.errors import AccountNotFound, DocumentNotFound, PathTaken, VersionConflict
from models.retries import Conflict, Race

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from pynamodb.expressions.condition import Condition

#: A rejection the owner asked for (deleting an upload in progress): the document is gone to them.
CANCELLED = "CANCELLED"
#: How long a rejected upload stays visible (with its reason) before DynamoDB's TTL removes it.
REJECTED_KEPT_FOR = timedelta(days=7)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ByName(LocalSecondaryIndex["Document"]):
    class Meta:
        index_name = "by-name"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    name_key = UnicodeAttribute(range_key=True)


class ByUpdated(LocalSecondaryIndex["Document"]):
    class Meta:
        index_name = "by-updated"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    updated_key = UnicodeAttribute(range_key=True)


class SweepDue(GlobalSecondaryIndex["Document"]):
    """Sparse: only documents whose upload form may still deliver an object are in it."""

    class Meta:
        index_name = "sweep-due"
        projection = KeysOnlyProjection()

    sweep_shard = UnicodeAttribute(hash_key=True)
    sweep_at = NumberAttribute(range_key=True)


class Document(TableModel):
    """A document. The id is a ULID, so the range key sorts by creation time.

    ``name_key`` and ``updated_key`` end with the id, so sort keys never tie and cursors are exact.
    ``size`` is the counted size (the declared one until the upload completes).
    """

    class Meta(BaseMeta):
        table_name = "documents"

    owner_id = UnicodeAttribute(hash_key=True)
    document_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    name_folded = UnicodeAttribute()
    name_key = UnicodeAttribute()
    #: Where the document sits in its owner's tree (``models.paths``), as spelt when given, and
    #: its compared form, which the owner's claim in the ``paths`` table holds. Null only on
    #: records written before paths, until the start-up backfill gives them one.
    path = UnicodeAttribute(null=True)
    path_key = UnicodeAttribute(null=True)
    content_type = UnicodeAttribute()
    size = NumberAttribute()
    declared_size = NumberAttribute()
    #: S3's ETag of the counted copy, set at completion: the MD5 of its bytes, hex, for a form's upload;
    #: for a multipart upload, the MD5 of the parts' MD5s, ``-`` and the part count (``content_hash``
    #: is the same for the same bytes however they were sent).
    checksum = UnicodeAttribute(null=True)
    #: The content hash of the stored bytes (``domain.content_hash``, docs/CONTENT_HASH.md), computed
    #: by the pipeline while it downloads them, recorded with the detected type (``processing.count``).
    #: None until then, for REJECTED documents (they store no bytes), and for documents processed
    #: before content hashes, until the backfill gives them one.
    content_hash = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    description = UnicodeAttribute(default="")
    status = EnumAttribute(DocumentStatus)
    #: Where the document's bytes are: its staging key while PENDING_UPLOAD (where the form posts),
    #: then the copy completion counted (``models.keys``). Records completed before staging keys
    #: name ``{owner}/{document}/original``, which the form wrote directly.
    object_key = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    updated_key = UnicodeAttribute()
    upload_expires_at = UTCDateTimeAttribute()
    #: A multipart upload's S3 upload id and part size (requestMultipartUpload): its parts are put
    #: straight to ``object_key``, which S3 assembles on completion. None for a form's upload.
    upload_id = UnicodeAttribute(null=True)
    part_size = NumberAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    sweep_shard = UnicodeAttribute(null=True)
    sweep_at = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    #: Set once the pipeline counted the document in the dashboard counters, under this plan
    #: and detected type; a delete takes exactly those back out.
    counted_plan = EnumAttribute(Plan, null=True)
    counted_type = UnicodeAttribute(null=True)
    #: Where the extracted text is stored (PREMIUM, searchable types), for the search index.
    text_key = UnicodeAttribute(null=True)
    #: Set while PROCESSING once the work is done but for the search index: the indexer takes the
    #: document in, and READY is written only once the index holds it.
    indexing = BooleanAttribute(null=True)
    pages = NumberAttribute(null=True)
    #: The content hash of the bytes whose thumbnails are stored (``keys.thumbnail``), and their
    #: sizes (longer side, in pixels: small, large); None when there are none. While a new version
    #: is PROCESSING they are still the previous version's, as downloads are.
    thumbnail_hash = UnicodeAttribute(null=True)
    thumbnail_sizes = ListAttribute(of=NumberAttribute, null=True)
    #: The current version's number (``models.versions``): None reads 1, a document never
    #: given a second version; when it was made (None: ``created_at``).
    version = NumberAttribute(null=True)
    version_at = UTCDateTimeAttribute(null=True)
    #: While a new version is PROCESSING, the previous version's object, which downloads still
    #: serve until the new one is READY (or FAILED).
    served_key = UnicodeAttribute(null=True)
    #: Set on an upload that adds a version to another document (``mode`` OVERWRITE or UPDATE):
    #: that document's id, the version it must still be at for UPDATE (None: OVERWRITE), and how
    #: many versions the owner's plan keeps. Such a record holds no path claim and is not listed;
    #: its completion makes it the document's new version and deletes it.
    version_of = UnicodeAttribute(null=True)
    base_version = NumberAttribute(null=True)
    keep_versions = NumberAttribute(null=True)
    #: How many live share links the document holds (``models.share_links``: put and counted in one
    #: transaction, under DOCSTORE_SHARE_LINKS_PER_DOCUMENT); None reads 0. On an upload record:
    #: ``make_public``, a link to make once the upload completes (requestUpload's ``public``).
    share_links = NumberAttribute(null=True)
    make_public = BooleanAttribute(null=True)
    #: Who follows the document besides its owner (``models.follows``): the ids of accounts it is
    #: shared with that asked to; None when none. The owner follows unless ``owner_unfollowed``.
    #: On the record so that a change finds its followers in what it read anyway.
    followers = UnicodeSetAttribute(null=True)
    owner_unfollowed = BooleanAttribute(null=True)

    by_name = ByName()
    by_updated = ByUpdated()
    sweep_due = SweepDue()

    @property
    def current_version(self) -> int:
        return int(self.version or 1)

    @property
    def served(self) -> str:
        """The object downloads serve: the previous version's while a new one is processed."""
        return self.served_key or self.object_key

    @property
    def visible(self) -> bool:
        return not (self.status == DocumentStatus.REJECTED and self.failure_reason == CANCELLED)

    @property
    def reachable(self) -> bool:
        """A stored document of its own, which shares, links and followers reach: not an upload in
        progress, a rejected one, or the record of an upload of a new version."""
        return self.status in STORED and self.version_of is None


def fold(text: str) -> str:
    """The form names are compared and sorted in: NFKC, case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def path_of(document: Document) -> str:
    """The document's path; a record written before paths (until the backfill reaches it) is
    shown at its default."""
    return paths.of(document.path, document.name)


def placed(path: str) -> list[Any]:
    """The update actions that put a document at ``path``."""
    return [Document.path.set(path), Document.path_key.set(paths.key(path))]


def path_unchanged(document: Document) -> Condition:
    """The condition that the record still names the path it was read with."""
    if document.path_key is None:
        return Document.path_key.does_not_exist()
    return Document.path_key == document.path_key


def version_unchanged(document: Document) -> Condition:
    """The condition that the record is still at the version it was read with."""
    if document.version is None:
        return Document.version.does_not_exist()
    return Document.version == int(document.version)


def name_key(name: str, document_id: str) -> str:
    return f"{fold(name)}\x1f{document_id}"


def updated_key(updated_at: datetime, document_id: str) -> str:
    return f"{Document.updated_at.serialize(updated_at)}#{document_id}"


def touch(document_id: str, now: datetime) -> dict[str, Any]:
    """The attribute values that record a change at ``now``: the time and its sort key."""
    return {"updated_at": now, "updated_key": updated_key(now, document_id)}


def touched(document_id: str, now: datetime) -> list[Any]:
    """The update actions that record a change at ``now`` (:func:`touch`)."""
    return setting(touch(document_id, now))


def setting(values: Mapping[str, Any]) -> list[Any]:
    """The update actions that give a record these attribute values (None removes the attribute)."""
    return [
        getattr(Document, name).remove() if value is None else getattr(Document, name).set(value)
        for name, value in values.items()
    ]


def as_written(document: Document, values: Mapping[str, Any]) -> Document:
    """A copy of ``document`` as read, with the ``values`` a write of :func:`setting` gave it: the
    record as a write conditioned on what was read left it, with no read back. Attributes the
    write's condition does not cover keep what was read (what another writer changed meanwhile
    shows at the next read)."""
    written = Document.from_raw_data(document.serialize())
    for name, value in values.items():
        setattr(written, name, value)
    return Document.from_raw_data(written.serialize())  # as a read gives it: a removed attribute is absent


def rejected(document_id: str, reason: str, now: datetime) -> list[Any]:
    """The update actions of a rejection: the status, the reason, and a week to live."""
    return [
        Document.status.set(DocumentStatus.REJECTED),
        Document.failure_reason.set(reason),
        *touched(document_id, now),
        Document.expires_at.set(now + REJECTED_KEPT_FOR),
    ]


def get(owner_id: str, document_id: str) -> Document:
    """The owner's document; :class:`DocumentNotFound` for a missing, cancelled or foreign one."""
    try:
        document = Document.get(owner_id, document_id, consistent_read=True)
    except Document.DoesNotExist:
        raise DocumentNotFound(document_id) from None
    if not document.visible:
        raise DocumentNotFound(document_id)
    return document


@dataclass(frozen=True)
class ListFilter:
    name_contains: str | None = None
    tags: tuple[str, ...] = ()
    content_type: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    status: DocumentStatus | None = None
    #: A prefix of the compared path (``models.paths.key``): a folder's whole subtree.
    path_prefix: str | None = None


ORDER_FIELDS = ("CREATED_AT", "UPDATED_AT", "NAME")


def sort_value(document: Document, order: str) -> str:
    """The value a document sorts by in ``order``; a cursor carries it."""
    if order == "NAME":
        return document.name_key
    if order == "UPDATED_AT":
        return document.updated_key
    return document.document_id


def _conditions(flt: ListFilter) -> Condition | None:
    parts: list[Condition] = []
    if flt.status is None:
        parts.append(Document.status.is_in(*STORED))
    else:
        parts.append(Document.status == flt.status)
        if flt.status == DocumentStatus.REJECTED:
            parts.append(~(Document.failure_reason == CANCELLED))
    parts.append(Document.version_of.does_not_exist())  # an upload of a new version is its document's
    if flt.name_contains:
        parts.append(Document.name_folded.contains(fold(flt.name_contains)))
    if flt.path_prefix:
        parts.append(Document.path_key.startswith(paths.key(flt.path_prefix)))
    parts.extend(Document.tags.contains(tag) for tag in flt.tags)
    if flt.content_type:
        parts.append(Document.content_type == flt.content_type)
    if flt.created_after:
        parts.append(Document.created_at > flt.created_after)
    if flt.created_before:
        parts.append(Document.created_at < flt.created_before)
    if flt.updated_after:
        parts.append(Document.updated_at > flt.updated_after)
    if flt.updated_before:
        parts.append(Document.updated_at < flt.updated_before)
    condition = parts[0]
    for part in parts[1:]:
        condition &= part
    return condition


#: Documents a listing reads beyond the page it answers, when only the default filter applies: the
#: uploads and version uploads in progress it leaves out (a few per account at a time).
SLACK = 5


def read_per_request(limit: int, flt: ListFilter) -> int:
    """How many documents each query request of a listing reads (DynamoDB's ``Limit``, counted
    before the filter). The default listing leaves out only uploads in progress, so it reads the
    page, the one that says whether more follow, and :data:`SLACK`: with 50 a request, as before,
    a page of 20 read, sent and parsed two and a half times the documents it answers, once an
    account held 50. A listing the caller filters (a status, a name, tags, a type, dates, a
    folder) may leave out most of what it reads, and reads at least 50 a request, at most 500."""
    if flt == ListFilter():
        return min(limit + 1 + SLACK, 500)
    return min(max(limit + 1, 50), 500)


def page(
    owner_id: str,
    *,
    order: str,
    descending: bool,
    limit: int,
    after: tuple[str, str] | None,
    flt: ListFilter,
) -> tuple[list[Document], bool]:
    """Up to ``limit`` of the owner's documents after the cursor position ``after``
    (``(sort value, document id)``), and whether more follow.

    One DynamoDB query on the owner's partition, read lazily page by page until ``limit + 1``
    documents pass the filter.
    """
    if _empty_range(flt.created_after, flt.created_before) or _empty_range(flt.updated_after, flt.updated_before):
        return [], False
    start: dict[str, Any] | None = None
    if after is not None:
        value, document_id = after
        start = {"owner_id": {"S": owner_id}, "document_id": {"S": document_id}}
        if order == "NAME":
            start["name_key"] = {"S": value}
        elif order == "UPDATED_AT":
            start["updated_key"] = {"S": value}
    query_args: dict[str, Any] = {
        "filter_condition": _conditions(flt),
        "scan_index_forward": not descending,
        "last_evaluated_key": start,
        "page_size": read_per_request(limit, flt),
        "consistent_read": True,
    }
    if order == "NAME":
        results = Document.by_name.query(owner_id, **query_args)
    elif order == "UPDATED_AT":
        if flt.updated_after or flt.updated_before:
            query_args["range_key_condition"] = _time_range(Document.updated_key, flt.updated_after, flt.updated_before)
        results = Document.by_updated.query(owner_id, **query_args)
    else:
        if flt.created_after or flt.created_before:
            query_args["range_key_condition"] = _id_range(flt.created_after, flt.created_before)
        results = Document.query(owner_id, **query_args)
    found: list[Document] = []
    for document in results:
        found.append(document)
        if len(found) > limit:
            return found[:limit], True
    return found, False


def _empty_range(after: datetime | None, before: datetime | None) -> bool:
    """Strictly after and strictly before: nothing fits when ``after`` is not earlier."""
    return after is not None and before is not None and after >= before


def _time_range(attribute: UnicodeAttribute, after: datetime | None, before: datetime | None) -> Condition:
    # The exact bounds are in the filter; this only narrows what DynamoDB reads. Key values may
    # not be empty: every serialised date starts with a digit, so "0" is below them all.
    low = Document.updated_at.serialize(after) if after else "0"
    high = (Document.updated_at.serialize(before) if before else "9999") + "\uffff"
    return attribute.between(low, high)


def _id_prefix(moment: datetime) -> str:
    """The time part of the ULIDs made at ``moment``; ULIDs start in 1970."""
    return str(ULID.from_datetime(max(moment, EPOCH)))[:10]


def _id_range(after: datetime | None, before: datetime | None) -> Condition:
    low = _id_prefix(after) + "0" * 16 if after else "0" * 26
    high = _id_prefix(before) + "Z" * 16 if before else "Z" * 26
    return Document.document_id.between(low, high)


def update_details(
    owner_id: str,
    document_id: str,
    *,
    name: str | None,
    tags: list[str] | None,
    description: str | None,
    now: datetime | None = None,
    messages: list[outbox.Pending] | None = None,
    recorded: list[changes.Change] | None = None,
) -> Document:
    """Rename, retag or redescribe a visible document; :class:`DocumentNotFound` otherwise (then
    nothing is written). The same transaction puts an ``index.document`` message in the outbox,
    so that search follows, and, for a stored document, its ``UPDATED`` change in the change feed
    (an upload in progress is not in the feed yet: its ``CREATED`` comes with its completion);
    ``messages`` and ``recorded`` receive them once committed. The document is read first and
    the write conditioned on what was read (status and path): one that changed meanwhile, or
    another change of the account taking the feed's next number, is read and tried again
    (``models.retries``). The document as the write left it (:func:`as_written`: not read again)."""
    now = now or utcnow()
    values = touch(document_id, now)
    if name is not None:
        values |= {"name": name, "name_folded": fold(name), "name_key": name_key(name, document_id)}
    if tags is not None:
        values["tags"] = tags
    if description is not None:
        values["description"] = description
    actions = setting(values)

    def write(current: Document) -> tuple[outbox.Pending, changes.Change | None]:
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.update(
                current, actions=actions, condition=(Document.status == current.status) & path_unchanged(current)
            )
            indexed = IndexDocument(account_id=owner_id, document_id=document_id, key=new_key())
            message = outbox.put(transaction, indexed, now=now)
            change = None
            if current.status in STORED:
                change = changes.record(
                    transaction, owner_id, ChangeKind.UPDATED, document_id, path_of(current), now=now
                )
        return message, change

    def attempt(_: int) -> tuple[outbox.Pending, changes.Change | None, Document]:
        current = get(owner_id, document_id)
        if current.status not in (DocumentStatus.PENDING_UPLOAD, *STORED):
            raise DocumentNotFound(document_id)
        try:
            if current.status in STORED:
                message, change = changes.retried(owner_id, functools.partial(write, current))
            else:
                message, change = write(current)
        except TransactWriteError as error:
            if any(failed_items(error)):
                raise Conflict from None  # it changed since it was read: look again
            raise
        return message, change, as_written(current, values)

    message, change, written = retries.retry(Race.PLAN, owner_id, attempt)
    if messages is not None:
        messages.append(message)
    if recorded is not None and change is not None:
        recorded.append(change)
    return written


def delete_stored(
    document: Document,
    messages: list[outbox.Pending] | None = None,
    recorded: list[changes.Change] | None = None,
    *,
    if_version: int | None = None,
    deleted: list[Document] | None = None,
    plan: Plan | None = None,
    earlier: list[version_rows.Version] | None = None,
) -> bool:
    """Delete a stored document's record, free its path and give its bytes back to the quota, in
    one transaction, with two messages in the outbox: ``document.deleted`` (the quota level is checked again) and
    ``index.document`` (search forgets it), and its ``DELETED`` change in the change feed;
    ``messages`` and ``recorded`` receive them once committed, ``deleted`` the record as it was
    deleted (read again when it changed since ``document`` was read: a new version meanwhile),
    ``earlier`` the rows of its earlier versions, whose bytes it freed (the transaction holds the
    document at the version read, and only a new version adds or drops a row, so these are all
    it had: ``models.versions.forget`` deletes them without reading them again).

    A counted document leaves the counters of its owner's *current* plan and type, and the
    owner's counted totals, conditioned on that plan: ``plan`` as the caller knows it (the read
    cache's) on the first attempt, so the account need not be read; else, and after a lost race,
    the account is read. When the document moved on since it was read (counted, finished) or a
    plan change raced the delete, it is read again and the delete tried again (``models.retries``);
    :class:`PlanRace`, and nothing deleted, when that happens on every attempt. Returns False
    when the document was already gone (or no longer stored). With ``if_version``,
    :class:`VersionConflict` when a read finds the document at another version (the transaction
    holds it at the version read).
    """
    owner_id, document_id = document.owner_id, document.document_id
    known_plan = plan

    def attempt(number: int) -> bool:
        current = document
        if number > 1:
            try:
                current = Document.get(owner_id, document_id, consistent_read=True)
            except Document.DoesNotExist:
                return False
            if current.status not in STORED:
                return False
            if if_version is not None and current.current_version != if_version:
                raise VersionConflict(current.current_version)
        counted = current.counted_type is not None
        # Every version's bytes go: the current one's and those of the earlier ones kept.
        rows = list(version_rows.earlier(owner_id, document_id))
        size = int(current.size) + sum(int(row.size) for row in rows)
        account_actions: list[Any] = [
            Account.used_bytes.add(-size),
            Account.allocated_bytes.add(-size),
            Account.document_count.add(-1),
        ]
        account_condition = Account.id.exists()
        plan = known_plan if number == 1 else None
        if plan is None and (number > 1 or counted):
            # One read: whether the account is still there (on a retry), and its plan (if counted).
            try:
                plan = accounts.get(owner_id).plan
            except AccountNotFound:
                return False
        if counted:
            account_actions += [Account.counted_documents.add(-1), Account.counted_bytes.add(-size)]
            account_condition &= Account.plan == plan

        def write() -> tuple[list[outbox.Pending], changes.Change]:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.delete(
                    current,
                    condition=(Document.status == current.status)
                    & (Document.size == current.size)
                    & (Document.counted_type.exists() if counted else Document.counted_type.does_not_exist())
                    & path_unchanged(current)
                    & version_unchanged(current),
                )
                paths.free(transaction, owner_id, current.path_key, document_id)  # the path is free again
                if plan is not None and counted:
                    counters.add(
                        transaction, plan=plan, content_type=str(current.counted_type), documents=-1, size=-size
                    )
                if current.status == DocumentStatus.FAILED:
                    counters.add_failed(transaction, -1)
                transaction.update(Account(id=owner_id), actions=account_actions, condition=account_condition)
                sent = [
                    outbox.put(transaction, DocumentDeleted(account_id=owner_id, document_id=document_id)),
                    outbox.put(transaction, IndexDocument(account_id=owner_id, document_id=document_id, key=new_key())),
                ]
                path = path_of(current)
                change = changes.record(transaction, owner_id, ChangeKind.DELETED, document_id, path)
            return sent, change

        try:
            sent, change = changes.retried(owner_id, write)
        except TransactWriteError as error:
            if any(failed_items(error)):
                raise Conflict from None  # the document or the owner's plan changed since it was read: look again
            raise
        if messages is not None:
            messages.extend(sent)
        if recorded is not None:
            recorded.append(change)
        if deleted is not None:
            deleted.append(current)
        if earlier is not None:
            earlier.extend(rows)
        return True

    return retries.retry(Race.PLAN, owner_id, attempt)


def delete_record(document: Document, *, status: DocumentStatus) -> bool:
    """Delete a record that holds no bytes and no reservation (a finished rejection)."""
    try:
        document.delete(condition=Document.status == status)
    except DeleteError as error:
        if condition_failed(error):
            return False
        raise
    return True


def get_many(owner_id: str, document_ids: Sequence[str]) -> dict[str, Document]:
    """The owner's visible documents among ``document_ids`` (one BatchGet per 100), by id.

    Ids that are missing, cancelled or another owner's are simply absent from the answer.
    """
    found: dict[str, Document] = {}
    keys = [(owner_id, document_id) for document_id in dict.fromkeys(document_ids)]
    for start in range(0, len(keys), 100):
        for document in Document.batch_get(keys[start : start + 100], consistent_read=True):
            if document.owner_id == owner_id and document.visible:
                found[document.document_id] = document
    return found


def set_content_hash(document: Document, content_hash: str) -> bool:
    """Record the content hash of a stored document that has none (processed before content
    hashes), read from the bytes at its ``object_key``; False, and nothing written, if it is no
    longer stored (deleted, say), has one already, or its bytes are no longer those."""
    condition = (
        Document.status.is_in(*STORED)
        & Document.content_hash.does_not_exist()
        & (Document.object_key == document.object_key)
    )
    try:
        document.update(actions=[Document.content_hash.set(content_hash)], condition=condition)
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def ready_of(owner_id: str, after: str | None = None, page_size: int | None = None) -> Iterator[Document]:
    """The owner's READY documents, oldest first, those with ids after ``after`` only (one Query
    on the owner's partition, starting at ``after`` rather than reading past what came before).
    ``page_size`` caps the items each request reads, for a caller that takes only a few."""
    return iter(
        Document.query(
            owner_id,
            range_key_condition=Document.document_id > after if after is not None else None,
            filter_condition=Document.status == DocumentStatus.READY,
            consistent_read=True,
            page_size=page_size,
        )
    )


def unhashed_of(owner_id: str, after: str | None = None, page_size: int | None = None) -> Iterator[Document]:
    """The owner's stored documents (PROCESSING, READY, FAILED) that have no content hash, oldest
    first, those with ids after ``after`` only (one Query on the owner's partition; the filter
    skips the hashed ones, which are still read). ``page_size`` as in :func:`ready_of`."""
    return iter(
        Document.query(
            owner_id,
            range_key_condition=Document.document_id > after if after is not None else None,
            filter_condition=Document.status.is_in(*STORED) & Document.content_hash.does_not_exist(),
            consistent_read=True,
            page_size=page_size,
        )
    )


def all_ready() -> Iterator[Document]:
    """Every READY document of every owner: a full Scan, for rebuilding the search index only."""
    return iter(Document.scan(filter_condition=Document.status == DocumentStatus.READY))


def set_text(document: Document, text_key: str, pages: int | None, *, content_hash: str | None = None) -> bool:
    """Record the text extracted later (a plan upgrade) of a READY document, and the content hash
    of the bytes it was extracted from when given (a document processed before content hashes);
    False if it is no longer READY (deleted, say) or already has text."""
    actions: list[Any] = [Document.text_key.set(text_key)]
    if pages is not None:
        actions.append(Document.pages.set(pages))
    if content_hash is not None:
        actions.append(Document.content_hash.set(content_hash))
    try:
        document.update(
            actions=actions, condition=(Document.status == DocumentStatus.READY) & Document.text_key.does_not_exist()
        )
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def move(
    document: Document, path: str, now: datetime | None = None, recorded: list[changes.Change] | None = None
) -> Document:
    """Move the document (as just read) to ``path``: its claim moves and its record changes in one
    transaction, with the ``MOVED`` change of a stored document in the change feed (``recorded``
    receives it). :class:`PathTaken` when another document holds ``path``. A document that changed
    meanwhile (moved, deleted, rejected, completed) is read again and the move tried on what it is
    now; :class:`DocumentNotFound` once it holds no path (gone, rejected). Nothing is written on
    failure."""
    now = now or utcnow()

    def write(document: Document, same_place: bool) -> changes.Change | None:
        with TransactWrite(connection=transaction_connection()) as transaction:
            if not same_place:  # when only the spelling changes, the claim stays as it is
                paths.free(transaction, document.owner_id, document.path_key, document.document_id)
                paths.claim(transaction, document.owner_id, path, document.document_id)
            transaction.update(
                document,
                actions=[*placed(path), *touched(document.document_id, now)],
                condition=(Document.status == document.status) & path_unchanged(document),
            )
            if document.status not in STORED:
                return None  # an upload in progress: in the feed once completed, where it is then
            return changes.record(transaction, document.owner_id, ChangeKind.MOVED, document.document_id, path, now=now)

    for _ in range(paths.RENAME_ATTEMPTS):
        if document.status not in paths.CLAIMING or not document.visible:
            raise DocumentNotFound(document.document_id)
        if document.path == path:
            return document
        same_place = document.path_key == paths.key(path)
        stored = document.status in STORED
        try:
            send = functools.partial(write, document, same_place)
            change = changes.retried(document.owner_id, send) if stored else send()
        except TransactWriteError as error:
            flags = failed_items(error)  # [old claim delete (if it has one), new claim put, document update]
            if stored:
                flags = changes.others(flags)
            if not any(flags):
                raise
            if not same_place and flags[-2]:
                raise PathTaken(path) from None
            try:  # the document changed since it was read: look again
                document = Document.get(document.owner_id, document.document_id, consistent_read=True)
            except Document.DoesNotExist:
                raise DocumentNotFound(document.document_id) from None
            continue
        document.path, document.path_key = path, paths.key(path)
        document.updated_at, document.updated_key = now, updated_key(now, document.document_id)
        if recorded is not None and change is not None:
            recorded.append(change)
        return document
    raise DocumentNotFound(document.document_id)  # it kept changing under every attempt


def holding_under(owner_id: str, prefix_key: str, limit: int) -> tuple[list[Document], bool]:
    """The owner's documents that hold a path whose compared form (``paths.key``) starts with
    ``prefix_key``, at most ``limit`` of them, and whether more are there.

    One Query of the owner's partition, paged by DynamoDB (1 MB a request), filtered on the path
    and the statuses that hold one (``paths.CLAIMING``): it reads the owner's items only, never
    another account's. Reading the claims under the prefix by key range instead would cost a
    BatchGetItem per 100 documents on top, for their hashes (see ``services.checksums``)."""
    results = Document.query(
        owner_id,
        filter_condition=Document.status.is_in(*paths.CLAIMING) & Document.path_key.startswith(prefix_key),
        consistent_read=True,
    )
    found: list[Document] = []
    for document in results:
        if len(found) == limit:
            return found, True
        found.append(document)
    return found, False
