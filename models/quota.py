"""Quota levels: warnings at 80 % and 90 %, and over quota, each noticed once per crossing.

The account keeps the level it was last seen at. Moving it is a conditional update on the old
level, so when several workers look at once, exactly one of them sees (and announces) a crossing;
when the over-quota flag flips, the dashboard's over-quota counter moves in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from models import accounts, counters, retries
from models.accounts import Account
from models.base import condition_failed, failed_items, transaction_connection
from models.retries import Conflict, Race

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


def evaluate(account_id: str, account: Account | None = None) -> Crossing | None:
    """Move the account to the level its usage is at now; the crossing, or None if none.

    ``account``: the account as the caller just read it, saving the first read (a later attempt,
    after someone else moved the level, reads it again). :class:`QuotaLevelRace` when others
    moved the level before every attempt could (each of them announced what it saw).
    """

    def attempt(number: int) -> Crossing | None:
        current = account if number == 1 and account is not None and account.id == account_id else None
        if current is None:
            current = accounts.get(account_id)
        before = int(current.quota_level)
        after = level(int(current.used_bytes), current.limit_bytes)
        if after == before and current.over_quota == (after == OVER):
            return None
        over = after == OVER
        actions: list[Any] = [Account.quota_level.set(after), Account.over_quota.set(over)]
        was_over = bool(current.over_quota)
        flag = Account.over_quota == was_over
        if not was_over:
            flag |= Account.over_quota.does_not_exist()
        condition = (Account.quota_level == before) & flag
        try:
            if over == was_over:
                current.update(actions=actions, condition=condition)
            else:
                # The flag flips: the over-quota counter moves in the same transaction.
                with TransactWrite(connection=transaction_connection()) as transaction:
                    transaction.update(current, actions=actions, condition=condition)
                    counters.add_over_quota(transaction, 1 if over else -1)
        except TransactWriteError as error:
            if any(failed_items(error)):
                raise Conflict from None  # someone else moved it: look again
            raise
        except UpdateError as error:
            if condition_failed(error):
                raise Conflict from None  # someone else moved it: look again
            raise
        return Crossing(account=current, before=before, after=after)

    return retries.retry(Race.QUOTA_LEVEL, account_id, attempt)
