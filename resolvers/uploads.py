"""Upload forms and their completion."""

from __future__ import annotations

from typing import Annotated

import strawberry

from access import documents as access
from access.context import Context
from access.permissions import require_account
from domain.sharing import Role
from models.errors import DocumentNotFound, QuotaExceeded, RaceLost, UploadRejected, VersionConflict
from schema.documents import Document, VersionConflictError
from schema.errors import Conflict, NotFoundError, ValidationError
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
    services = info.context.services
    try:
        version = None
        if input.document_id is not None:
            reached = await access.reach(services, account.id, str(input.document_id), Role.EDITOR)
            owner = account if reached.role is Role.OWNER else await access.owner_of(services, reached)
            version = uploads.Versioned(owner=owner, document=reached.document)
        form = await uploads.request_upload(services, account, input, version=version)
    except DocumentNotFound:
        return NotFoundError(
            message="No document with that id in this account.", id=strawberry.ID(str(input.document_id))
        )
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
    services = info.context.services
    role = Role.OWNER
    try:
        try:
            record = await uploads.complete_upload(services, account, str(input.document_id))
        except DocumentNotFound:  # an EDITOR's upload of a version of a document shared with it
            reached = await access.shared_upload(services, account.id, str(input.document_id))
            role = reached.role
            owner = await access.owner_of(services, reached)
            record = await uploads.complete_upload(services, owner, str(input.document_id), by=account)
    except DocumentNotFound:
        return UploadNotFoundError(
            message="No upload with that id in this account.",
            document_id=input.document_id,
        )
    except UploadRejected as rejection:
        return UploadRejectedError(message=str(rejection), reason=UploadRejectionReason(rejection.reason))
    except RaceLost as error:
        raise Conflict(str(error)) from None
    return Document.from_model(record, role)
