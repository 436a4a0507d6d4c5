"""Quota levels: warnings at 80 % and 90 %, and over quota, each noticed once per crossing.

The account keeps the level it was last seen at. Moving it is a conditional update on the old
level, so when several workers look at once, exactly one of them sees (and announces) a crossing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import UpdateError

from models import accounts
from models.accounts import Account
from models.base import condition_failed

WARNINGS = (80, 90)
OVER = 100


@dataclass(frozen=True)
class Crossing:
    """The account moved from level ``before`` to ``after`` (0, 80, 90, or 100 for over quota)."""

    account: Account
    before: int
    after: int

    @property
    def upward(self) -> bool:
        return self.after > self.before


def level(used_bytes: int, limit_bytes: int) -> int:
    if used_bytes > limit_bytes:
        return OVER
    percent = used_bytes * 100 // limit_bytes
    return max((mark for mark in WARNINGS if percent >= mark), default=0)


def evaluate(account_id: str) -> Crossing | None:
    """Move the account to the level its usage is at now; the crossing, or None if none."""
    for _ in range(5):
        account = accounts.get(account_id)
        before = int(account.quota_level)
        after = level(int(account.used_bytes), account.limit_bytes)
        if after == before and account.over_quota == (after == OVER):
            return None
        try:
            account.update(
                actions=[Account.quota_level.set(after), Account.over_quota.set(after == OVER)],
                condition=Account.quota_level == before,
            )
        except UpdateError as error:
            if condition_failed(error):
                continue  # someone else moved it: look again
            raise
        return Crossing(account=account, before=before, after=after)
    return None
