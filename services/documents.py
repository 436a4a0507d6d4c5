"""Editing and deleting one's own documents: one function per use case, for whichever caller.

Each takes the process's :class:`Services` and plain values, checks its input
(``services.validation``), writes, then hands on what the change implies (queue messages through
the outbox, events on the owner's channel). Failures are typed: :class:`InvalidInput`,
:class:`DocumentNotFound` (also for a malformed id, or a document that is not the owner's),
:class:`PlanRace` when the change lost its race on every attempt; nothing is written then.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.documents import STORED, DocumentStatus
from domain.follows import DocumentChange
from events.envelope import Event, EventType
from models import changes as models_changes
from models import documents, keys, outbox, share_links, shares, version_rows, version_uploads, versions
from models import uploads as uploads_models
from models.errors import DocumentNotFound, VersionConflict
from services import changes as changes_service
from services import follows, uploads, validation

if TYPE_CHECKING:
    from collections.abc import Sequence

    from adapters.s3 import ObjectStore
    from domain.plans import Plan
    from models.accounts import Account
    from runtime.services import Services


@dataclass(frozen=True)
class Deleted:
    document_id: str
    #: Bytes given back to the quota: the stored size, or the reservation of an upload in progress.
    freed_bytes: int


async def update(
    services: Services,
    owner_id: str,
    raw_id: str,
    *,
    name: str | None = None,
    tags: Sequence[str] | None = None,
    description: str | None = None,
    by: Account | None = None,
) -> documents.Document:
    """Rename, retag or redescribe a document (``None`` leaves a field as it is); the document
    as the change left it (``documents.update_details``: not read again). Search follows the
    change in the background; the document's other followers hear of a rename or a retag by
    ``by`` (the owner, or an EDITOR; None tells nobody)."""
    changes = validation.document_changes(name, tags, description)
    document_id = validation.document_id(raw_id)
    updated: list[outbox.Pending] = []
    recorded: list[models_changes.Change] = []
    record = await services.blocking.run(
        functools.partial(
            documents.update_details,
            owner_id,
            document_id,
            name=changes.name,
            tags=changes.tags,
            description=changes.description,
            messages=updated,
            recorded=recorded,
        )
    )
    await services.deliver(updated)  # search follows the new name, tags and description
    await changes_service.publish(services.publisher, recorded)
    if by is not None:
        await follows.announce(services, record, follows.update_changes(changes.name, changes.tags), by)
    return record


async def move(services: Services, owner_id: str, raw_id: str, raw_path: str) -> documents.Document:
    """Move a document to another path (a rename of its path, a move to another folder, or both);
    the document as it is now. Its name stays as it is: name and path are set independently.

    :class:`InvalidInput` for a bad path, :class:`PathTaken` when another document is there
    (paths compare ignoring case), :class:`DocumentNotFound` for a document that is not the
    owner's or holds no path (a rejected upload); nothing is written then."""
    checks = validation.Checks()
    path = checks(validation.path, "", raw_path, validation.path_limits(services.settings))
    checks.done()
    document_id = validation.document_id(raw_id)
    record = await services.blocking.run(documents.get, owner_id, document_id)
    recorded: list[models_changes.Change] = []
    moved = await services.blocking.run(functools.partial(documents.move, record, path, recorded=recorded))
    await changes_service.publish(services.publisher, recorded)
    return moved


async def delete(
    services: Services,
    owner_id: str,
    raw_id: str,
    if_version: int | None = None,
    by: Account | None = None,
    plan: Plan | None = None,
) -> Deleted:
    """Delete a document, its file and its bytes in the quota, or cancel an upload in progress.
    A second delete of the same document is :class:`DocumentNotFound` and frees nothing. With
    ``if_version``, only while the document is at that version (:class:`VersionConflict`, and
    nothing deleted, otherwise: checked again in the delete's transaction). The document's other
    followers hear of it from ``by`` (None tells nobody). ``plan``: the owner's plan as the caller
    knows it (the read cache's), which the delete's transaction checks (None: it is read)."""
    document_id = validation.document_id(raw_id)
    if if_version is not None:
        validation.version_number("ifVersion", if_version)
    deleted: list[outbox.Pending] = []
    recorded: list[models_changes.Change] = []
    gone: list[documents.Document] = []
    freed = await services.blocking.run(
        _delete, services.objects, owner_id, document_id, deleted, recorded, if_version, gone, plan
    )
    told: dict[str, object] = {}
    if by is not None and gone:
        told = await follows.announce(services, gone[0], [DocumentChange.DELETED], by)
    # Naming the followers told: a grantee's subscription to the document sends its DocumentChanged
    # from this event, the last it sends.
    await services.publisher.publish(Event(EventType.DOCUMENT_DELETED, owner_id, document_id=document_id, data=told))
    await changes_service.publish(services.publisher, recorded)
    # A stored document's quota check and search removal; a cancelled upload needs neither.
    await services.deliver(deleted)
    return Deleted(document_id=document_id, freed_bytes=freed)


