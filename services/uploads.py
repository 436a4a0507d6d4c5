"""Uploads: asking for a form, and completing the upload once the file is posted.

Each use case takes the process's :class:`Services` and plain values and raises typed errors:
:class:`InvalidInput` for a bad request (every field at fault), :class:`QuotaExceeded` when the
reservation does not fit, :class:`DocumentNotFound` for an upload that is not the owner's,
:class:`UploadRejected` when the posted file is refused, :class:`PlanRace` when a plan change
raced the write on every attempt. Nothing is written when one is raised (a rejection writes the
rejection: the reservation is released and the file deleted).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from ulid import ULID

from adapters.s3 import MultipartRefused
from domain.changes import ChangeKind
from domain.documents import STORED, DocumentStatus
from domain.follows import DocumentChange
from events.envelope import Event, EventType
from models import accounts, changes, documents, keys, outbox, retries, shares, uploads, versions
from models.base import utcnow
from models.documents import CANCELLED
from models.errors import DocumentNotFound, UploadCompleted, UploadRejected, VersionConflict
from models.retries import Conflict, Race
from services import changes as changes_service
from services import follows, share_links, validation
from services import versions as version_uploads

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from adapters.s3 import ObjectInfo, ObjectStore
    from domain.plans import Plan
    from models.accounts import Account
    from models.documents import Document
    from runtime.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Form:
    """A signed form to post one file with, for the document it becomes."""

    document_id: str
    url: str
    #: The form's fields, in the order they are to be sent (before the file).
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


async def request_upload(
    services: Services, account: Account, raw: validation.RawUpload, *, version: Versioned | None = None
) -> Form:
    """Reserve room for a file and sign the form that posts it to its staging key.

    The form is signed before the bytes are reserved: a form nobody receives costs nothing, a
    reservation without a form would. The delayed ``upload.started`` message settles the upload
    if nobody completes it.

    With ``version`` (``requestUpload``'s ``documentId``: a document of the account's own, or one
    shared with it as EDITOR, as ``access.documents`` found it) the upload is a new version of
    that document, exactly as its owner's OVERWRITE (UPDATE: at ``ifVersion``) would be: the
    record, the reservation and the staging key are the owner's. An EDITOR's upload is noted
    (``models.shares.note_upload``) so that its ``completeUpload`` finds it.
    """
    settings = services.settings
    upload = validation.upload(raw, settings.redirect_origins, validation.path_limits(settings))
    mode, if_version = validation.upload_mode(getattr(raw, "mode", "ADD"), getattr(raw, "if_version", None))
    if version is not None:
        versioned_input(raw, version.owner.id != account.id)
        if version.document.version_of is not None:  # an upload of a version is no document to add one to
            raise DocumentNotFound(version.document.document_id)
    uploader, account = account, (account if version is None else version.owner)
    now = utcnow()
    document_id = str(ULID.from_datetime(now))
    post = await services.blocking.run(
        functools.partial(
            services.objects.upload_post,
            keys.staging(account.id, document_id),
            content_type=upload.content_type,
            max_bytes=upload.size,
            metadata=upload.metadata,
            expires_in=settings.upload_form_seconds,
            redirect_url=upload.redirect_url,
        )
    )
    started: list[outbox.Pending] = []
    start = functools.partial(
        uploads.start,
        account,
        document_id=document_id,
        name=upload.filename,
        path=upload.path,
        content_type=upload.content_type,
        size=upload.size,
        tags=upload.tags,
        description=upload.description,
        form_seconds=settings.upload_form_seconds,
        sweep_grace_seconds=settings.sweep_grace_seconds,
        now=now,
        messages=started,
        make_public=bool(getattr(raw, "public", False)),
    )
    keep = settings.versions_premium if account.plan.searches_contents else settings.versions_free
    if version is None:
        await services.blocking.run(functools.partial(version_uploads.start, start, mode, if_version, keep))
    else:
        await services.blocking.run(
            functools.partial(start, version_of=version.document, base_version=if_version, keep_versions=keep)
        )
    if uploader.id != account.id and version is not None:
        expires = now + timedelta(seconds=settings.upload_form_seconds, days=1)
        await services.blocking.run(
            shares.note_upload, uploader.id, document_id, account.id, version.document.document_id, expires
        )
    # Delivered once the form has expired: settles the upload if nobody completes it.
    await services.deliver(started)
    await services.publisher.publish(Event(EventType.UPLOAD_STARTED, account.id, document_id=document_id))
    return Form(
        document_id=document_id,
        url=post.url,
        fields=dict(post.fields),
        expires_at=now + timedelta(seconds=settings.upload_form_seconds),
        max_bytes=upload.size,
    )


@dataclass(frozen=True)
class Versioned:
    """The document an upload is a new version of, and its owner (whose quota it counts in)."""

    owner: Account
    document: Document


def versioned_input(raw: validation.RawUpload, by_editor: bool) -> None:
    """What an upload of a new version of a named document may not ask: a path (it keeps the
    document's) and, from an EDITOR, Make Public (only the owner makes links)."""
    problems = []
    if getattr(raw, "path", None) is not None:
        problems.append(validation.Problem("path", "Leave `path` out: the new version keeps the document's path."))
    if by_editor and getattr(raw, "public", False):
        problems.append(validation.Problem("public", "Only the document's owner makes it public."))
    if problems:
        raise validation.InvalidInput(problems)


async def complete_upload(services: Services, account: Account, raw_id: str, by: Account | None = None) -> Document:
    """Keep, check and count the file the form posted: the document, ``PROCESSING`` (the same
    one on a repeated call). Against the plan the caller knows (the read cache's); a plan that
    changed meanwhile is read and the count tried again. ``account`` is the owner; ``by`` who
    completes it (an EDITOR's new version; None: the owner), named to the document's followers."""
    document_id = validation.document_id(raw_id)
    completed: list[outbox.Pending] = []
    recorded: list[changes.Change] = []
    public: list[tuple[str, str]] = []
    record = await services.blocking.run(
        functools.partial(
            complete,
            services.objects,
            account.id,
            document_id,
            plan=account.plan,
            messages=completed,
            recorded=recorded,
            public=public,
        )
    )
    # Only the call that completed it has a message: a repeated call's was sent by the first one,
    # or waits in the outbox for the relay.
    await services.deliver(completed)
    await changes_service.publish(services.publisher, recorded)
    await announce_version(services, record, recorded, by or account)
    await share_links.make_public(services, account.id, public)
    return record


async def announce_version(
    services: Services, record: Document, recorded: Sequence[changes.Change], by: Account
) -> None:
    """A completed upload that made a new version tells the document's other followers."""
    if any(change.kind is ChangeKind.NEW_VERSION for change in recorded):
        await follows.announce(services, record, [DocumentChange.NEW_VERSION], by)


# --- the files of an upload: completion, rejection, cancellation, expiry -----------------------
#
# Blocking functions on an object store, which the API (through the functions above), the
# sweeper and the pipeline all call. The records' writes are ``models.uploads``'s.


def complete(
    store: ObjectStore,
    owner_id: str,
    document_id: str,
    now: datetime | None = None,
    *,
    plan: Plan | None = None,
    messages: list[outbox.Pending] | None = None,
    parts: Sequence[tuple[int, str]] | None = None,
    recorded: list[changes.Change] | None = None,
    public: list[tuple[str, str]] | None = None,
) -> Document:
    """Check the real object and count it: the document is ``PROCESSING`` with its real size and
    checksum, and an ``upload.completed`` message in the outbox (in the same transaction) tells the
    pipeline to take it on; ``messages`` receives it once committed, ``recorded`` its ``CREATED``
    change (``models.changes``), for the caller to publish.

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

    A multipart upload (its record has an ``upload_id``) is completed with the ``parts`` the
    client names, (number, ETag) in order: they must be exactly the parts S3 lists for the
    upload (ListParts), each but the last ``part_size`` bytes, adding up to the declared size;
    then S3 assembles them at the record's key (CompleteMultipartUpload, no copy: the parts were
    put to that key, which no one else writes), and the assembled object is what is checked and
    counted. Once assembled the upload id is gone, so a part URL used again is refused by S3 and
    can change nothing stored. Parts that do not match reject the upload (``PARTS_MISMATCH``, or
    ``TOO_LARGE`` for a part larger than its share): S3's upload is aborted, the reservation
    released. A form's upload named with ``parts``, or a multipart one without, is
    :class:`DocumentNotFound`: each completes through its own mutation.

    ``public`` receives (upload id, document id) when the upload asked for a share link
    (requestUpload's ``public``) and its document is stored, on a repeated call too: the caller
    makes the link (``services.share_links.make_public``, once per upload id).

    A second call returns the same document and writes no message: the first one's is in the
    outbox until SQS has it. A missing object, one larger than declared, or
    usage past the plan's limit rejects the upload (:class:`UploadRejected`): the reservation is
    released and the objects deleted. :class:`DocumentNotFound` for an unknown or foreign id.
    """
    made: list[str] = []
    asked: list[Document] = []
    try:
        record = _settle(store, owner_id, document_id, now, plan, messages, made, parts, recorded, asked)
    except (UploadRejected, DocumentNotFound):
        _discard(store, made, kept=None)  # a rejected or vanished upload keeps no copy
        raise
    if public is not None and asked and asked[-1].make_public and record.status in STORED:
        public.append((document_id, record.document_id))
    # Only once the record is known (as written, or read back after a refused write: a
    # transaction whose answer was lost may have recorded a copy that a retry then saw refused).
    # Any other failure keeps the copies (the document's deletion or rejection removes them with
    # its prefix).
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
    parts: Sequence[tuple[int, str]] | None = None,
    recorded: list[changes.Change] | None = None,
    asked: list[Document] | None = None,
) -> Document:
    """:func:`complete`'s work; every copy (or assembled object) it makes is added to ``made``,
    the upload record as read to ``asked``."""
    known_plan = plan

    def rejected(document: Document, reason: str) -> Document:
        _reject(store, document, reason, now)
        decided = uploads.settled(owner_id, document_id)  # rejected, by this call or another; or completed meanwhile
        if decided.status == DocumentStatus.PENDING_UPLOAD:
            raise Conflict  # the rejection did not land (the account is gone?): look again
        return decided

    def attempt(_: int) -> Document:
        nonlocal known_plan, now
        document = uploads.settled(owner_id, document_id)
        if asked is not None:
            asked.append(document)
        if (document.upload_id is None) != (parts is None):
            raise DocumentNotFound(document_id)
        if document.status != DocumentStatus.PENDING_UPLOAD:
            return document
        if parts is None:
            stored, info = _copy_posted(store, document)
            if stored != document.object_key:
                made.append(stored)
        else:
            stored = document.object_key
            try:
                info = _assemble(store, document, parts)
            except _PartsRefused as refusal:
                return rejected(document, refusal.reason)
            if info is not None:
                made.append(stored)
        if info is None:
            return rejected(document, uploads.MISSING_OBJECT)
        if info.size > document.declared_size:
            return rejected(document, uploads.TOO_LARGE)
        if parts is not None and info.size != document.declared_size:
            return rejected(document, uploads.PARTS_MISMATCH)  # S3 assembled other parts than those checked
        if known_plan is None:
            known_plan = accounts.get(owner_id).plan
        now = now or utcnow()
        try:
            if document.version_of is not None:
                return _add_version(store, document, stored, info, known_plan, now, messages, recorded, rejected)
            counted = uploads.count(document, stored, info.size, info.etag, known_plan, now, recorded)
        except uploads.SettledMeanwhile:
            decided = uploads.settled(owner_id, document_id)  # settled by someone else meanwhile: what they decided
            if decided.status == DocumentStatus.PENDING_UPLOAD:
                raise Conflict from None  # still pending: it moved meanwhile; count it where it is now
            return decided
        except uploads.PastLimit:
            now_on = accounts.get(owner_id).plan
            if now_on != known_plan:  # counted against a plan the account is not on (any more)
                known_plan = now_on
                raise Conflict from None
            return rejected(document, uploads.OVER_QUOTA)
        if messages is not None:
            messages.append(counted.message)
        return counted.document  # as the count wrote it, not read again

    return retries.retry(Race.PLAN, owner_id, attempt)


