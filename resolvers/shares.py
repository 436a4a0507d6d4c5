"""Sharing documents with other accounts: share, unshare, and what is shared with the viewer."""

from __future__ import annotations

from typing import Annotated

import strawberry

from access import documents as access
from access.context import Context
from access.permissions import require_account
from domain.sharing import Role
from models.errors import DocumentNotFound, ShareNotFound
from resolvers import pagination
from schema.documents import Document, PageInfo, SharedDocumentConnection, SharedDocumentEdge
from schema.errors import BadUserInput, NotFoundError, ValidationError
from schema.shares import Share, ShareDocumentInput, ShareDocumentResult, UnshareDocumentInput, UnshareDocumentResult
from services import shares, validation

MAX_PAGE = 100
#: What a ``sharedWithMe`` cursor is a position in.
CURSOR_SCOPE = "shared"


async def share_document(
    info: strawberry.Info[Context, None],
    input: Annotated[ShareDocumentInput, strawberry.argument(description="The document, the account, the role.")],
) -> ShareDocumentResult:
    account = await require_account(info)
    services = info.context.services
    try:
        record = await shares.share(services, account, str(input.document_id), input.email, Role(input.role.name))
    except validation.InvalidInput as error:
        return ValidationError.of(error.problems)
    except DocumentNotFound:
        await access.refuse_shared(services, account.id, str(input.document_id))
        return NotFoundError(message="No stored document with that id in this account.", id=input.document_id)
    return Share.from_model(record)


async def unshare_document(
    info: strawberry.Info[Context, None],
    input: Annotated[UnshareDocumentInput, strawberry.argument(description="The share to remove.")],
) -> UnshareDocumentResult:
    account = await require_account(info)
    try:
        record = await shares.unshare(info.context.services, account.id, str(input.share_id))
    except ShareNotFound:
        return NotFoundError(message="No share with that id of your documents or with you.", id=input.share_id)
    return Share.from_model(record)


async def shared_with_me(
    info: strawberry.Info[Context, None],
    first: Annotated[int, strawberry.argument(description="How many documents, 1 to 100.")] = 20,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> SharedDocumentConnection:
    account = await require_account(info)
    checks = validation.Checks()
    checks(validation.page_size, first, first, MAX_PAGE)
    start = checks(pagination.decode, None, after, CURSOR_SCOPE) if after is not None else None
    try:
        checks.done()
    except validation.InvalidInput as error:
        raise BadUserInput(error.problems) from None
    if start is not None and not validation.DOCUMENT_ID.fullmatch(start[1]):
        raise BadUserInput([validation.Problem("after", "The cursor is not one this API gave out.")])
    page = await shares.shared_with(info.context.services, account.id, first, None if start is None else start[1])
    edges = [
        SharedDocumentEdge(
            cursor=pagination.encode(CURSOR_SCOPE, "", record.document_id),
            node=Document.from_model(document, record.role),
            share=Share.from_model(record),
        )
        for record, document in page.entries
    ]
    end = pagination.encode(CURSOR_SCOPE, "", page.last_read) if page.last_read is not None else None
    return SharedDocumentConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=end,
        ),
    )
