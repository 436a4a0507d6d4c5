"""Following documents: follow and unfollow, for anyone who can read the document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from access import documents as access
from access.context import Context
from access.permissions import require_account
from models.errors import DocumentNotFound
from schema.documents import Document
from schema.errors import NotFoundError
from schema.follows import FollowDocumentInput, FollowDocumentResult, UnfollowDocumentInput, UnfollowDocumentResult
from services import follows

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from models.documents import Document as DocumentRecord
    from runtime.services import Services

NO_DOCUMENT = "No document with that id in this account."


async def follow_document(
    info: strawberry.Info[Context, None],
    input: Annotated[FollowDocumentInput, strawberry.argument(description="The document to follow.")],
) -> FollowDocumentResult:
    return await _as_viewer(info, input.document_id, follows.follow)


async def unfollow_document(
    info: strawberry.Info[Context, None],
    input: Annotated[UnfollowDocumentInput, strawberry.argument(description="The document to stop following.")],
) -> UnfollowDocumentResult:
    return await _as_viewer(info, input.document_id, follows.unfollow)


async def _as_viewer(
    info: strawberry.Info[Context, None],
    document_id: strawberry.ID,
    change: Callable[[Services, DocumentRecord, str], Awaitable[DocumentRecord]],
) -> Document | NotFoundError:
    account = await require_account(info)
    services = info.context.services
    try:
        reached = await access.reach(services, account.id, str(document_id))
        record = await change(services, reached.document, account.id)
    except DocumentNotFound:
        return NotFoundError(message=NO_DOCUMENT, id=document_id)
    return Document.from_model(record, reached.role)
