"""Sharing with other accounts: the share, the roles, the inputs and results."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.sharing import Role
from schema.enums import graphql_enum
from schema.errors import NotFoundError, ValidationError
from schema.regions import WrongRegionError

if TYPE_CHECKING:
    from models.shares import Share as ShareRecord

graphql_enum(
    Role,
    "What you may do with a document (`Document.access`).",
    {
        Role.OWNER: "It is yours: everything, and only you delete, move, share it and make its share links.",
        Role.EDITOR: (
            "Shared with you to edit: read and download it, rename, retag and redescribe it (`updateDocument`) and "
            "upload a new version (`requestUpload` with `documentId`); the bytes count in the owner's quota."
        ),
        Role.VIEWER: "Shared with you to read: see it, download it and its versions, its thumbnails and its events.",
    },
)
DocumentRole = Role


@strawberry.enum(description="The role a share gives its account.")
class ShareRole(Enum):
    VIEWER = strawberry.enum_value(
        "VIEWER", description="Read, download, see thumbnails, versions and live events of the document."
    )
    EDITOR = strawberry.enum_value(
        "EDITOR",
        description="What VIEWER may, and rename, retag, redescribe and upload a new version (on the owner's quota).",
    )


@strawberry.type(
    description=(
        "A document shared with another account. The owner sees its shares in `Document.shares`; the account it "
        "is shared with finds the document in `sharedWithMe`. Removing it (`unshareDocument`) ends that account's "
        "access at once, its open subscriptions to the document included."
    )
)
class Share:
    id: strawberry.ID = strawberry.field(description="The share's id (for `unshareDocument`).")
    document_id: strawberry.ID = strawberry.field(description="The document shared.")
    role: ShareRole = strawberry.field(description="What the account it is shared with may do.")
    email: str = strawberry.field(description="The email of the account it is shared with.")
    owner_email: str = strawberry.field(description="The email of the document's owner, who shared it.")
    created_at: datetime = strawberry.field(description="When it was first shared with this account (UTC).")
    updated_at: datetime = strawberry.field(description="When it was last shared or its role changed (UTC).")

    @classmethod
    def from_model(cls, record: ShareRecord) -> Share:
        return cls(
            id=strawberry.ID(f"{record.document_id}{record.grantee_id}"),
            document_id=strawberry.ID(record.document_id),
            role=ShareRole(str(record.role)),
            email=record.grantee_email,
            owner_email=record.owner_email,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


@strawberry.input(description="Share one of your stored documents with another account.")
class ShareDocumentInput:
    document_id: strawberry.ID = strawberry.field(description="The document to share: yours, and stored.")
    email: str = strawberry.field(
        description="The email of the account to share it with: an account of this region, not yours."
    )
    role: ShareRole = strawberry.field(
        description="What that account may do; sharing again with the same email changes the role."
    )


@strawberry.input(description="The share to remove.")
class UnshareDocumentInput:
    share_id: strawberry.ID = strawberry.field(
        description="The share (`Share.id`): one of your documents' shares, or a share with you, to leave it."
    )


ShareDocumentResult = Annotated[
    Share | NotFoundError | ValidationError | WrongRegionError,
    strawberry.union(
        "ShareDocumentResult",
        description=(
            "The share (a new one, or the one there was with its new role); or `NotFoundError` (no stored "
            "document with that id in this account, also when deleted meanwhile); or `ValidationError` on `email` "
            "(not an email, no account has it, it is yours, or its account lives in another region). A document "
            "shared with you, even as EDITOR, answers `FORBIDDEN`: only its owner shares it. Nothing is written "
            "on a refusal."
        ),
    ),
]
UnshareDocumentResult = Annotated[
    Share | NotFoundError | WrongRegionError,
    strawberry.union(
        "UnshareDocumentResult",
        description=(
            "The share removed; or `NotFoundError` (no such share, already removed, or neither of your documents "
            "nor with you)."
        ),
    ),
]