def _add_version(
    store: ObjectStore,
    upload: Document,
    stored: str,
    info: ObjectInfo,
    plan: Plan,
    now: datetime,
    messages: list[outbox.Pending] | None,
    recorded: list[changes.Change] | None,
    rejected: Callable[[Document, str], Document],
) -> Document:
    """Count a completed upload of a new version as its document's new current version
    (``services.versions.add_uploaded``); the document, ``PROCESSING`` with it. An upload whose
    document is gone or busy, or whose UPDATE base is stale, is rejected."""
    try:
        added = versions.add_uploaded(upload, stored, info.size, info.etag, plan, now)
    except versions.TargetGone:
        return rejected(upload, uploads.DOCUMENT_CHANGED)
    except VersionConflict:
        return rejected(upload, uploads.VERSION_CONFLICT)
    for key in added.dropped_keys:  # the versions past the plan's retention, once committed
        _delete_object(store, key)
    if messages is not None:
        messages.append(added.message)
    if recorded is not None:
        recorded.append(added.change)
    return added.document  # as the new version wrote it, not read again


def _copy_posted(store: ObjectStore, document: Document) -> tuple[str, ObjectInfo | None]:
    """Where a pending upload's bytes are to be kept, and what is there (None: no file arrived)."""
    if not keys.is_staging(document.object_key):
        return document.object_key, store.head(document.object_key)  # posted in place, before staging
    # A new version's bytes are kept under its document, with the document's other versions.
    stored = keys.original(document.owner_id, document.version_of or document.document_id, keys.nonce())
    return stored, store.copy(document.object_key, stored)


