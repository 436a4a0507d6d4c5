"""Roles: USER by default; ADMIN, granted from the command line, may read the dashboard."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from models.accounts import Account
from models.base import condition_failed
from models.errors import AccountNotFound

USER = "USER"
ADMIN = "ADMIN"
ROLES = (USER, ADMIN)


def set_role(account: Account, role: str) -> bool:
    """Give ``account`` the ``role``: whether that changed anything. :class:`AccountNotFound` if
    the account is gone meanwhile."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if account.role == role:
        return False
    try:
        account.update(actions=[Account.role.set(role)], condition=Account.id.exists())
    except UpdateError as error:
        if condition_failed(error):
            raise AccountNotFound(account.id) from None
        raise
    return True


def is_admin(account: Account) -> bool:
    return account.role == ADMIN
