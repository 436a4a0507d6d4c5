"""Versions: restoring an earlier version of a document (the upload modes are in ``schema.uploads``)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.documents import Document, VersionConflictError
from schema.errors import Error, NotFoundError, ValidationError
from schema.regions import WrongRegionError
from schema.uploads import QuotaExceededError


@strawberry.input(description="The version of a document to make current again.")
class RestoreVersionInput:
    document_id: strawberry.ID = strawberry.field(description="The document.")
    version: int = strawberry.field(description="One of its earlier versions it still keeps (`Document.versions`).")


@strawberry.type(description="The document does not keep that version (never had it, past the retention, or current).")
class VersionNotFoundError(Error):
    version: int = strawberry.field(description="The version asked for.")


RestoreVersionResult = Annotated[
    Document
    | NotFoundError
    | VersionNotFoundError
    | VersionConflictError
    | QuotaExceededError
    | ValidationError
    | WrongRegionError,
    strawberry.union(
        "RestoreVersionResult",
        description=(
            "The document at its new current version (PROCESSING, a copy of the one asked for), or why nothing "
            "changed: `NotFoundError` for a document that is not the account's; `VersionNotFoundError` for a "
            "version it does not keep; `VersionConflictError` while another version is being uploaded or "
            "processed (try again once READY); `QuotaExceededError` when the copy does not fit."
        ),
    ),
]
