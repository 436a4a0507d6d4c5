"""Uploads: a signed form straight to S3, then completion against the real object."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from schema.documents import PATH_RULES, Document
from schema.errors import Error, ValidationError
from schema.regions import WrongRegionError
from schema.scalars import Long


@strawberry.input(description="What is about to be uploaded. The size is reserved against the plan's quota.")
class RequestUploadInput:
    filename: str = strawberry.field(
        description="The file's name: 1 to 255 bytes of UTF-8, no slashes, no control characters, not `.` or `..`."
    )
    path: str | None = strawberry.field(
        default=None,
        description=(
            "Where the document goes; `/` + `filename` when left out. An upload adds a document and never "
            "replaces one: where another document of the account is at that path (ignoring case), this one "
            "goes to the first free numbered copy of it, Dropbox-style: `/a/report (1).pdf`, then "
            "`/a/report (2).pdf`, ... (`Document.path` says where). "
        )
        + PATH_RULES,
    )
    content_type: str = strawberry.field(
        description="The file's MIME type, one of those DocStore stores (PDF, office, text, images, video, archives)."
    )
    size: Long = strawberry.field(description="The exact size in bytes: at least 1, at most 5 GiB (one S3 POST).")
    tags: list[str] = strawberry.field(
        default_factory=list, description="At most 20 tags of 1 to 64 characters; duplicates are dropped."
    )
    description: str = strawberry.field(default="", description="At most 1,000 characters.")
    redirect_url: str | None = strawberry.field(
        default=None,
        description=(
            "For a browser form: where S3 sends the browser after the upload, instead of answering 201. "
            "Must be on an allowed origin."
        ),
    )


@strawberry.type(description="One field of an upload form.")
class FormField:
    name: str = strawberry.field(description="Field name, sent as is.")
    value: str = strawberry.field(description="Field value, sent as is.")


@strawberry.type(
    description=(
        "A signed S3 POST form. Send a `multipart/form-data` POST to `url` with every field, in order, "
        "then the file last as field `file`. S3 answers 201 (or redirects). Only the file posted before "
        "`completeUpload` counts; posting the form again after it changes no document."
    )
)
class UploadForm:
    document_id: strawberry.ID = strawberry.field(
        description="The document this upload becomes; pass it to `completeUpload`."
    )
    url: str = strawberry.field(description="Where to POST the form.")
    fields: list[FormField] = strawberry.field(description="The form fields, each also a condition S3 enforces.")
    expires_at: datetime = strawberry.field(
        description="The form is refused after this instant (${upload_form_seconds} seconds)."
    )
    max_bytes: Long = strawberry.field(description="The largest file the form accepts: the declared size.")


@strawberry.type(description="The upload would pass the plan's storage limit. Nothing was reserved.")
class QuotaExceededError(Error):
    limit_bytes: Long = strawberry.field(description="The plan's limit.")
    used_bytes: Long = strawberry.field(description="Bytes already stored.")
    reserved_bytes: Long = strawberry.field(description="Bytes held by uploads in progress.")
    requested_bytes: Long = strawberry.field(description="Bytes this upload asked for.")


@strawberry.enum(description="Why an upload was refused.")
class UploadRejectionReason(Enum):
    MISSING_OBJECT = strawberry.enum_value("MISSING_OBJECT", description="No file had arrived at S3.")
    TOO_LARGE = strawberry.enum_value("TOO_LARGE", description="The file is larger than the size declared.")
    OVER_QUOTA = strawberry.enum_value("OVER_QUOTA", description="Counting the file would pass the plan's limit.")
    PARTS_MISMATCH = strawberry.enum_value(
        "PARTS_MISMATCH",
        description=(
            "A multipart upload's completion named parts that are not the upload's: a part missing, unknown to S3, "
            "with another ETag, or smaller than `partSize` (but the last)."
        ),
    )
    EXPIRED = strawberry.enum_value(
        "EXPIRED", description="A multipart upload was not completed in time and was aborted."
    )
    CANCELLED = strawberry.enum_value("CANCELLED", description="The upload was cancelled by its owner.")


@strawberry.type(description="No upload with that id in this account.")
class UploadNotFoundError(Error):
    document_id: strawberry.ID = strawberry.field(description="The id that was asked for.")


@strawberry.type(description="The upload was refused: its file was deleted and its reservation released.")
class UploadRejectedError(Error):
    reason: UploadRejectionReason = strawberry.field(description="Why.")


@strawberry.input(description="The upload to complete.")
class CompleteUploadInput:
    document_id: strawberry.ID = strawberry.field(
        description="`UploadForm.documentId` of the form the file was posted with."
    )


RequestUploadResult = Annotated[
    UploadForm | QuotaExceededError | ValidationError | WrongRegionError,
    strawberry.union("RequestUploadResult", description="A form to upload with, or why there is none."),
]
CompleteUploadResult = Annotated[
    Document | UploadNotFoundError | UploadRejectedError | WrongRegionError,
    strawberry.union(
        "CompleteUploadResult",
        description="The counted document (the same one on a repeated call), or why the upload was refused.",
    ),
]