def _delete(
    objects: ObjectStore,
    owner_id: str,
    document_id: str,
    messages: list[outbox.Pending],
    recorded: list[models_changes.Change],
    if_version: int | None = None,
    deleted_record: list[documents.Document] | None = None,
    plan: Plan | None = None,
) -> int:
    """Delete the record and its bytes (given back to the quota), then the objects.

    In that order, a process killed between the two leaves objects nothing names, never a listed
    and counted document whose file is gone (tests/test_survival.py kills it there)."""
    record = documents.get(owner_id, document_id)
    if record.version_of is not None:  # an upload of a new version: cancelled as any upload
        return _cancel(objects, record)
    if if_version is not None and record.current_version != if_version:
        raise VersionConflict(record.current_version)
    if record.status in STORED:
        gone: list[documents.Document] = []  # the record as deleted: a version may have landed since
        rows: list[version_rows.Version] = []  # its earlier versions, as the delete read them
        if not documents.delete_stored(
            record, messages, recorded, if_version=if_version, deleted=gone, plan=plan, earlier=rows
        ):
            raise DocumentNotFound(document_id)
        (record,) = gone
        if deleted_record is not None:
            deleted_record.append(record)
        # The original and what was derived from it, and every earlier version's object (a form's
        # are under the document's prefix, deleted with it; a multipart upload's under its upload's).
        prefix = keys.document_prefix(owner_id, document_id)
        objects.delete_prefix(prefix)
        versions.forget(rows)  # their bytes went with the document
        for key in sorted({row.object_key for row in rows} | {record.object_key}):
            if not key.startswith(prefix):
                objects.delete(key)
        earlier = sum(int(row.size) for row in rows)
        share_links.forget_document(owner_id, document_id)  # its links: 404 already, gone now
        shares.forget_document(owner_id, document_id)  # its shares: NOT_FOUND already, gone now
        return int(record.size) + earlier + _release_version_uploads(objects, owner_id, document_id)
    return _cancel(objects, record)


def _release_version_uploads(objects: ObjectStore, owner_id: str, document_id: str) -> int:
    """Once a document's delete has committed: cancel every upload of a new version of it still in
    progress (``models.version_uploads`` finds them), releasing its reservation and deleting what
    arrived, an S3 multipart upload aborted and its record deleted, as ``abortUpload`` does; the
    bytes they held. Left alone, each would hold its reservation until it expired."""
    held = 0
    for upload_id in version_uploads.of(owner_id, document_id):
        upload = uploads_models.read(owner_id, upload_id)
        if upload is None or upload.version_of != document_id or upload.status != DocumentStatus.PENDING_UPLOAD:
            continue  # settled meanwhile (completed, which the delete took with it, or rejected)
        if upload.upload_id is not None:
            try:
                held += uploads.abort(objects, owner_id, upload_id)
            except DocumentNotFound:
                continue  # aborted meanwhile
        else:
            held += _cancel_quietly(objects, upload)
    return held


def _cancel_quietly(objects: ObjectStore, upload: documents.Document) -> int:
    try:
        return _cancel(objects, upload)
    except DocumentNotFound:
        return 0  # settled by someone else meanwhile: they released it


def _cancel(objects: ObjectStore, record: documents.Document) -> int:
    held = int(record.declared_size) if record.status == DocumentStatus.PENDING_UPLOAD else 0
    if not uploads.cancel(objects, record):
        raise DocumentNotFound(record.document_id)
    return held
