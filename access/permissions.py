"""Who may do what: every resolver that touches an account's data starts here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models import accounts, roles
from schema.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    import strawberry

    from access.context import Context
    from models.accounts import Account


async def require_account(info: strawberry.Info[Context, None]) -> Account:
    """The signed-in account; ``UNAUTHENTICATED`` for a missing, wrong, expired or revoked token,
    ``WRONG_REGION`` (``schema.regions.WrongRegion``, from ``Context.viewer``) for a token or an
    account of another region."""
    account = await info.context.viewer()
    if account is None:
        raise Unauthenticated()
    return account


async def require_admin(info: strawberry.Info[Context, None]) -> Account:
    """The signed-in ADMIN account; ``UNAUTHENTICATED`` without a live token, ``FORBIDDEN`` for
    anyone else (the message says only that, nothing of what was asked for).

    The role is read from DynamoDB, never from the read cache: ``docstore admin revoke`` holds at
    once in every process, even one its invalidation cannot reach (``memory://`` pub/sub)."""
    account = await require_account(info)
    services = info.context.services
    account = await services.blocking.run(accounts.get_fresh, account.id, services.cache)
    if not roles.is_admin(account):
        raise Forbidden("Only administrators may do this.")
    return account
