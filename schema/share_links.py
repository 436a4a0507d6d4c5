"""Share links ("Make Public"): the type, its inputs and results."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.errors import NotFoundError, ValidationError
from schema.regions import WrongRegionError

if TYPE_CHECKING:
    from models.share_links import ShareLink as ShareLinkRecord


@strawberry.type(
    description=(
        "A public link to one of your documents: anyone holding its `url` can see the document's name and size and "
        "download it (after its password, when it has one) until it expires, is revoked or has no downloads left; "
        "then it answers 410. Only you see the link itself (`Document.shareLinks`)."
    )
)
class ShareLink:
    id: strawberry.ID = strawberry.field(description="The link's id (for `updateShareLink`, `revokeShareLink`).")
    url: str | None = strawberry.field(
        description=(
            "The public page, `/s/<token>`: a token of 256 bits derived from the link's id under the server's secret "
            "(only its hash is stored). Null if the server's secret (DOCSTORE_SHARE_SECRET) changed since the link was "
            "made: the link still works for whoever has it, but its URL can no longer be shown."
        )
    )
    expires_at: datetime = strawberry.field(description="When it stops working (UTC).")
    max_downloads: int | None = strawberry.field(description="How many downloads it allows in all; null: no limit.")
    downloads: int = strawberry.field(
        description="Downloads made so far (each press of the page's button that was sent the file)."
    )
    has_password: bool = strawberry.field(description="Whether the page asks for a password before downloading.")
    version: int | None = strawberry.field(
        description="The version it serves; null: the document's current version at the time of each download."
    )
    created_at: datetime = strawberry.field(description="When it was made (UTC).")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked; null while it is not.")
    active: bool = strawberry.field(
        description="Whether it still serves downloads: not revoked, not expired, downloads left."
    )

    @classmethod
    def from_model(cls, record: ShareLinkRecord, url: str | None, now: datetime) -> ShareLink:
        return cls(
            id=strawberry.ID(f"{record.document_id}{record.link_id}"),
            url=url,
            expires_at=record.expires_at,
            max_downloads=None if record.max_downloads is None else int(record.max_downloads),
            downloads=int(record.downloads or 0),
            has_password=record.password_hash is not None,
            version=None if record.version is None else int(record.version),
            created_at=record.created_at,
            revoked_at=record.revoked_at,
            active=record.live(now),
        )


@strawberry.input(description="A new share link to one of your stored documents.")
class CreateShareLinkInput:
    document_id: strawberry.ID = strawberry.field(description="The document to share.")
    expires_in_seconds: int | None = strawberry.field(
        default=None,
        description=(
            "How long it works, from now: 1 to ${share_max_expiry_seconds} seconds (${share_max_expiry}, "
            "DOCSTORE_SHARE_MAX_EXPIRY_SECONDS); null: ${share_default_expiry}."
        ),
    )
    password: str | None = strawberry.field(
        default=None,
        description="A password the page asks for before each download (1 to 128 characters); null: none.",
    )
    max_downloads: int | None = strawberry.field(
        default=None,
        description="How many downloads it allows in all: 1 to ${share_max_downloads}; null: no limit but the expiry.",
    )
    version: int | None = strawberry.field(
        default=None,
        description=(
            "Pin the link to this version of the document (one it keeps, `Document.versions`); null: whatever "
            "version is current at each download."
        ),
    )


@strawberry.input(description="Changes to a share link; a field left null stays as it is.")
class UpdateShareLinkInput:
    id: strawberry.ID = strawberry.field(description="The link to change.")
    expires_in_seconds: int | None = strawberry.field(
        default=None,
        description=(
            "A new expiry counted from now, extending or shortening it (an expired link works again): 1 to "
            "${share_max_expiry_seconds} seconds."
        ),
    )
    password: str | None = strawberry.field(
        default=None, description='A new password (1 to 128 characters); `""` (empty) removes the password.'
    )
    max_downloads: int | None = strawberry.field(
        default=None,
        description=(
            "A new download limit, 1 to ${share_max_downloads}; at or under the downloads made, the link answers 410."
        ),
    )


@strawberry.input(description="The share link to revoke.")
class RevokeShareLinkInput:
    id: strawberry.ID = strawberry.field(description="The link to revoke.")


CreateShareLinkResult = Annotated[
    ShareLink | NotFoundError | ValidationError | WrongRegionError,
    strawberry.union(
        "CreateShareLinkResult",
        description=(
            "The new link; or `NotFoundError` (no such stored document in this account); or `ValidationError` "
            "(a field out of its range, a version the document does not keep, or the document holding "
            "${share_links_per_document} live links already, DOCSTORE_SHARE_LINKS_PER_DOCUMENT). Nothing is "
            "written on a refusal."
        ),
    ),
]
UpdateShareLinkResult = Annotated[
    ShareLink | NotFoundError | ValidationError | WrongRegionError,
    strawberry.union(
        "UpdateShareLinkResult",
        description=(
            "The changed link; or `NotFoundError` (no such link in this account); or `ValidationError` (a field out "
            "of its range, or the link revoked: a revoked link stays revoked)."
        ),
    ),
]
RevokeShareLinkResult = Annotated[
    ShareLink | NotFoundError | WrongRegionError,
    strawberry.union(
        "RevokeShareLinkResult",
        description="The revoked link (revoking it again changes nothing), or `NotFoundError`.",
    ),
]
