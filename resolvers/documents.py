"""Reading, listing, editing and deleting one's own documents."""

from __future__ import annotations

import functools
from typing import Annotated

import strawberry

from access import documents as access
from access.context import Context
from access.permissions import require_account
from domain.sharing import Role
from models import documents
from models.errors import DocumentNotFound, PathTaken, RaceLost, VersionConflict
from resolvers import pagination
from schema.documents import (
    DeleteDocumentInput,
    DeleteDocumentPayload,
    DeleteDocumentResult,
    Document,
    DocumentConnection,
    DocumentEdge,
    DocumentFilter,
    DocumentOrder,
    MoveDocumentInput,
    MoveDocumentResult,
    PageInfo,
    PathTakenError,
    UpdateDocumentInput,
    UpdateDocumentResult,
    VersionConflictError,
)
from schema.errors import BadUserInput, Conflict, NotFound, NotFoundError, ValidationError
from schema.scalars import Long
from services import documents as documents_service
from services import validation

MAX_PAGE = 100
NO_DOCUMENT = "No document with that id in this account."


async def document(
    info: strawberry.Info[Context, None],
    id: Annotated[strawberry.ID, strawberry.argument(description="The document's id.")],
) -> Document:
    account = await require_account(info)
    try:
        reached = await access.reach(info.context.services, account.id, str(id))
    except DocumentNotFound:
        raise NotFound(NO_DOCUMENT) from None
    return Document.from_model(reached.document, reached.role)


def cursor_scope(field: str, direction: str) -> str:
    """What a cursor is a position in: one field and one direction, meaningless in any other."""
    return f"{field}:{direction}"


async def list_documents(
    info: strawberry.Info[Context, None],
    first: Annotated[int, strawberry.argument(description="How many documents, 1 to 100.")] = 20,
    after: Annotated[
        str | None, strawberry.argument(description="`endCursor` of the previous page, same `orderBy`.")
    ] = None,
    filter: Annotated[
        DocumentFilter | None, strawberry.argument(description="Only documents matching all of this.")
    ] = None,
    order_by: Annotated[
        DocumentOrder | None, strawberry.argument(description="Sort order; newest first by default.")
    ] = None,
) -> DocumentConnection:
    account = await require_account(info)
    order_by = order_by or DocumentOrder()
    order = order_by.field.name
    cursor_order = cursor_scope(order, order_by.direction.name)
    checks = validation.Checks()  # every argument, in the order they are declared
    checks(validation.page_size, first, first, MAX_PAGE)
    start = checks(pagination.decode, None, after, cursor_order) if after is not None else None
    limits = validation.path_limits(info.context.services.settings)
    flt = checks(validation.list_filter, documents.ListFilter(), filter, path_limits=limits)
    try:
        checks.done()
    except validation.InvalidInput as error:
        raise BadUserInput(error.problems) from None
    records, more = await info.context.services.blocking.run(
        functools.partial(
            documents.page,
            account.id,
            order=order,
            descending=order_by.direction.name == "DESC",
            limit=first,
            after=start,
            flt=flt,
        )
    )
    edges = [
        DocumentEdge(
            cursor=pagination.encode(cursor_order, documents.sort_value(record, order), record.document_id),
            node=Document.from_model(record),
        )
        for record in records
    ]
    return DocumentConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def update_document(
    info: strawberry.Info[Context, None],
    input: Annotated[UpdateDocumentInput, strawberry.argument(description="What to change.")],
) -> UpdateDocumentResult:
    account = await require_account(info)
    services = info.context.services
    update = functools.partial(
        documents_service.update,
        services,
        raw_id=str(input.id),
        name=input.name,
        tags=input.tags,
        description=input.description,
        by=account,
    )
    role = Role.OWNER
    try:
        try:
            record = await update(owner_id=account.id)
        except DocumentNotFound:  # not the viewer's own: an EDITOR's share will do
            reached = await access.via_share(services, account.id, str(input.id), Role.EDITOR)
            role = reached.role
            record = await update(owner_id=reached.owner_id)
    except validation.InvalidInput as error:
        return ValidationError.of(error.problems)
    except DocumentNotFound:
        return NotFoundError(message=NO_DOCUMENT, id=input.id)
    except RaceLost as error:
        raise Conflict(str(error)) from None
    return Document.from_model(record, role)


async def move_document(
    info: strawberry.Info[Context, None],
    input: Annotated[MoveDocumentInput, strawberry.argument(description="What to move, and where.")],
) -> MoveDocumentResult:
    account = await require_account(info)
    try:
        record = await documents_service.move(info.context.services, account.id, str(input.document_id), input.path)
    except validation.InvalidInput as error:
        return ValidationError.of(error.problems)
    except DocumentNotFound:
        await access.refuse_shared(info.context.services, account.id, str(input.document_id))
        return NotFoundError(message=NO_DOCUMENT, id=input.document_id)
    except PathTaken as error:
        return PathTakenError(message=str(error), path=error.path)
    except RaceLost as error:
        raise Conflict(str(error)) from None
    return Document.from_model(record)


async def delete_document(
    info: strawberry.Info[Context, None],
    input: Annotated[DeleteDocumentInput, strawberry.argument(description="What to delete.")],
) -> DeleteDocumentResult:
    account = await require_account(info)
    try:
        deleted = await documents_service.delete(
            info.context.services, account.id, str(input.id), input.if_version, by=account, plan=account.plan
        )
    except DocumentNotFound:
        await access.refuse_shared(info.context.services, account.id, str(input.id))
        return NotFoundError(message=NO_DOCUMENT, id=input.id)
    except VersionConflict as error:
        return VersionConflictError(message=str(error), current_version=error.current_version)
    except validation.InvalidInput as error:
        return ValidationError.of(error.problems)
    except RaceLost as error:
        raise Conflict(str(error)) from None
    return DeleteDocumentPayload(id=input.id, freed_bytes=Long(deleted.freed_bytes))
