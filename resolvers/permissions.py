"""Who may do what: every resolver that touches an account's data starts here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from schema.errors import Unauthenticated

if TYPE_CHECKING:
    import strawberry

    from models.accounts import Account
    from resolvers.context import Context


async def require_account(info: strawberry.Info[Context, None]) -> Account:
    """The signed-in account; ``UNAUTHENTICATED`` for a missing, wrong, expired or revoked token."""
    account = await info.context.viewer()
    if account is None:
        raise Unauthenticated()
    return account
