"""Quota levels: each crossing is seen exactly once, up or down."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from ulid import ULID

from domain.plans import GIB
from models import accounts, quota
from models.accounts import Account


@pytest.mark.parametrize(
    ("used", "expected"),
    [(0, 0), (4 * GIB - 1, 0), (4 * GIB, 80), (int(4.5 * GIB), 90), (5 * GIB, 90), (5 * GIB + 1, 100)],
)
def test_level_of_usage_against_a_5_gib_limit(used: int, expected: int) -> None:
    assert quota.level(used, 5 * GIB) == expected


def new_account() -> Account:
    return accounts.create(email=f"q-{ULID()}@example.com".lower(), password_hash="x", plan="FREE", home_region="r")


def use(account: Account, used: int) -> None:
    Account(id=account.id).update(actions=[Account.used_bytes.set(used)])


def test_crossings_up_and_down_are_each_reported_once(target) -> None:
    account = new_account()
    assert quota.evaluate(account.id) is None

    use(account, 4 * GIB)
    first = quota.evaluate(account.id)
    use(account, 5 * GIB + 1)
    second = quota.evaluate(account.id)
    repeat = quota.evaluate(account.id)
    use(account, GIB)
    down = quota.evaluate(account.id)

    assert (first.before, first.after, first.upward) == (0, 80, True)
    assert (second.before, second.after, second.upward) == (80, 100, True)
    assert repeat is None
    assert (down.before, down.after, down.upward) == (100, 0, False)
    record = accounts.get(account.id)
    assert (record.quota_level, record.over_quota) == (0, False)


def test_over_quota_flag_follows_the_level(target) -> None:
    account = new_account()
    use(account, 6 * GIB)

    quota.evaluate(account.id)

    assert accounts.get(account.id).over_quota is True


def test_concurrent_evaluations_see_one_crossing(target) -> None:
    account = new_account()
    use(account, int(4.6 * GIB))

    with ThreadPoolExecutor(max_workers=8) as pool:
        crossings = [c for c in pool.map(lambda _: quota.evaluate(account.id), range(8)) if c is not None]

    assert [(c.before, c.after) for c in crossings] == [(0, 90)]
