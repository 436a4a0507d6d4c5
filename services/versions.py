"""Versions: an upload that adds a version to the document at its path, the history, and
restoring an earlier version.

The transactions that make a version are ``models/versions.py``'s (``add_uploaded``, called by
``services.uploads`` when such an upload completes, and ``restore``): the change feed's records of
a new version and of a restore belong there.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from domain.follows import DocumentChange
from models import documents, keys, paths, uploads, versions
from models.base import utcnow
from models.errors import DocumentNotFound, PlanRace, VersionConflict, VersionNotFound
from services import changes as changes_service
from services import follows, validation

if TYPE_CHECKING:
    from adapters.s3 import ObjectStore
    from models.accounts import Account
    from models.documents import Document
    from models.version_rows import Version
    from runtime.services import Services


def start(start: functools.partial[Document], mode: str, if_version: int | None, keep: int) -> Document:
    """Start an upload (``start``: ``models.uploads.start`` with everything but what the mode
    adds) in ``mode``: ADD numbers a taken path; OVERWRITE adds a version to the document that
    holds it (and starts a new document when it is free); UPDATE adds one only if that document is
    at ``if_version`` (:class:`VersionConflict` otherwise, with its version; a free path is a
    conflict with none).

    Costs: to a free path, ADD and OVERWRITE one transaction; OVERWRITE to a taken path, that
    failed transaction, one read of the claim, one of the document and a second transaction;
    UPDATE, the two reads and one transaction."""
    if mode == "ADD":
        return start()
    account: Account = start.args[0]
    path = start.keywords.get("path") or paths.default(start.keywords["name"])
    for _ in range(paths.RENAME_ATTEMPTS):
        if mode == "OVERWRITE":
            try:
                return start(taken=uploads.Taken(path))
            except uploads.Taken:
                pass  # the document there takes a new version
        holder_id = paths.holder(account.id, paths.key(path))
        if holder_id is None:
            if mode == "UPDATE":
                raise VersionConflict(None)
            continue  # freed meanwhile: start a document there
        try:
            holder = documents.get(account.id, holder_id)
            return start(version_of=holder, base_version=if_version, keep_versions=keep)
        except DocumentNotFound:
            continue  # deleted meanwhile: look again
    raise PlanRace(account.id, paths.RENAME_ATTEMPTS)


@dataclass(frozen=True)
class Listed:
    """One version as listed: the current one is read from its document, the others are rows."""

    version: int
    size: int
    content_hash: str | None
    created_at: Any
    object_key: str
    current: bool


def current_of(document: Document) -> Listed:
    return Listed(
        version=document.current_version,
        size=int(document.size),
        content_hash=document.content_hash,
        created_at=document.version_at or document.created_at,
        object_key=document.object_key,
        current=True,
    )


def earlier_of(row: Version) -> Listed:
    return Listed(
        version=int(row.version),
        size=int(row.size),
        content_hash=row.content_hash,
        created_at=row.created_at,
        object_key=row.object_key,
        current=False,
    )


def history(owner_id: str, document_id: str) -> tuple[Document, list[Listed]]:
    """The owner's document and every version it keeps, newest first (one read of the document,
    one Query of its rows). :class:`DocumentNotFound` for another account's or a missing one."""
    document = documents.get(owner_id, document_id)
    if document.version_of is not None:
        raise DocumentNotFound(document_id)
    listed = [current_of(document), *(earlier_of(row) for row in versions.earlier(owner_id, document_id))]
    return document, listed


async def restore(services: Services, account: Account, raw_id: str, version: int) -> Document:
    """Make a copy of the document's earlier ``version`` its new current version, keeping the
    history (the pipeline processes the copy as it does an upload: type, hash, text, index).

    :class:`DocumentNotFound` for a document that is not the owner's; :class:`VersionNotFound`
    for a version it does not keep (or the current one: nothing to restore);
    :class:`VersionConflict` while the document is busy with a version (PENDING_UPLOAD or
    PROCESSING: try again once it is READY); :class:`QuotaExceeded` when the copy does not fit.
    Nothing is kept on failure (the copy is deleted)."""
    document_id = validation.document_id(raw_id)
    keep = services.settings.versions_premium if account.plan.searches_contents else services.settings.versions_free
    restored = await services.blocking.run(
        functools.partial(_restore, services.objects, account, document_id, version, keep)
    )
    await services.deliver([restored.message])
    await changes_service.publish(services.publisher, [restored.change])
    await follows.announce(services, restored.document, [DocumentChange.RESTORED], account)
    return restored.document


def _restore(store: ObjectStore, account: Account, document_id: str, version: int, keep: int) -> versions.Added:
    for _ in range(versions.ATTEMPTS):
        document = documents.get(account.id, document_id)
        if document.version_of is not None:
            raise DocumentNotFound(document_id)
        row = versions.get(account.id, document_id, version) if version != document.current_version else None
        if row is None:
            raise VersionNotFound(version)
        if document.status not in versions.SETTLED:
            raise VersionConflict(document.current_version)
        copy_key = keys.original(account.id, document_id, keys.nonce())
        info = store.copy(row.object_key, copy_key)
        if info is None:
            raise VersionNotFound(version)  # its object is gone: a delete raced this
        copied = versions.New(copy_key, info.size, row.checksum, row.content_hash, row.content_type)
        try:
            added = versions.restore(document, version, copied, account.plan, keep, utcnow())
        except versions.TargetGone:
            store.delete(copy_key)
            raise VersionConflict(document.current_version) from None
        except versions.Changed:
            store.delete(copy_key)
            continue  # the document changed since it was read (a new version, a delete): look again
        except Exception:
            store.delete(copy_key)
            raise
        for key in added.dropped_keys:
            store.delete(key)
        return added
    raise PlanRace(account.id, versions.ATTEMPTS)


#: The most versions one page of ``Document.versions`` holds.
PAGE_MAX = 100


@dataclass(frozen=True)
class Page:
    """One page of a document's versions, newest first: (cursor, version) pairs."""

    entries: list[tuple[str, Listed]]
    has_next: bool
    started_after: bool


def cursor(document_id: str, version: int) -> str:
    raw = json.dumps([1, "VERSION", document_id, version], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after(raw: str, document_id: str) -> int:
    try:
        if len(raw) > 2000:
            raise ValueError
        tag, kind, of, version = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if (tag, kind, of) != (1, "VERSION", document_id) or type(version) is not int:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise validation.invalid("after", "The cursor is not one this API gave out for this document.") from None
    return version


async def page(services: Services, owner_id: str, document_id: str, first: int, after: str | None) -> Page:
    """``Document.versions``: up to ``first`` of the versions the document keeps, newest first,
    after the cursor ``after``; :class:`InvalidInput` (``first``, ``after``) for a bad argument."""
    checks = validation.Checks()
    size = checks(validation.page_size, 0, first, PAGE_MAX)
    below = checks(_after, 0, after, document_id) if after is not None else None
    checks.done()
    _, listed = await services.blocking.run(history, owner_id, document_id)
    kept = [entry for entry in listed if below is None or entry.version < below]
    return Page(
        entries=[(cursor(document_id, entry.version), entry) for entry in kept[:size]],
        has_next=len(kept) > size,
        started_after=after is not None,
    )
