"""Share links: making, changing, revoking (listing is ``Document.shareLinks``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from access import documents as access
from access.context import Context
from access.permissions import require_account
from adapters.hashing import HashingBusy
from models.errors import DocumentNotFound
from models.share_links import ShareLink as ShareLinkRecord
from schema.errors import Conflict, NotFoundError, ValidationError
from schema.share_links import (
    CreateShareLinkInput,
    CreateShareLinkResult,
    RevokeShareLinkInput,
    RevokeShareLinkResult,
    ShareLink,
    UpdateShareLinkInput,
    UpdateShareLinkResult,
)
from services import share_links, validation

NO_LINK = "No share link with that id in this account."


def answer(context: Context, record: ShareLinkRecord) -> ShareLink:
    return ShareLink.from_model(record, context.share_url(record), datetime.now(UTC))


async def create_share_link(
    info: strawberry.Info[Context, None],
    input: Annotated[CreateShareLinkInput, strawberry.argument(description="The document, and the link's limits.")],
) -> CreateShareLinkResult:
    account = await require_account(info)
    try:
        record = await share_links.create(
            info.context.services,
            account.id,
            str(input.document_id),
            expires_in_seconds=input.expires_in_seconds,
            password_text=input.password,
            max_downloads=input.max_downloads,
            version=input.version,
        )
    except validation.InvalidInput as error:
        return ValidationError.of(error.problems)
    except DocumentNotFound:
        await access.refuse_shared(info.context.services, account.id, str(input.document_id))
        return NotFoundError(message="No stored document with that id in this account.", id=input.document_id)
    except share_links.TooManyLinks as error:
        return ValidationError.of([validation.Problem("documentId", str(error))])
    except HashingBusy as busy:  # a password to hash while the pool is full: nothing written, try again
        raise Conflict(str(busy)) from None
    return answer(info.context, record)


async def update_share_link(
    info: strawberry.Info[Context, None],
    input: Annotated[UpdateShareLinkInput, strawberry.argument(description="The link, and what to change.")],
) -> UpdateShareLinkResult:
    account = await require_account(info)
    try:
        record = await share_links.update(
            info.context.services,
            account.id,
            str(input.id),
            expires_in_seconds=input.expires_in_seconds,
            password_text=input.password,
            max_downloads=input.max_downloads,
        )
    except validation.InvalidInput as error:
        return ValidationError.of(error.problems)
    except share_links.ShareLinkNotFound:
        return NotFoundError(message=NO_LINK, id=input.id)
    except HashingBusy as busy:
        raise Conflict(str(busy)) from None
    return answer(info.context, record)


async def revoke_share_link(
    info: strawberry.Info[Context, None],
    input: Annotated[RevokeShareLinkInput, strawberry.argument(description="The link to revoke.")],
) -> RevokeShareLinkResult:
    account = await require_account(info)
    try:
        record = await share_links.revoke(info.context.services, account.id, str(input.id))
    except share_links.ShareLinkNotFound:
        return NotFoundError(message=NO_LINK, id=input.id)
    return answer(info.context, record)
