"""Roles: USER by default; ADMIN, granted from the command line, may read the dashboard."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from models import accounts
from models.accounts import Account
from models.base import condition_failed
from models.errors import AccountNotFound

USER = "USER"
ADMIN = "ADMIN"
ROLES = (USER, ADMIN)


def set_role(email: str, role: str) -> tuple[Account, bool]:
    """Give the account with ``email`` (normalised already) the ``role``: the account, and whether
    that changed anything. :class:`AccountNotFound` for an email no account has."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    account = accounts.find_by_email(email)
    if account is None:
        raise AccountNotFound(email)
    if account.role == role:
        return account, False
    try:
        account.update(actions=[Account.role.set(role)], condition=Account.id.exists())
    except UpdateError as error:
        if condition_failed(error):
            raise AccountNotFound(email) from None
        raise
    return account, True


def is_admin(account: Account) -> bool:
    return account.role == ADMIN
