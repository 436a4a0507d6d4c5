"""The reservation is one conditional transaction: no interleaving can pass the plan's limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from ulid import ULID

from domain.plans import GIB
from models import accounts, uploads
from models.errors import QuotaExceeded


def reserve(account: accounts.Account, size: int) -> str:
    try:
        uploads.start(
            account,
            document_id=str(ULID()),
            name="part.bin",
            content_type="application/zip",
            size=size,
            tags=[],
            description="",
            form_seconds=90,
            sweep_grace_seconds=30,
        )
    except QuotaExceeded:
        return "refused"
    return "reserved"


@pytest.mark.parametrize("round_", range(3))
def test_many_threads_reserving_at_once_never_pass_the_limit(target, round_: int) -> None:
    account = accounts.create(
        email=f"race-{ULID()}@example.com".lower(), password_hash="x", plan="FREE", home_region="us-west-2"
    )

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda _: reserve(account, GIB), range(32)))

    assert sorted(outcomes) == ["refused"] * 27 + ["reserved"] * 5
    record = accounts.get(account.id)
    assert (record.reserved_bytes, record.allocated_bytes, record.used_bytes) == (5 * GIB, 5 * GIB, 0)


def test_a_plan_change_between_read_and_write_is_retried_against_the_new_limit(target) -> None:
    account = accounts.create(
        email=f"upgrade-{ULID()}@example.com".lower(), password_hash="x", plan="FREE", home_region="us-west-2"
    )
    accounts.Account(id=account.id).update(actions=[accounts.Account.plan.set("PREMIUM")])

    assert reserve(account, 6 * GIB) == "reserved"  # the stale FREE copy would have refused it
    assert accounts.get(account.id).reserved_bytes == 6 * GIB
