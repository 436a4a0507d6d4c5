"""Multipart uploads: a large file in parts, put straight to S3 in parallel, assembled by S3.

``requestMultipartUpload`` reserves the declared size as ``requestUpload`` does (the same
``models.uploads.start``) and starts S3's multipart upload at the document's final key;
``signUploadParts`` signs a PUT per part; ``uploadedParts`` lists what S3 holds, so a client can
resume; ``completeMultipartUpload`` checks the parts and has S3 assemble them, then counts the
object exactly as ``completeUpload`` counts a posted one (``services.uploads.complete``);
``abortUpload`` gives everything back. Each use case raises the typed errors of
:mod:`services.uploads`, plus :class:`UploadCompleted` for an upload that is no longer in
progress.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from ulid import ULID

from domain.documents import STORED, DocumentStatus
from events.envelope import Event, EventType
from models import changes, documents, keys, outbox, uploads
from models.base import utcnow
from models.errors import DocumentNotFound, UploadCompleted
from services import changes as changes_service
from services import share_links, validation, versions
from services import uploads as upload_files

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from adapters.s3 import UploadedPart
    from models.accounts import Account
    from models.documents import Document
    from runtime.services import Services


@dataclass(frozen=True)
class MultipartUpload:
    """A multipart upload started: its document, and the parts the file is to be cut into."""

    document_id: str
    part_size: int
    part_count: int
    expires_at: datetime


@dataclass(frozen=True)
class SignedParts:
    """A signed PUT URL for each part asked for, valid until ``expires_at``."""

    document_id: str
    urls: list[tuple[int, str]]
    expires_at: datetime


async def request_multipart_upload(
    services: Services, account: Account, raw: validation.RawMultipartUpload
) -> MultipartUpload:
    """Reserve room for a large file and start S3's multipart upload for it.

    The part size is ``DOCSTORE_MULTIPART_PART_BYTES``, or larger where the file would need more
    than S3's 10,000 parts. S3's upload is started first, at a key of this upload's own
    (``keys.original``, with a fresh nonce), then the bytes are reserved; a refused reservation
    aborts it, so nothing is left behind.
    """
    settings = services.settings
    upload = validation.multipart_upload(raw, validation.path_limits(settings))
    mode, if_version = validation.upload_mode(getattr(raw, "mode", "ADD"), getattr(raw, "if_version", None))
    part_size = validation.part_size(upload.size, settings.multipart_part_bytes)
    now = utcnow()
    document_id = str(ULID.from_datetime(now))
    key = keys.original(account.id, document_id, keys.nonce())
    upload_id = await services.blocking.run(
        functools.partial(services.objects.start_multipart, key, content_type=upload.content_type)
    )
    start = functools.partial(
        uploads.start,
        account,
        document_id=document_id,
        name=upload.filename,
        path=upload.path,
        content_type=upload.content_type,
        size=upload.size,
        tags=[],
        description="",
        form_seconds=settings.multipart_upload_seconds,
        sweep_grace_seconds=settings.sweep_grace_seconds,
        now=now,
        multipart=uploads.Multipart(object_key=key, upload_id=upload_id, part_size=part_size),
        make_public=bool(getattr(raw, "public", False)),
    )
    keep = settings.versions_premium if account.plan.searches_contents else settings.versions_free
    try:
        await services.blocking.run(functools.partial(versions.start, start, mode, if_version, keep))
    except Exception:
        # Refused (over quota, a lost race): S3's upload goes too. Should this abort fail, the
        # bucket's lifecycle rule aborts it.
        await services.blocking.run(services.objects.abort_multipart, key, upload_id)
        raise
    await services.publisher.publish(Event(EventType.UPLOAD_STARTED, account.id, document_id=document_id))
    return MultipartUpload(
        document_id=document_id,
        part_size=part_size,
        part_count=-(-upload.size // part_size),
        expires_at=now + timedelta(seconds=settings.multipart_upload_seconds),
    )


def _in_progress(owner_id: str, document_id: str) -> Document:
    """The owner's multipart upload, still to complete: :class:`DocumentNotFound` for an unknown
    or foreign id or a form's upload, :class:`UploadRejected` for a rejected one,
    :class:`UploadCompleted` for a completed one."""
    document = uploads.settled(owner_id, document_id)
    if document.upload_id is None:
        raise DocumentNotFound(document_id)
    if document.status in STORED:
        raise UploadCompleted(document_id, document.status.value)
    return document


async def sign_upload_parts(
    services: Services, account: Account, raw_id: str, raw_numbers: Sequence[int]
) -> SignedParts:
    """A signed PUT URL for each of the parts named (at most ``DOCSTORE_MULTIPART_SIGN_MAX_PARTS``
    a call, numbers from 1 to the upload's part count), each for exactly its part's length (the
    last part's own). Signing makes no request to S3."""
    settings = services.settings
    document_id = validation.document_id(raw_id)
    document = await services.blocking.run(_in_progress, account.id, document_id)
    numbers = validation.part_numbers(raw_numbers, upload_files.part_count(document), settings.multipart_sign_max_parts)
    expires_in = settings.multipart_part_url_seconds
    now = utcnow()

    def signed() -> list[tuple[int, str]]:
        key, upload_id = document.object_key, str(document.upload_id)
        return [
            (
                number,
                services.objects.part_url(
                    key, upload_id, number, size=upload_files.part_length(document, number), expires_in=expires_in
                ),
            )
            for number in numbers
        ]

    urls = await services.blocking.run(signed)
    return SignedParts(document_id=document_id, urls=urls, expires_at=now + timedelta(seconds=expires_in))


async def uploaded_parts(services: Services, account: Account, raw_id: str) -> list[UploadedPart]:
    """The parts S3 holds for a multipart upload in progress, by number (ListParts).
    :class:`DocumentNotFound` for any id that is not such an upload of the caller's."""
    document_id = validation.document_id(raw_id)
    document = await services.blocking.run(documents.get, account.id, document_id)
    if document.upload_id is None or document.status != DocumentStatus.PENDING_UPLOAD:
        raise DocumentNotFound(document_id)
    parts = await services.blocking.run(services.objects.list_parts, document.object_key, document.upload_id)
    if parts is None:
        raise DocumentNotFound(document_id)  # aborted or completed meanwhile
    return parts


async def complete_multipart_upload(
    services: Services, account: Account, raw_id: str, raw_parts: Sequence[validation.RawPart]
) -> Document:
    """Check the parts named against S3's, have S3 assemble them, and count the object, as
    ``completeUpload`` counts a posted file (the same document on a repeated call).
    :class:`InvalidInput` for a parts list that cannot be an upload's (empty, numbers out of
    range or twice); parts that are not the upload's reject it (:class:`UploadRejected`)."""
    document_id = validation.document_id(raw_id)
    document = await services.blocking.run(uploads.settled, account.id, document_id)
    if document.upload_id is None:
        raise DocumentNotFound(document_id)
    parts: list[tuple[int, str]] = []
    if document.status == DocumentStatus.PENDING_UPLOAD:
        parts = validation.completed_parts(raw_parts, upload_files.part_count(document))
    completed: list[outbox.Pending] = []
    recorded: list[changes.Change] = []
    public: list[tuple[str, str]] = []
    record = await services.blocking.run(
        functools.partial(
            upload_files.complete,
            services.objects,
            account.id,
            document_id,
            plan=account.plan,
            messages=completed,
            parts=parts,
            recorded=recorded,
            public=public,
        )
    )
    await services.deliver(completed)
    await changes_service.publish(services.publisher, recorded)
    await upload_files.announce_version(services, record, recorded, account)
    await share_links.make_public(services, account.id, public)
    return record


async def abort_upload(services: Services, account: Account, raw_id: str) -> int:
    """Abort a multipart upload: its reservation released, S3's upload aborted, its record
    deleted; the bytes it held."""
    document_id = validation.document_id(raw_id)
    held = await services.blocking.run(upload_files.abort, services.objects, account.id, document_id)
    await services.publisher.publish(Event(EventType.DOCUMENT_DELETED, account.id, document_id=document_id))
    return held
