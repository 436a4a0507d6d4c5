"""Multipart uploads: start, sign parts, list parts, complete, abort."""

from __future__ import annotations

from typing import Annotated

import strawberry

from access.context import Context
from access.permissions import require_account
from models.errors import DocumentNotFound, QuotaExceeded, RaceLost, UploadCompleted, UploadRejected, VersionConflict
from resolvers.uploads import refused_upload
from schema.documents import Document, DocumentStatus
from schema.errors import Conflict, NotFound, ValidationError
from schema.multipart import (
    AbortedUpload,
    AbortUploadInput,
    AbortUploadResult,
    CompleteMultipartUploadInput,
    CompleteMultipartUploadResult,
    MultipartUpload,
    RequestMultipartUploadInput,
    RequestMultipartUploadResult,
    SignedUploadParts,
    SignUploadPartsInput,
    SignUploadPartsResult,
    UploadCompletedError,
    UploadedPart,
    UploadPartUrl,
)
from schema.scalars import Long
from schema.uploads import UploadNotFoundError, UploadRejectedError, UploadRejectionReason
from services import multipart, validation

NO_UPLOAD = "No upload with that id in this account."
NO_MULTIPART = "No multipart upload in progress with that id in this account."


def _not_found(document_id: strawberry.ID) -> UploadNotFoundError:
    return UploadNotFoundError(message=NO_UPLOAD, document_id=document_id)


def _rejected(rejection: UploadRejected) -> UploadRejectedError:
    return UploadRejectedError(message=str(rejection), reason=UploadRejectionReason(rejection.reason))


def _completed(error: UploadCompleted) -> UploadCompletedError:
    return UploadCompletedError(
        message=str(error), document_id=strawberry.ID(error.document_id), status=DocumentStatus(error.status)
    )


async def request_multipart_upload(
    info: strawberry.Info[Context, None],
    input: Annotated[RequestMultipartUploadInput, strawberry.argument(description="The file to upload in parts.")],
) -> RequestMultipartUploadResult:
    account = await require_account(info)
    try:
        started = await multipart.request_multipart_upload(info.context.services, account, input)
    except (validation.InvalidInput, QuotaExceeded, VersionConflict) as error:
        return refused_upload(error)
    except RaceLost as error:
        raise Conflict(str(error)) from None
    return MultipartUpload(
        document_id=strawberry.ID(started.document_id),
        part_size=Long(started.part_size),
        part_count=started.part_count,
        expires_at=started.expires_at,
    )


async def sign_upload_parts(
    info: strawberry.Info[Context, None],
    input: Annotated[SignUploadPartsInput, strawberry.argument(description="The upload and its parts to sign.")],
) -> SignUploadPartsResult:
    account = await require_account(info)
    try:
        signed = await multipart.sign_upload_parts(
            info.context.services, account, str(input.document_id), input.part_numbers
        )
    except DocumentNotFound:
        return _not_found(input.document_id)
    except UploadRejected as rejection:
        return _rejected(rejection)
    except UploadCompleted as error:
        return _completed(error)
    except validation.InvalidInput as error:
        return ValidationError.of(error.problems)
    return SignedUploadParts(
        document_id=strawberry.ID(signed.document_id),
        parts=[UploadPartUrl(number=number, url=url) for number, url in signed.urls],
        expires_at=signed.expires_at,
    )


async def uploaded_parts(
    info: strawberry.Info[Context, None],
    document_id: Annotated[strawberry.ID, strawberry.argument(description="`MultipartUpload.documentId`.")],
) -> list[UploadedPart]:
    account = await require_account(info)
    try:
        parts = await multipart.uploaded_parts(info.context.services, account, str(document_id))
    except DocumentNotFound:
        raise NotFound(NO_MULTIPART) from None
    return [UploadedPart(number=part.number, etag=part.etag, size=Long(part.size)) for part in parts]


async def complete_multipart_upload(
    info: strawberry.Info[Context, None],
    input: Annotated[CompleteMultipartUploadInput, strawberry.argument(description="The upload to complete.")],
) -> CompleteMultipartUploadResult:
    account = await require_account(info)
    try:
        record = await multipart.complete_multipart_upload(
            info.context.services, account, str(input.document_id), input.parts
        )
    except DocumentNotFound:
        return _not_found(input.document_id)
    except UploadRejected as rejection:
        return _rejected(rejection)
    except validation.InvalidInput as error:
        return ValidationError.of(error.problems)
    except RaceLost as error:
        raise Conflict(str(error)) from None
    return Document.from_model(record)


async def abort_upload(
    info: strawberry.Info[Context, None],
    input: Annotated[AbortUploadInput, strawberry.argument(description="The upload to abort.")],
) -> AbortUploadResult:
    account = await require_account(info)
    try:
        freed = await multipart.abort_upload(info.context.services, account, str(input.document_id))
    except DocumentNotFound:
        return _not_found(input.document_id)
    except UploadCompleted as error:
        return _completed(error)
    return AbortedUpload(document_id=input.document_id, freed_bytes=Long(freed))
