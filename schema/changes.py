"""The change feed: a change, its page, and the answer a cursor older than the feed gets."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.changes import ChangeKind as ChangeKind  # exported: the GraphQL enum, declared below
from schema.documents import Document, PageInfo
from schema.enums import graphql_enum
from schema.errors import Error
from schema.regions import WrongRegionError

if TYPE_CHECKING:
    from models.changes import Change as ChangeRecord
    from models.changes import CursorExpired
    from models.documents import Document as DocumentRecord

graphql_enum(
    ChangeKind,
    "What happened to a document.",
    {
        ChangeKind.CREATED: (
            "Its upload was completed and counted: it has bytes now (`completeUpload`, "
            "`completeMultipartUpload`, or a posted form completed once it expired)."
        ),
        ChangeKind.UPDATED: "Its name, tags or description changed (`updateDocument`).",
        ChangeKind.MOVED: "It moved to `path` (`moveDocument`).",
        ChangeKind.NEW_VERSION: "A new version of its bytes was added (an OVERWRITE or UPDATE upload completed).",
        ChangeKind.RESTORED: "An older version became current again, as a new version (`restoreVersion`).",
        ChangeKind.DELETED: "It is gone: deleted, or refused by processing after it was counted.",
    },
)


@strawberry.type(description="One change of one of your documents, in the order the account's changes were made.")
class Change:
    sequence: int = strawberry.field(
        description="The change's number in your account: 1, 2, 3, ... with no gap and no repeat."
    )
    cursor: str = strawberry.field(
        description=(
            "Opaque position after this change: keep the last one received, and pass it as `after` to "
            "`changeEvents` or `changes` to go on from there after a reconnect."
        )
    )
    kind: ChangeKind = strawberry.field(description="What happened.")
    at: datetime = strawberry.field(description="When the change was made.")
    document_id: strawberry.ID = strawberry.field(description="The document that changed.")
    path: str = strawberry.field(description="The document's path once changed (where it moved to, for MOVED).")
    version: int | None = strawberry.field(
        description=(
            "For NEW_VERSION and RESTORED, the document's new current version; null for the other kinds "
            "(`document.version` is the version now)."
        )
    )
    document: Document | None = strawberry.field(
        description="The document as it is now (not as it was then); null once it is deleted."
    )

    @classmethod
    def from_model(cls, change: ChangeRecord, document: DocumentRecord | None, cursor: str) -> Change:
        return cls(
            sequence=change.sequence,
            cursor=cursor,
            kind=change.kind,
            at=change.at,
            document_id=strawberry.ID(change.document_id),
            path=change.path,
            version=change.version,
            document=None if document is None else Document.from_model(document),
        )


@strawberry.type(description="A change in the feed, with the position after it.")
class ChangeEdge:
    cursor: str = strawberry.field(description="Opaque position after this change: pass it as `after` to go on.")
    node: Change = strawberry.field(description="The change.")


@strawberry.type(description="A page of your changes, oldest first (Relay connection).")
class ChangeConnection:
    edges: list[ChangeEdge] = strawberry.field(description="The changes of this page, in order.")
    page_info: PageInfo = strawberry.field(
        description=(
            "How to fetch the next page. `endCursor` is never null here: on an empty page it is the cursor "
            "you passed (or the start), so a client can keep it and ask again later."
        )
    )


@strawberry.type(
    description=(
        "Changes after the cursor are no longer kept (they are kept `retentionDays` days), so the feed cannot "
        "say what changed since: compare your whole tree (`compareChecksums`), then start again from "
        "`latestChangeCursor`, taken before the compare."
    )
)
class CursorExpiredError(Error):
    retention_days: int = strawberry.field(
        description="How many days the feed keeps each change (DOCSTORE_CHANGE_RETENTION_DAYS, at least 30)."
    )

    @classmethod
    def from_expired(cls, expired: CursorExpired) -> CursorExpiredError:
        return cls(message=str(expired), retention_days=expired.retention_days)


ChangesResult = Annotated[
    ChangeConnection | CursorExpiredError | WrongRegionError,
    strawberry.union(
        "ChangesResult",
        description=(
            "A page of changes, or `CursorExpiredError` when changes after the cursor are no longer kept, or "
            "`WrongRegionError` when your account lives in another region. Branch on `__typename`."
        ),
    ),
]
ChangeEvent = Annotated[
    Change | CursorExpiredError,
    strawberry.union(
        "ChangeEvent",
        description=(
            "A change, or `CursorExpiredError`, the last event of a subscription whose cursor the feed no longer "
            "covers: the subscription completes after it. Branch on `__typename`."
        ),
    ),
]
