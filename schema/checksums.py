"""compareChecksums: a client's files against the account's documents, by content hash."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import strawberry

from domain.checksums import ChecksumState
from schema.documents import PATH_RULES, Document
from schema.enums import graphql_enum

if TYPE_CHECKING:
    from collections.abc import Mapping

    from strawberry.types.arguments import InputContext

graphql_enum(
    ChecksumState,
    "Where one path stands between the client's file and the account's document there.",
    {
        ChecksumState.UNCHANGED: "The document's current content hash is the client's: the same bytes.",
        ChecksumState.DIFFERENT: (
            "The document's current content hash is another: `document` is the server's current version, "
            "with its `contentHash` and a `downloadUrl`."
        ),
        ChecksumState.NOT_ON_SERVER: "No document of the account is at the client's path: `document` is null.",
        ChecksumState.NOT_ON_CLIENT: (
            "A document under `pathPrefix` that the client did not list: `document` has its path, "
            "`contentHash` and `downloadUrl`."
        ),
        ChecksumState.PENDING: (
            "A document holds the path but its content hash is not known yet: its upload is not complete, "
            "or the workers have not read its bytes (early in PROCESSING; a document stored before content "
            "hashes, until `docstore backfill-hashes` has run). Neither equal nor different: compare again "
            "later (a `DocumentReady` event carries the hash). Listed or not by the client."
        ),
    },
)


@strawberry.input(description="A file the client has: its path and its content hash.")
class ClientFile:
    path: str = strawberry.field(
        description="Its path, under `pathPrefix`, once per call (ignoring case): " + PATH_RULES
    )
    content_hash: str = strawberry.field(
        description=(
            "Its content hash, as `Document.contentHash` is computed (`docstore hash FILE`): 64 hexadecimal "
            "characters, either case."
        )
    )


@strawberry.input(description="The client's files under one folder, to compare with the account's documents there.")
class CompareChecksumsInput:
    files: list[ClientFile] = strawberry.field(
        description=(
            "The client's files under `pathPrefix`, at most ${compare_max_files} (DOCSTORE_COMPARE_MAX_FILES); "
            "may be empty, to list the folder's documents as NOT_ON_CLIENT."
        )
    )
    path_prefix: str = strawberry.field(
        default="/",
        description=(
            "The folder compared, as `DocumentFilter.pathPrefix` (ignoring case; `/` is the whole account): every "
            "file must be under it, and every document under it that no file names is answered as NOT_ON_CLIENT."
        ),
    )


def compare_input(cls: type[CompareChecksumsInput], value: Mapping[str, Any], _: InputContext) -> CompareChecksumsInput:
    """The input built as Strawberry would, straight from graphql-core's coerced value (which
    checked every field): Strawberry's generic conversion took 5 to 15 µs a file, up to 150 ms of
    the event loop for 10,000 files; this takes about 0.6 µs a file."""
    files = [ClientFile(path=item["path"], content_hash=item["contentHash"]) for item in value["files"]]
    return cls(files=files, path_prefix=value["pathPrefix"])


CompareChecksumsInput.__strawberry_definition__.from_input = compare_input  # type: ignore[attr-defined]


@strawberry.type(description="One path compared: the client's file, the account's document, or both.")
class ChecksumComparison:
    path: str = strawberry.field(
        description="The client's path as sent; for NOT_ON_CLIENT, the document's path as the account spells it."
    )
    state: ChecksumState = strawberry.field(description="How the two compare.")
    document: Document | None = strawberry.field(
        description=(
            "The account's document at the path (its current version), matched ignoring case; null for "
            "NOT_ON_SERVER. Its `downloadUrl` fetches the server's bytes."
        )
    )
