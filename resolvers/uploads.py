"""Upload forms and their completion."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Annotated

import strawberry
from ulid import ULID

from access.context import Context
from access.permissions import require_account
from events.envelope import Event, EventType
from models import keys, outbox, uploads
from models.base import utcnow
from models.errors import DocumentNotFound, QuotaExceeded, RaceLost, UploadRejected
from schema.documents import Document
from schema.errors import Conflict, ValidationError
from schema.scalars import Long
from schema.uploads import (
    CompleteUploadInput,
    CompleteUploadResult,
    FormField,
    QuotaExceededError,
    RequestUploadInput,
    RequestUploadResult,
    UploadForm,
    UploadNotFoundError,
    UploadRejectedError,
    UploadRejectionReason,
)
from services import validation


async def request_upload(
    info: strawberry.Info[Context, None],
    input: Annotated[RequestUploadInput, strawberry.argument(description="The file to upload.")],
) -> RequestUploadResult:
    account = await require_account(info)
    services = info.context.services
    settings = services.settings
    try:
        upload = validation.upload(input, settings.redirect_origins)
    except validation.InvalidInput as error:
        return ValidationError.of(error.problems)
    now = utcnow()
    document_id = str(ULID.from_datetime(now))
    # Sign before reserving: a form nobody receives costs nothing, a reservation without a form would.
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
    try:
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
    except QuotaExceeded as error:
        return QuotaExceededError(
            message=str(error),
            limit_bytes=Long(error.limit_bytes),
            used_bytes=Long(error.used_bytes),
            reserved_bytes=Long(error.reserved_bytes),
            requested_bytes=Long(error.requested_bytes),
        )
    except RaceLost as error:
        raise Conflict(str(error)) from None
    # Delivered once the form has expired: settles the upload if nobody completes it.
    await services.deliver(started)
    await services.publisher.publish(Event(EventType.UPLOAD_STARTED, account.id, document_id=document_id))
    return UploadForm(
        document_id=document_id,  # type: ignore[arg-type]
        url=post.url,
        fields=[FormField(name=name, value=value) for name, value in post.fields.items()],
        expires_at=now + timedelta(seconds=settings.upload_form_seconds),
        max_bytes=Long(upload.size),
    )


async def complete_upload(
    info: strawberry.Info[Context, None],
    input: Annotated[CompleteUploadInput, strawberry.argument(description="The upload to complete.")],
) -> CompleteUploadResult:
    account = await require_account(info)
    services = info.context.services
    completed: list[outbox.Pending] = []
    try:
        document_id = validation.document_id(str(input.document_id))
        record = await services.blocking.run(
            functools.partial(
                uploads.complete, services.objects, account.id, document_id, plan=account.plan, messages=completed
            )
        )
    except DocumentNotFound:
        return UploadNotFoundError(
            message="No upload with that id in this account.",
            document_id=input.document_id,
        )
    except UploadRejected as rejection:
        return UploadRejectedError(message=str(rejection), reason=UploadRejectionReason(rejection.reason))
    except RaceLost as error:
        raise Conflict(str(error)) from None
    # Only the call that completed it has a message: a repeated call's was sent by the first one,
    # or waits in the outbox for the relay.
    await services.deliver(completed)
    return Document.from_model(record)
