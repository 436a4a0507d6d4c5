"""Upload forms and their completion."""

from __future__ import annotations

from typing import Annotated

import strawberry

from access.context import Context
from access.permissions import require_account
from models.errors import DocumentNotFound, QuotaExceeded, RaceLost, UploadRejected, VersionConflict
from schema.documents import Document, VersionConflictError
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
from services import uploads, validation


def quota_exceeded(error: QuotaExceeded) -> QuotaExceededError:
    """The answer to a reservation the plan's limit refused, with the account's numbers."""
    return QuotaExceededError(
        message=str(error),
        limit_bytes=Long(error.limit_bytes),
        used_bytes=Long(error.used_bytes),
        reserved_bytes=Long(error.reserved_bytes),
        requested_bytes=Long(error.requested_bytes),
    )


def refused_upload(
    error: validation.InvalidInput | QuotaExceeded | VersionConflict,
) -> ValidationError | QuotaExceededError | VersionConflictError:
    """What ``requestUpload`` and ``requestMultipartUpload`` answer when the upload is refused."""
    if isinstance(error, validation.InvalidInput):
        return ValidationError.of(error.problems)
    if isinstance(error, QuotaExceeded):
        return quota_exceeded(error)
    return VersionConflictError(message=str(error), current_version=error.current_version)


async def request_upload(
    info: strawberry.Info[Context, None],
    input: Annotated[RequestUploadInput, strawberry.argument(description="The file to upload.")],
) -> RequestUploadResult:
    account = await require_account(info)
    try:
        form = await uploads.request_upload(info.context.services, account, input)
    except (validation.InvalidInput, QuotaExceeded, VersionConflict) as error:
        return refused_upload(error)
    except RaceLost as error:
        raise Conflict(str(error)) from None
    return UploadForm(
        document_id=strawberry.ID(form.document_id),
        url=form.url,
        fields=[FormField(name=name, value=value) for name, value in form.fields.items()],
        expires_at=form.expires_at,
        max_bytes=Long(form.max_bytes),
    )


async def complete_upload(
    info: strawberry.Info[Context, None],
    input: Annotated[CompleteUploadInput, strawberry.argument(description="The upload to complete.")],
) -> CompleteUploadResult:
    account = await require_account(info)
    try:
        record = await uploads.complete_upload(info.context.services, account, str(input.document_id))
    except DocumentNotFound:
        return UploadNotFoundError(
            message="No upload with that id in this account.",
            document_id=input.document_id,
        )
    except UploadRejected as rejection:
        return UploadRejectedError(message=str(rejection), reason=UploadRejectionReason(rejection.reason))
    except RaceLost as error:
        raise Conflict(str(error)) from None
    return Document.from_model(record)
