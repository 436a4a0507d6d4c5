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
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from ulid import ULID

from events.envelope import Event, EventType
from models import keys, outbox, uploads
from models.base import utcnow
from services import validation

if TYPE_CHECKING:
    from datetime import datetime

    from models.accounts import Account
    from models.documents import Document
    from runtime.services import Services


@dataclass(frozen=True)
class Form:
    """A signed form to post one file with, for the document it becomes."""

    document_id: str
    url: str
    #: The form's fields, in the order they are to be sent (before the file).
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


async def request_upload(services: Services, account: Account, raw: validation.RawUpload) -> Form:
    """Reserve room for a file and sign the form that posts it to its staging key.

    The form is signed before the bytes are reserved: a form nobody receives costs nothing, a
    reservation without a form would. The delayed ``upload.started`` message settles the upload
    if nobody completes it.
    """
    settings = services.settings
    upload = validation.upload(raw, settings.redirect_origins)
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
    await services.blocking.run(
        functools.partial(
            uploads.start,
            account,
            document_id=document_id,
            name=upload.filename,
            content_type=upload.content_type,
            size=upload.size,
            tags=upload.tags,
            description=upload.description,
            form_seconds=settings.upload_form_seconds,
            sweep_grace_seconds=settings.sweep_grace_seconds,
            now=now,
            messages=started,
        )
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


async def complete_upload(services: Services, account: Account, raw_id: str) -> Document:
    """Keep, check and count the file the form posted: the document, ``PROCESSING`` (the same
    one on a repeated call). Against the plan the caller knows (the read cache's); a plan that
    changed meanwhile is read and the count tried again."""
    document_id = validation.document_id(raw_id)
    completed: list[outbox.Pending] = []
    record = await services.blocking.run(
        functools.partial(
            uploads.complete, services.objects, account.id, document_id, plan=account.plan, messages=completed
        )
    )
    # Only the call that completed it has a message: a repeated call's was sent by the first one,
    # or waits in the outbox for the relay.
    await services.deliver(completed)
    return record