class _PartsRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def part_count(document: Document) -> int:
    """How many parts a multipart upload has: its declared size in parts of its part size."""
    return -(-int(document.declared_size) // int(document.part_size or 1))


def part_length(document: Document, number: int) -> int:
    """The bytes part ``number`` of a multipart upload holds: its part size, the last part what
    remains of the declared size. Each part's URL is signed for exactly this many bytes."""
    size, part_size = int(document.declared_size), int(document.part_size or 1)
    count = part_count(document)
    return part_size if number < count else size - part_size * (count - 1)


def _assemble(store: ObjectStore, document: Document, parts: Sequence[tuple[int, str]]) -> ObjectInfo | None:
    """Have S3 assemble a multipart upload from ``parts`` once they are checked against what S3
    holds; what the object holds (None: no upload and no object, it was aborted).
    :class:`_PartsRefused` when the parts are not the upload's."""
    key, upload_id = document.object_key, str(document.upload_id)
    uploaded = store.list_parts(key, upload_id)
    if uploaded is None:
        return store.head(key)  # assembled already, by an earlier attempt or a racing completion
    refusal = _parts_refusal(document, {part.number: (part.etag, part.size) for part in uploaded}, parts)
    if refusal is not None:
        raise _PartsRefused(refusal)
    try:
        info = store.complete_multipart(key, upload_id, parts)
    except MultipartRefused:
        # A part put again since ListParts: its ETag is not the one named any more.
        raise _PartsRefused(uploads.PARTS_MISMATCH) from None
    return info if info is not None else store.head(key)


def _parts_refusal(
    document: Document, uploaded: dict[int, tuple[str, int]], parts: Sequence[tuple[int, str]]
) -> str | None:
    """Why ``parts`` cannot make the upload, if they cannot: a part larger than its share of the
    declared size is ``TOO_LARGE``; a part missing, unknown to S3, with another ETag or smaller
    than its share is ``PARTS_MISMATCH``. Real S3 already refuses a part of another length than
    its URL signs (:func:`part_length`); the embedded S3 checks no signature, so there this is the
    guard (and everywhere, against a part put with credentials rather than a signed URL)."""
    count = part_count(document)
    if any(held > part_length(document, number) for number, (_, held) in uploaded.items()):
        return uploads.TOO_LARGE
    if [number for number, _ in parts] != list(range(1, count + 1)):
        return uploads.PARTS_MISMATCH
    for number, etag in parts:
        if uploaded.get(number) != (etag, part_length(document, number)):
            return uploads.PARTS_MISMATCH
    return None


def _discard(store: ObjectStore, made: list[str], *, kept: str | None) -> None:
    """Delete the copies :func:`complete` made, but the one the record names (``kept``)."""
    for key in made:
        if key != kept:
            _delete_object(store, key)


def _reject(store: ObjectStore, document: Document, reason: str, now: datetime | None = None) -> bool:
    """Release the reservation and mark the upload ``REJECTED``, then abort its multipart upload
    and delete whatever arrived (unless someone else settled it meanwhile: False). An object that
    lands later, or a delete that fails here, is the sweeper's once the form has expired (and a
    multipart upload left open the bucket's lifecycle rule's)."""
    if not uploads.reject(document, reason, now):
        return False
    _abort_multipart(store, document)
    _delete_object(store, document.object_key)
    return True


def _abort_multipart(store: ObjectStore, document: Document) -> None:
    if document.upload_id is None:
        return
    try:
        store.abort_multipart(document.object_key, document.upload_id)
    except Exception:
        log.exception("could not abort the multipart upload of %s now", document.document_id)


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
        fresh = uploads.read(document.owner_id, document.document_id)
        return fresh is not None and (fresh.status, fresh.failure_reason) == (DocumentStatus.REJECTED, CANCELLED)
    # Its form may still deliver an object: then the sweeper deletes record and object after expiry.
    return uploads.forget_rejected(document)


def abort(store: ObjectStore, owner_id: str, document_id: str, now: datetime | None = None) -> int:
    """The owner aborts a multipart upload: the reservation is released, S3's upload aborted (its
    parts freed; a part URL used again is refused) and the record deleted. The bytes it held.

    An upload the sweeper or a completion rejected is forgotten the same way (0 bytes).
    :class:`UploadCompleted` when it was completed; :class:`DocumentNotFound` for an unknown,
    foreign or aborted id, or a form's upload (``deleteDocument`` cancels those).
    """
    while True:
        document = uploads.read(owner_id, document_id)
        if document is None or document.upload_id is None or not document.visible:
            raise DocumentNotFound(document_id)
        if document.status in STORED:
            raise UploadCompleted(document_id, document.status.value)
        held = 0
        if document.status == DocumentStatus.PENDING_UPLOAD:
            if not uploads.reject(document, CANCELLED, now):
                continue  # completed or rejected meanwhile: look again
            held = int(document.declared_size)
        # Nothing can arrive once S3's upload is aborted, so nothing is left for the sweeper.
        store.abort_multipart(document.object_key, document.upload_id)
        store.delete(document.object_key)
        documents.delete_record(document, status=DocumentStatus.REJECTED)
        return held


def sweep(
    store: ObjectStore,
    owner_id: str,
    document_id: str,
    now: datetime | None = None,
    messages: list[outbox.Pending] | None = None,
    recorded: list[changes.Change] | None = None,
    completed: list[Document] | None = None,
) -> str:
    """Settle one expired upload form. Returns what happened, for logs and tests; ``messages``
    receives the ``upload.completed`` message of an upload it completes, ``recorded`` its change,
    ``completed`` the document it completed (for a new version's upload, the document it is a
    version of: the upload's own record is gone)."""
    document = uploads.read(owner_id, document_id)
    if document is None:
        return "gone"
    if document.status == DocumentStatus.PENDING_UPLOAD:
        if document.upload_id is not None:
            # Left incomplete for DOCSTORE_MULTIPART_UPLOAD_SECONDS: aborted, as the lifecycle rule does.
            return f"rejected:{uploads.EXPIRED}" if _reject(store, document, uploads.EXPIRED, now) else "settled"
        try:
            record = complete(store, owner_id, document_id, now, messages=messages, recorded=recorded)
        except UploadRejected as rejection:
            return f"rejected:{rejection.reason}"
        if keys.is_staging(document.object_key):
            _delete_object(store, document.object_key)  # copied; the form has expired
        if completed is not None:
            completed.append(record)
        return "completed"
    if document.status == DocumentStatus.REJECTED:
        if document.upload_id is not None:
            store.abort_multipart(document.object_key, document.upload_id)
        store.delete(document.object_key)
        # A completion that stopped between its copy and its write may have left the copy.
        store.delete_prefix(keys.document_prefix(owner_id, document_id))
        if document.failure_reason == CANCELLED:
            documents.delete_record(document, status=DocumentStatus.REJECTED)
            return "cancelled"
    uploads.leave_sweep(document)
    return "closed"


def form_expired(store: ObjectStore, owner_id: str, document_id: str) -> None:
    """An upload's form has expired: delete what it posted, whatever became of the document
    (it may be gone). Completion copied what it counted; anything still at the staging key was
    posted after that, or never counted."""
    store.delete(keys.staging(owner_id, document_id))


def expire_staging(store: ObjectStore, days: int, now: datetime | None = None) -> int:
    """Delete the staging objects written more than ``days`` ago, as the bucket's lifecycle rule
    does on S3 (the embedded AWS runs no lifecycle rules); how many were deleted."""
    return store.delete_older(keys.STAGING_PREFIX, (now or utcnow()) - timedelta(days=days))
