"""Documents: the type, its listing with filters and cursors, and editing."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, cast

import strawberry

from domain.documents import STORED
from domain.documents import DocumentStatus as DocumentStatus  # exported: the GraphQL enum, declared below
from schema.enums import graphql_enum
from schema.errors import BadUserInput, Error, NotFoundError, ValidationError
from schema.regions import WrongRegionError
from schema.scalars import Long
from schema.share_links import ShareLink
from schema.shares import DocumentRole, Share

if TYPE_CHECKING:
    from models.documents import Document as DocumentRecord

PATH_RULES = (
    "`/` then segments joined by `/` (folders are implied by them): at most ${path_max_bytes} bytes of UTF-8 "
    "and ${path_max_depth} segments, no empty segment, no `.` or `..`, no control or invisible character, "
    "no `\\`, no space at either end of a segment; kept in Unicode NFC. Paths compare ignoring case, as "
    "Dropbox's do: `/Report.pdf` and `/report.pdf` are the same place."
)


graphql_enum(
    DocumentStatus,
    "Where a document is in its life.",
    {
        DocumentStatus.PENDING_UPLOAD: "A form was issued; the file has not been completed yet.",
        DocumentStatus.PROCESSING: "Stored and counted; being processed.",
        DocumentStatus.READY: "Stored, counted, ready to download, and already in `search` results.",
        DocumentStatus.FAILED: "Stored and counted, but processing failed; see `failureReason`.",
        DocumentStatus.REJECTED: "The upload was refused (see `failureReason`); nothing is stored or counted.",
    },
)


@strawberry.enum(description="The size of a document's thumbnail (`Document.thumbnailUrl`).")
class ThumbnailSize(Enum):
    SMALL = strawberry.enum_value("SMALL", description="${thumbnail_small_px} pixels on its longer side: for lists.")
    LARGE = strawberry.enum_value(
        "LARGE", description="${thumbnail_large_px} pixels on its longer side: for a document's own page."
    )


@strawberry.type(
    description=(
        "A stored document. Only its owner can see it, and the accounts it is shared with (`access` says how)."
    )
)
class Document:
    id: strawberry.ID = strawberry.field(description="Document id; ids sort by creation time.")
    name: str = strawberry.field(
        description=(
            "The file name, as uploaded or renamed. Set apart from `path`: renaming leaves the path, "
            "a move leaves the name."
        )
    )
    path: str = strawberry.field(
        description=(
            "Where the document sits in the account's tree, unique in the account (ignoring case), "
            "spelt as given: `/` + the file name unless the upload or `moveDocument` named another. "
            "A REJECTED upload keeps the path it had, but no longer holds it: another document may take it."
        )
    )
    content_type: str = strawberry.field(description="The MIME type the file was uploaded as.")
    size: Long = strawberry.field(description="Size in bytes: the real size once completed, the declared size before.")
    status: DocumentStatus = strawberry.field(description="Where the document is in its life.")
    tags: list[str] = strawberry.field(description="Tags, in the order given.")
    description: str = strawberry.field(description="Free text description (may be empty).")
    checksum: str | None = strawberry.field(
        description=(
            "S3's ETag of the stored bytes: their MD5, hex, for a form's upload; for a multipart upload, the MD5 "
            "of the parts' MD5s followed by `-` and the number of parts. Null until completed."
        )
    )
    content_hash: str | None = strawberry.field(
        description=(
            "The content hash of the stored bytes, as Dropbox computes its `content_hash`: SHA-256 of each "
            "4 MiB block of the file, then SHA-256 of those binary block digests concatenated, 64 hex "
            "characters (an empty file: SHA-256 of nothing). Compute it yourself to compare a local file "
            "without downloading it: `docstore hash FILE`, or the shell recipe in docs/CONTENT_HASH.md. "
            "Computed by DocStore's workers from the stored bytes, never taken from the client: null until "
            "they read them (PENDING_UPLOAD, early in PROCESSING), for REJECTED documents, which store no "
            "bytes, and for documents stored before DocStore had content hashes until `docstore "
            "backfill-hashes` has run."
        )
    )
    failure_reason: str | None = strawberry.field(
        description="Why the document was rejected or failed (e.g. `TOO_LARGE`); null otherwise."
    )
    created_at: datetime = strawberry.field(description="When the upload was requested (UTC).")
    updated_at: datetime = strawberry.field(description="When the document last changed (UTC).")
    upload_expires_at: datetime = strawberry.field(description="When the upload form stops accepting the file.")
    version: int = strawberry.field(
        description=(
            "The current version's number: 1 for a first upload, one more for each version added (an upload "
            "with `mode` OVERWRITE or UPDATE, or `restoreVersion`). While a new version is PROCESSING, "
            "`downloadUrl` still serves the previous one."
        )
    )
    access: DocumentRole = strawberry.field(
        description=("What you may do with it: OWNER (yours), or EDITOR or VIEWER (shared with you, `sharedWithMe`).")
    )
    object_key: strawberry.Private[str]
    served_key: strawberry.Private[str]
    owner_id: strawberry.Private[str]
    #: The content hash whose thumbnails are stored, and their sizes (small, large); None: none.
    thumbnail_hash: strawberry.Private[str | None]
    thumbnail_sizes: strawberry.Private[tuple[int, ...]]
    #: Who follows it besides its owner, and whether its owner unfollowed it (``models.follows``).
    follower_ids: strawberry.Private[frozenset[str]]
    owner_unfollowed: strawberry.Private[bool]

    @strawberry.field(
        description=(
            "Whether you follow it: you hear of its changes by others live (`documentEvents`: `DocumentChanged`). "
            "You follow your own documents unless you unfollowed them; a document shared with you once you "
            "`followDocument` it, until you unfollow it or it is no longer shared with you."
        )
    )
    async def following(self, info: strawberry.Info) -> bool:
        if self.access == DocumentRole.OWNER:
            return not self.owner_unfollowed
        viewer = await info.context.viewer()
        return viewer is not None and viewer.id in self.follower_ids

    @strawberry.field(
        description=(
            "The versions the document keeps, newest first: the current one, then the earlier ones the plan "
            "keeps (${versions_free} on FREE, ${versions_premium} on PREMIUM, the current one included; a new "
            "version past that deletes the oldest and frees its bytes). Every kept version counts in the quota. "
            "`first`: 1 to 100 (20 by default); `after`: a cursor of this connection. A bad argument answers "
            "`BAD_USER_INPUT`."
        )
    )
    async def versions(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="How many versions: 1 to 100.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="Start after this cursor (`pageInfo.endCursor`).")
        ] = None,
    ) -> DocumentVersionConnection:
        try:
            found = await info.context.document_versions(self.owner_id, str(self.id), first, after)
        except ValueError as error:  # the use case's InvalidInput: every argument at fault
            raise BadUserInput(getattr(error, "problems", ())) from None
        edges = [
            DocumentVersionEdge(
                cursor=cursor,
                node=DocumentVersion(
                    version=entry.version,
                    size=Long(entry.size),
                    content_hash=entry.content_hash,
                    created_at=entry.created_at,
                    current=entry.current,
                    object_key=entry.object_key,
                    name=self.name,
                    status=self.status,
                ),
            )
            for cursor, entry in found.entries
        ]
        return DocumentVersionConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=found.has_next,
                has_previous_page=found.started_after,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(
        description=(
            "The document's public share links (`createShareLink`, or requestUpload's `public`), oldest first, "
            "revoked and expired ones included (`active` says which still serve): the newest 100. Only the owner "
            "sees them: empty for a document shared with you."
        )
    )
    async def share_links(self, info: strawberry.Info) -> list[ShareLink]:
        if self.access != DocumentRole.OWNER:
            return []
        found = await info.context.document_share_links(str(self.id))
        now = datetime.now(UTC)
        return [ShareLink.from_model(record, url, now) for record, url in found]

    @strawberry.field(
        description=(
            "The accounts you share the document with (`shareDocument`), in no particular order: the first 100. "
            "Only the owner sees them: empty for a document shared with you."
        )
    )
    async def shares(self, info: strawberry.Info) -> list[Share]:
        if self.access != DocumentRole.OWNER:
            return []
        found = await info.context.document_shares(str(self.id))
        return [Share.from_model(record) for record in found]

    @strawberry.field(
        description=(
            "A signed link that downloads the file under its name, valid for ${download_url_lifetime}. "
            "Null while nothing is stored (PENDING_UPLOAD, REJECTED)."
        )
    )
    def download_url(self, info: strawberry.Info) -> str | None:
        if self.status not in STORED:
            return None
        url: str = info.context.download_url(self.served_key, self.name)
        return url

    @strawberry.field(
        description=(
            "A signed link to the document's thumbnail, a WebP image of its first page, image or video frame at "
            "`size` (SMALL: ${thumbnail_small_px} pixels on its longer side, LARGE: ${thumbnail_large_px}; a "
            "smaller original is not enlarged), valid for ${download_url_lifetime}. The image never changes at "
            "its address, and is served with `Cache-Control: public, max-age=31536000, immutable`. Images, PDFs "
            "and videos (MP4, QuickTime, WebM) have one; office documents (DOCX and the others) have none. Null "
            "until the document's bytes are processed, for other types, and for a file no thumbnail could be "
            "made of (damaged, too large, or taking longer than ${thumbnail_lifetime}: the document itself is not "
            "failed for it). While a new version is PROCESSING, it still shows the previous one. Thumbnails do "
            "not count in the quota."
        )
    )
    def thumbnail_url(
        self,
        info: strawberry.Info,
        size: Annotated[ThumbnailSize, strawberry.argument(description="Which of the two sizes.")],
    ) -> str | None:
        if self.status not in STORED or self.thumbnail_hash is None or len(self.thumbnail_sizes) != 2:
            return None
        pixels = self.thumbnail_sizes[0 if size == ThumbnailSize.SMALL else 1]
        url: str = info.context.thumbnail_url(self.owner_id, str(self.id), self.thumbnail_hash, pixels)
        return url

    @classmethod
    def from_model(cls, record: DocumentRecord, access: DocumentRole = DocumentRole.OWNER) -> Document:
        # PynamoDB types a list's items by their attribute: numbers, read back as such.
        sizes = tuple(int(size) for size in cast("list[float]", record.thumbnail_sizes or []))
        return cls(
            id=strawberry.ID(record.document_id),
            name=record.name,
            # A record from before paths is shown at its default until the backfill (models.paths.of).
            path=record.path or "/" + record.name,
            content_type=record.content_type,
            size=Long(int(record.size)),
            status=record.status,
            tags=[str(tag) for tag in record.tags or []],
            description=record.description or "",
            checksum=record.checksum,
            content_hash=record.content_hash,
            failure_reason=record.failure_reason,
            created_at=record.created_at,
            updated_at=record.updated_at,
            upload_expires_at=record.upload_expires_at,
            version=int(record.version or 1),
            access=access,
            object_key=record.object_key,
            served_key=record.served_key or record.object_key,
            owner_id=record.owner_id,
            thumbnail_hash=record.thumbnail_hash,
            # One size stored twice when the two settings are equal.
            thumbnail_sizes=sizes * 2 if len(sizes) == 1 else sizes,
            follower_ids=frozenset(record.followers or ()),
            owner_unfollowed=bool(record.owner_unfollowed),
        )


@strawberry.input(description="Narrow a document listing. Every condition given must hold.")
class DocumentFilter:
    name_contains: str | None = strawberry.field(
        default=None, description="Part of the name, ignoring case (1 to 255 characters)."
    )
    tags: list[str] | None = strawberry.field(default=None, description="Tags the document has all of (at most 20).")
    content_type: str | None = strawberry.field(default=None, description="Exact MIME type, e.g. `application/pdf`.")
    created_after: datetime | None = strawberry.field(default=None, description="Created strictly after.")
    created_before: datetime | None = strawberry.field(default=None, description="Created strictly before.")
    updated_after: datetime | None = strawberry.field(default=None, description="Last changed strictly after.")
    updated_before: datetime | None = strawberry.field(default=None, description="Last changed strictly before.")
    status: DocumentStatus | None = strawberry.field(
        default=None,
        description="Only this status. Without it: stored documents (PROCESSING, READY, FAILED).",
    )
    path_prefix: str | None = strawberry.field(
        default=None,
        description=(
            "Only documents whose path starts with this, ignoring case. Ending with `/`, it names a folder and "
            "lists the folder's whole subtree, every depth (`/a/` finds `/a/x.pdf` and `/a/b/y.pdf`; `/` finds "
            "every document): what a sync client compares, in one listing; a client that shows one level drops "
            "the paths with a further `/`. Same rules as a path, but it may end with `/` and its last segment "
            "may be cut short (`/a/rep` finds `/a/report.pdf`). "
            "`documents` only: `search` refuses it."
        ),
    )


@strawberry.enum(description="What documents are sorted by.")
class DocumentOrderField(Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="When the upload was requested.")
    UPDATED_AT = strawberry.enum_value("UPDATED_AT", description="When the document last changed.")
    NAME = strawberry.enum_value("NAME", description="The file name, ignoring case.")


@strawberry.enum(description="Sort direction.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("ASC", description="Oldest or A first.")
    DESC = strawberry.enum_value("DESC", description="Newest or Z first.")


@strawberry.input(description="Sort order for a listing. A cursor only works with the order it came from.")
class DocumentOrder:
    field: DocumentOrderField = strawberry.field(
        default=DocumentOrderField.CREATED_AT, description="The sort key (names sort ignoring case)."
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.DESC, description="Newest or Z first by default."
    )


@strawberry.type(description="Where a page sits in the whole listing.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More documents follow `endCursor`.")
    has_previous_page: bool = strawberry.field(description="This page started after a cursor.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge; null on an empty page.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page; null on an empty page.")


@strawberry.type(description="A document in a listing, with its position.")
class DocumentEdge:
    cursor: str = strawberry.field(description="Opaque position of this document in the listing.")
    node: Document = strawberry.field(description="The document.")


@strawberry.type(description="A page of documents (Relay connection).")
class DocumentConnection:
    edges: list[DocumentEdge] = strawberry.field(description="The documents of this page, in order.")
    page_info: PageInfo = strawberry.field(description="How to fetch the next page.")


@strawberry.type(description="A document shared with you, with its position in `sharedWithMe`.")
class SharedDocumentEdge:
    cursor: str = strawberry.field(description="Opaque position of this document in the listing.")
    node: Document = strawberry.field(description="The document, as it is now (`access`: EDITOR or VIEWER).")
    share: Share = strawberry.field(description="The share that gives you the document: its role, who shared it.")


@strawberry.type(description="A page of the documents shared with you, newest document first (Relay connection).")
class SharedDocumentConnection:
    edges: list[SharedDocumentEdge] = strawberry.field(description="The documents of this page, in order.")
    page_info: PageInfo = strawberry.field(description="How to fetch the next page.")


@strawberry.type(description="One version of a document: its bytes as they were uploaded or restored.")
class DocumentVersion:
    version: int = strawberry.field(description="Its number: 1 for the first upload, one more for each new version.")
    size: Long = strawberry.field(description="Its size in bytes (counted in the quota while it is kept).")
    content_hash: str | None = strawberry.field(
        description="Its content hash (as `Document.contentHash`); null until the workers have read its bytes."
    )
    created_at: datetime = strawberry.field(description="When it became the current version (UTC).")
    current: bool = strawberry.field(description="Whether it is the document's current version.")
    object_key: strawberry.Private[str]
    name: strawberry.Private[str]
    status: strawberry.Private[DocumentStatus]

    @strawberry.field(
        description=(
            "A signed link that downloads this version under the document's name, valid for "
            "${download_url_lifetime}. Null for the current version while nothing is stored."
        )
    )
    def download_url(self, info: strawberry.Info) -> str | None:
        if self.current and self.status not in STORED:
            return None
        url: str = info.context.download_url(self.object_key, self.name)
        return url


@strawberry.type(description="A version in a document's history, with its position.")
class DocumentVersionEdge:
    cursor: str = strawberry.field(description="Opaque position of this version in the history.")
    node: DocumentVersion = strawberry.field(description="The version.")


@strawberry.type(description="A page of a document's versions, newest first (Relay connection).")
class DocumentVersionConnection:
    edges: list[DocumentVersionEdge] = strawberry.field(description="The versions of this page, newest first.")
    page_info: PageInfo = strawberry.field(description="How to fetch the next page.")


@strawberry.input(description="Changes to a document; fields left out stay as they are.")
class UpdateDocumentInput:
    id: strawberry.ID = strawberry.field(description="The document to change.")
    name: str | None = strawberry.field(default=None, description="A new file name (same rules as uploads).")
    tags: list[str] | None = strawberry.field(default=None, description="The new tags, replacing the old ones.")
    description: str | None = strawberry.field(default=None, description="The new description.")


@strawberry.input(description="Where to move a document.")
class MoveDocumentInput:
    document_id: strawberry.ID = strawberry.field(description="The document to move.")
    path: str = strawberry.field(description="Its new path: " + PATH_RULES)


@strawberry.type(description="Another document of the account is at that path (paths compare ignoring case).")
class PathTakenError(Error):
    path: str = strawberry.field(description="The path asked for.")


@strawberry.type(description="The document is not at the version named (or there is no document at that path).")
class VersionConflictError(Error):
    current_version: int | None = strawberry.field(
        description="The document's current version; null when no document is at the path."
    )


@strawberry.input(description="The document to delete.")
class DeleteDocumentInput:
    id: strawberry.ID = strawberry.field(description="The document to delete.")
    if_version: int | None = strawberry.field(
        default=None,
        description=(
            "Delete only if the document is still at this version (`Document.version`), checked atomically "
            "with the delete: otherwise `VersionConflictError` with its current version, and nothing is deleted. "
            "A sync client deletes what it last saw, never a version made since by someone else."
        ),
    )


@strawberry.type(description="The document, its file and its bytes in the quota are gone.")
class DeleteDocumentPayload:
    id: strawberry.ID = strawberry.field(description="The deleted document's id.")
    freed_bytes: Long = strawberry.field(description="Bytes given back to the quota (used or reserved).")


UpdateDocumentResult = Annotated[
    Document | NotFoundError | ValidationError | WrongRegionError,
    strawberry.union("UpdateDocumentResult", description="The changed document, or why nothing changed."),
]
MoveDocumentResult = Annotated[
    Document | PathTakenError | NotFoundError | ValidationError | WrongRegionError,
    strawberry.union(
        "MoveDocumentResult",
        description=(
            "The moved document, or why nothing moved. `NotFoundError` also for a REJECTED upload, which holds no path."
        ),
    ),
]
DeleteDocumentResult = Annotated[
    DeleteDocumentPayload | NotFoundError | VersionConflictError | ValidationError | WrongRegionError,
    strawberry.union(
        "DeleteDocumentResult",
        description=(
            "Deleted, or `NotFoundError` (also for a second delete of the same document, which changes nothing), "
            "or `VersionConflictError` (not at `ifVersion`), or `ValidationError` (`ifVersion` under 1)."
        ),
    ),
]
