"""Multipart uploads: a large file in parts, each PUT straight to S3, assembled by S3."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.documents import PATH_RULES, Document, DocumentStatus, VersionConflictError
from schema.errors import Error, ValidationError
from schema.regions import WrongRegionError
from schema.scalars import Long
from schema.uploads import (
    QuotaExceededError,
    UploadMode,
    UploadNotFoundError,
    UploadRejectedError,
)


@strawberry.input(
    description="A large file about to be uploaded in parts. The size is reserved against the plan's quota."
)
class RequestMultipartUploadInput:
    filename: str = strawberry.field(
        description="The file's name: 1 to 255 bytes of UTF-8, no slashes, no control characters, not `.` or `..`."
    )
    path: str | None = strawberry.field(
        default=None,
        description=(
            "Where the document goes; `/` + `filename` when left out. As with `requestUpload`, an upload adds "
            "a document and never replaces one: to a taken path (ignoring case) it goes to the first free "
            "numbered copy, `/a/report (1).pdf`, ... (`Document.path` says where). "
        )
        + PATH_RULES,
    )
    content_type: str = strawberry.field(
        description="The file's MIME type, one of those DocStore stores (PDF, office, text, images, video, archives)."
    )
    size: Long = strawberry.field(
        description=(
            "The exact size in bytes: at least 1, at most 5 TiB (S3's largest object) and within the plan's quota. "
            "Not bound by `requestUpload`'s 5 GiB."
        )
    )
    mode: UploadMode = strawberry.field(
        default=UploadMode.ADD, description="What the upload does when another document is at `path`."
    )
    if_version: int | None = strawberry.field(
        default=None, description="For `mode` UPDATE only (and needed there): the version the document must be at."
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


@strawberry.type(
    description=(
        "A multipart upload in progress. Cut the file into `partCount` parts of `partSize` bytes (the last one "
        "the rest), get a URL for each from `signUploadParts`, PUT each part's bytes to its URL (in parallel if "
        "you like; S3 answers each with an `ETag` header), then call `completeMultipartUpload` with every part's "
        "number and ETag. `uploadedParts` says what S3 already has, to resume. Not completed by `expiresAt`, "
        "the upload is aborted and its reservation released."
    )
)
class MultipartUpload:
    document_id: strawberry.ID = strawberry.field(
        description="The document this upload becomes; pass it to `signUploadParts` and `completeMultipartUpload`."
    )
    part_size: Long = strawberry.field(
        description=(
            "Bytes in every part but the last: ${multipart_part_bytes} bytes, or more where the file would "
            "need more than S3's 10,000 parts (then in whole MiB)."
        )
    )
    part_count: int = strawberry.field(description="How many parts: the size divided by `partSize`, rounded up.")
    expires_at: datetime = strawberry.field(
        description=(
            "Completed by then (${multipart_upload_seconds} seconds after the request), or the upload is aborted "
            "and its reservation released."
        )
    )


@strawberry.type(
    description="The upload was completed already; it is a document now (delete it with `deleteDocument`)."
)
class UploadCompletedError(Error):
    document_id: strawberry.ID = strawberry.field(description="The id that was asked for.")
    status: DocumentStatus = strawberry.field(description="The document's status now.")


@strawberry.input(description="Which parts of a multipart upload to sign PUT URLs for.")
class SignUploadPartsInput:
    document_id: strawberry.ID = strawberry.field(description="`MultipartUpload.documentId`.")
    part_numbers: list[int] = strawberry.field(
        description=(
            "Part numbers, from 1 to `partCount`: at least one, at most ${multipart_sign_max_parts} a call; "
            "repeated numbers are signed once. Signing a part again is allowed (to retry it)."
        )
    )


@strawberry.type(description="Where to PUT one part.")
class UploadPartUrl:
    number: int = strawberry.field(description="The part number.")
    url: str = strawberry.field(
        description=(
            "A presigned S3 `UploadPart` URL: send the part's bytes as the body of a PUT, no other header needed "
            "but the `Content-Length` every HTTP client sends. It is signed for exactly the part's length "
            "(`partSize`; the last part what remains of the declared size): S3 refuses a body of any other "
            "length. Keep the `ETag` S3 answers for `completeMultipartUpload`. Refused by S3 once the upload is "
            "completed or aborted."
        )
    )


@strawberry.type(description="Signed PUT URLs for the parts asked for.")
class SignedUploadParts:
    document_id: strawberry.ID = strawberry.field(description="The upload's document.")
    parts: list[UploadPartUrl] = strawberry.field(description="One URL per part number asked for, in that order.")
    expires_at: datetime = strawberry.field(
        description="The URLs are refused after this instant (${multipart_part_url_seconds} seconds)."
    )


@strawberry.type(description="One part S3 holds for a multipart upload in progress.")
class UploadedPart:
    number: int = strawberry.field(description="The part number.")
    etag: str = strawberry.field(description="The part's ETag, as S3 answered its PUT (without quotes).")
    size: Long = strawberry.field(description="The part's size in bytes.")


@strawberry.input(description="One part of a multipart upload, as S3 answered its PUT.")
class CompletedPartInput:
    number: int = strawberry.field(description="The part number, from 1 to `partCount`.")
    etag: str = strawberry.field(description="The `ETag` header S3 answered the part's PUT with (quotes optional).")


@strawberry.input(description="The multipart upload to complete, and its parts.")
class CompleteMultipartUploadInput:
    document_id: strawberry.ID = strawberry.field(description="`MultipartUpload.documentId`.")
    parts: list[CompletedPartInput] = strawberry.field(
        description=(
            "Every part, from 1 to `partCount`, each once, with its ETag. A list that cannot be the upload's "
            "(empty, a number out of range or twice) is a `ValidationError` and changes nothing; parts that are "
            "not the ones S3 holds reject the upload."
        )
    )


@strawberry.input(description="The multipart upload to abort.")
class AbortUploadInput:
    document_id: strawberry.ID = strawberry.field(description="`MultipartUpload.documentId`.")


@strawberry.type(description="The upload was aborted: its parts deleted, its reservation released, its record gone.")
class AbortedUpload:
    document_id: strawberry.ID = strawberry.field(description="The aborted upload's document id.")
    freed_bytes: Long = strawberry.field(description="The reservation released (0 for an upload already rejected).")


RequestMultipartUploadResult = Annotated[
    MultipartUpload | QuotaExceededError | VersionConflictError | ValidationError | WrongRegionError,
    strawberry.union("RequestMultipartUploadResult", description="The upload started, or why it was not."),
]
SignUploadPartsResult = Annotated[
    SignedUploadParts
    | UploadNotFoundError
    | UploadRejectedError
    | UploadCompletedError
    | ValidationError
    | WrongRegionError,
    strawberry.union("SignUploadPartsResult", description="A URL per part, or why there are none."),
]
CompleteMultipartUploadResult = Annotated[
    Document | UploadNotFoundError | UploadRejectedError | ValidationError | WrongRegionError,
    strawberry.union(
        "CompleteMultipartUploadResult",
        description=(
            "The counted document (the same one on a repeated call), why the upload was refused, or why the parts "
            "list cannot be the upload's."
        ),
    ),
]
AbortUploadResult = Annotated[
    AbortedUpload | UploadNotFoundError | UploadCompletedError | WrongRegionError,
    strawberry.union("AbortUploadResult", description="The upload aborted, or why it was not."),
]
