"""Live events: the ``Event`` interface, one type per kind of event, and the unions subscriptions yield."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from domain.follows import DocumentChange
from schema.enums import graphql_enum
from schema.errors import CodedError
from schema.scalars import Long

if TYPE_CHECKING:
    from events.envelope import Event as Envelope


class TooSlow(CodedError):
    """A subscription whose client left too many events unread: it ends with this error."""

    code = "TOO_SLOW"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This subscription fell more than {limit} events behind and was ended. "
            "Fetch the current state, then subscribe again."
        )


class WebSocketOnly(CodedError):
    """A subscription sent over HTTP: live events travel over WebSocket only."""

    code = "BAD_REQUEST"

    def __init__(self) -> None:
        super().__init__(
            "Subscriptions work over WebSocket only: connect to /graphql with the graphql-transport-ws "
            'protocol and send {"authorization": "Bearer <token>"} in connection_init.'
        )


def _about(event: Envelope) -> dict[str, Any]:
    return {"id": strawberry.ID(event.id), "at": event.at, "document_id": _document_id(event)}


def _document_id(event: Envelope) -> strawberry.ID | None:
    return None if event.document_id is None else strawberry.ID(event.document_id)


def _document(event: Envelope) -> dict[str, Any]:
    """What every document event carries; ValueError for one that names no document."""
    if event.document_id is None:
        raise ValueError(f"a {event.type.value} event names its document")
    return _about(event)


@strawberry.interface(description="Something that happened in your account, as it happened.")
class Event:
    id: strawberry.ID = strawberry.field(description="The event's id, unique; ids sort by time.")
    at: datetime = strawberry.field(description="When it happened (UTC).")
    document_id: strawberry.ID | None = strawberry.field(
        description="The document it is about; null for a quota event that no single document caused."
    )


@strawberry.type(description="A new document waits for its file: `requestUpload` issued its form.")
class UploadStarted(Event):
    document_id: strawberry.ID = strawberry.field(description="The document being uploaded.")

    @classmethod
    def from_event(cls, event: Envelope) -> UploadStarted:
        return cls(**_document(event))


@strawberry.type(description="The file is stored and counted; DocStore is processing it.")
class ProcessingStarted(Event):
    document_id: strawberry.ID = strawberry.field(description="The document being processed.")

    @classmethod
    def from_event(cls, event: Envelope) -> ProcessingStarted:
        return cls(**_document(event))


@strawberry.type(description="Text extraction went one page further.")
class ExtractionProgress(Event):
    document_id: strawberry.ID = strawberry.field(description="The document being processed.")
    page: int = strawberry.field(description="Pages done so far, from 1 to `pages`.")
    pages: int = strawberry.field(description="Pages in the document.")

    @classmethod
    def from_event(cls, event: Envelope) -> ExtractionProgress:
        return cls(**_document(event), page=int(event.data["page"]), pages=int(event.data["pages"]))


@strawberry.type(description="Processing finished: the document is `READY`.")
class DocumentReady(Event):
    document_id: strawberry.ID = strawberry.field(description="The document that is ready.")
    content_hash: str | None = strawberry.field(
        description=(
            "The document's `contentHash` (Dropbox's 4 MiB block scheme, docs/CONTENT_HASH.md), so a client "
            "can compare it with its local file without asking for the document; null only in events "
            "published by a DocStore older than content hashes."
        )
    )
    has_thumbnail: bool = strawberry.field(
        description=(
            "Whether the document has thumbnails (`Document.thumbnailUrl`) of these bytes: false for types "
            "without them (office documents, text, audio, archives) and for a file none could be made of "
            "(damaged, too large, too slow to render); also false in events published by a DocStore older "
            "than thumbnails."
        )
    )

    @classmethod
    def from_event(cls, event: Envelope) -> DocumentReady:
        content_hash = event.data.get("content_hash")
        return cls(
            **_document(event),
            content_hash=None if content_hash is None else str(content_hash),
            has_thumbnail=bool(event.data.get("has_thumbnail", False)),
        )


@strawberry.type(description="Processing failed; the document's `status` and `failureReason` tell what remains of it.")
class DocumentFailed(Event):
    document_id: strawberry.ID = strawberry.field(description="The document that failed.")
    reason: str = strawberry.field(
        description="Why, as in the document's `failureReason` (e.g. `WRONG_TYPE`: not what its content type says)."
    )

    @classmethod
    def from_event(cls, event: Envelope) -> DocumentFailed:
        return cls(**_document(event), reason=str(event.data["reason"]))


@strawberry.type(description="The document was deleted, with its file and its bytes in the quota.")
class DocumentDeleted(Event):
    document_id: strawberry.ID = strawberry.field(description="The document that was deleted.")

    @classmethod
    def from_event(cls, event: Envelope) -> DocumentDeleted:
        return cls(**_document(event))


graphql_enum(
    DocumentChange,
    "What happened to a document you follow (`DocumentChanged.change`).",
    {
        DocumentChange.NEW_VERSION: "A new version of its file was uploaded (`version` is its number).",
        DocumentChange.RENAMED: "It was renamed (`updateDocument` with `name`).",
        DocumentChange.RETAGGED: "Its tags changed (`updateDocument` with `tags`).",
        DocumentChange.DELETED: "It was deleted by its owner: you follow it no longer.",
        DocumentChange.RESTORED: "An earlier version was made current again, as version `version`.",
    },
)


@strawberry.type(
    description=(
        "Someone else changed a document you follow (`followDocument`; you follow your own documents unless you "
        "unfollowed them). Sent once per change to each follower but the one who made it; a rename and a retag in "
        "one `updateDocument` are two events. A move, a new description and processing are not sent. Sent only "
        "while you can read the document: a document no longer shared with you sends nothing more."
    )
)
class DocumentChanged(Event):
    document_id: strawberry.ID = strawberry.field(description="The document that changed.")
    change: DocumentChange = strawberry.field(description="What changed.")
    by: str = strawberry.field(description="The email of the account that changed it.")
    version: int = strawberry.field(
        description="The document's version after the change (for DELETED: the version it was deleted at)."
    )

    @classmethod
    def from_event(cls, event: Envelope) -> DocumentChanged:
        return cls(
            **_document(event),
            change=DocumentChange(event.data["change"]),
            by=str(event.data["by"]),
            version=int(event.data["version"]),
        )


@strawberry.type(description="The bytes your documents use changed.")
class QuotaChanged(Event):
    used_bytes: Long = strawberry.field(description="Bytes used now, by stored documents.")
    limit_bytes: Long = strawberry.field(description="Bytes your plan allows.")

    @classmethod
    def from_event(cls, event: Envelope) -> QuotaChanged:
        return cls(
            **_about(event),
            used_bytes=Long(int(event.data["used_bytes"])),
            limit_bytes=Long(int(event.data["limit_bytes"])),
        )


@strawberry.type(description="Your usage crossed a warning threshold of your plan's limit.")
class QuotaWarning(Event):
    percent: int = strawberry.field(description="The threshold crossed, in percent of the limit (e.g. 80, 90).")

    @classmethod
    def from_event(cls, event: Envelope) -> QuotaWarning:
        return cls(**_about(event), percent=int(event.data["percent"]))


@strawberry.type(
    description="Your usage went over your plan's limit: new uploads are refused until you delete documents or upgrade."
)
class QuotaExceeded(Event):
    used_bytes: Long = strawberry.field(description="Bytes used now, by stored documents.")
    limit_bytes: Long = strawberry.field(description="Bytes your plan allows.")

    @classmethod
    def from_event(cls, event: Envelope) -> QuotaExceeded:
        return cls(
            **_about(event),
            used_bytes=Long(int(event.data["used_bytes"])),
            limit_bytes=Long(int(event.data["limit_bytes"])),
        )


DocumentEvent = Annotated[
    UploadStarted
    | ProcessingStarted
    | ExtractionProgress
    | DocumentReady
    | DocumentFailed
    | DocumentDeleted
    | DocumentChanged,
    strawberry.union("DocumentEvent", description="What happened to a document. Branch on `__typename`."),
]
QuotaEvent = Annotated[
    QuotaChanged | QuotaWarning | QuotaExceeded,
    strawberry.union("QuotaEvent", description="What happened to your quota. Branch on `__typename`."),
]
