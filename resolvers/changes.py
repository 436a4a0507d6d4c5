"""The change feed's queries: a page of changes after a cursor, and the cursor to start from."""

from __future__ import annotations

from typing import Annotated

import strawberry

from access.context import Context
from access.permissions import require_account
from models.changes import CursorExpired
from schema.changes import Change, ChangeConnection, ChangeEdge, ChangesResult, CursorExpiredError
from schema.documents import PageInfo
from schema.errors import BadUserInput
from services import changes as changes_service
from services import validation


async def list_changes(
    info: strawberry.Info[Context, None],
    after: Annotated[
        str | None,
        strawberry.argument(
            description="`endCursor` of the previous page, or `latestChangeCursor`; null for the oldest change kept."
        ),
    ] = None,
    first: Annotated[int, strawberry.argument(description="How many changes, 1 to 100.")] = 100,
) -> ChangesResult:
    account = await require_account(info)
    try:
        page = await changes_service.page(info.context.services, account.id, after, first)
    except validation.InvalidInput as error:
        raise BadUserInput(error.problems) from None
    except CursorExpired as expired:
        return CursorExpiredError.from_expired(expired)
    nodes = [
        Change.from_model(entry.change, entry.document, changes_service.cursor(account.id, entry.change.sequence))
        for entry in page.entries
    ]
    edges = [ChangeEdge(cursor=node.cursor, node=node) for node in nodes]
    return ChangeConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=page.end_cursor,
        ),
    )


async def latest_change_cursor(info: strawberry.Info[Context, None]) -> str:
    account = await require_account(info)
    return await changes_service.latest_cursor(info.context.services, account.id)
