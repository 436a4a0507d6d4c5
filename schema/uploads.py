"""Uploads: a signed form straight to S3, then completion against the real object."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from schema.documents import PATH_RULES, Document, VersionConflictError
from schema.errors import Error, NotFoundError, ValidationError
from schema.regions import WrongRegionError
from schema.scalars import Long


@strawberry.enum(description="What an upload does when another document of the account is at its path.")
class UploadMode(Enum):
    ADD = strawberry.enum_value(
        "ADD",
        description=(
            "Never replace anything: the upload goes to the first free numbered copy of the path, "
            "Dropbox-style (`/a/report (1).pdf`). The default."
        ),
    )
    OVERWRITE = strawberry.enum_value(
        "OVERWRITE",
        description=(
            "Add a new version to the document at the path (a new document when the path is free). "
            "The form's `documentId` names the upload; `completeUpload` answers the document, at its new version."
        ),
    )
    UPDATE = strawberry.enum_value(
        "UPDATE",
        description=(
            "Add a new version only if the document at the path is at `ifVersion`, when asked and again when "
            "completed; otherwise `VersionConflictError` (asked) or the upload is rejected with "
            "`VERSION_CONFLICT` (completed). A free path is a `VersionConflictError` with `currentVersion` null: "
            "there is nothing to update."
        ),
    )


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
            "`/a/report (2).pdf`, ... (`Document.path` says where), unless `mode` says to add a version. "
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
    mode: UploadMode = strawberry.field(
        default=UploadMode.ADD, description="What the upload does when another document is at `path`."
    )
    if_version: int | None = strawberry.field(
        default=None, description="For `mode` UPDATE only (and needed there): the version the document must be at."
    )
    document_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "Upload a new version of this document, instead of placing the file at a path (leave `path` out: it "
            "keeps the document's): one of yours, or one shared with you as EDITOR, whose bytes then count in its "
            "owner's quota, reserved now and counted at completion exactly as the owner's own version upload. "
            "`mode` UPDATE with `ifVersion` adds it only at that version. `NotFoundError` for a document you cannot "
            "see; `FORBIDDEN` for one shared with you as VIEWER. Complete it with `completeUpload` as any upload."
        ),
    )
    public: bool = strawberry.field(
        default=False,
        description=(
            "Make Public: once the upload completes (`completeUpload` or `completeMultipartUpload`), make a share "
            "link to the document with the default expiry (${share_default_expiry}), no password and no download "
            "limit; read its `url` in `Document.shareLinks`. A rejected or expired upload makes none, nor does a "
            "form the workers complete because nobody called `completeUpload`."
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
    DOCUMENT_CHANGED = strawberry.enum_value(
        "DOCUMENT_CHANGED",
        description="A new version's document was deleted, or had another version in progress, when it completed.",
    )
    VERSION_CONFLICT = strawberry.enum_value(
        "VERSION_CONFLICT",
        description="An UPDATE's document got a newer version than `ifVersion` before the upload completed.",
    )


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
    UploadForm | QuotaExceededError | VersionConflictError | ValidationError | NotFoundError | WrongRegionError,
    strawberry.union(
        "RequestUploadResult",
        description=(
            "A form to upload with, or why there is none (`VersionConflictError`: `mode` UPDATE found the "
            "document at another version, or no document at the path; `NotFoundError`: `documentId` names no "
            "document you can see; `QuotaExceededError`: for a document shared with you, its owner's quota)."
        ),
    ),
]
CompleteUploadResult = Annotated[
    Document | UploadNotFoundError | UploadRejectedError | WrongRegionError,
    strawberry.union(
        "CompleteUploadResult",
        description="The counted document (the same one on a repeated call), or why the upload was refused.",
    ),
]
