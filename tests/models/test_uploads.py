"""The reservation is one conditional transaction: no interleaving can pass the plan's limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from ulid import ULID

from domain.plans import GIB, Plan
from models import accounts, uploads
from models.documents import Document
from models.errors import QuotaExceeded, UploadRejected


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


def stored_upload(store, plan: str, used_bytes: int) -> tuple[accounts.Account, Document]:
    """An account on ``plan`` using ``used_bytes``, with a 100-byte upload posted and not completed."""
    account = accounts.create(
        email=f"complete-{ULID()}@example.com".lower(), password_hash="x", plan="FREE", home_region="us-west-2"
    )
    document = uploads.start(
        account,
        document_id=str(ULID()),
        name="part.bin",
        content_type="application/zip",
        size=100,
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
    )
    store.client.put_object(Bucket=store.bucket, Key=document.object_key, Body=b"x" * 100)
    accounts.Account(id=account.id).update(
        actions=[accounts.Account.plan.set(plan), accounts.Account.used_bytes.set(used_bytes)]
    )
    return account, document


def test_completing_with_an_out_of_date_lower_plan_counts_against_the_real_limit(target, store) -> None:
    account, document = stored_upload(store, "PREMIUM", 5 * GIB - 10)  # over FREE's limit once counted

    record = uploads.complete(store, account.id, document.document_id, plan=Plan.FREE)

    assert (record.status, record.size) == ("PROCESSING", 100)
    fresh = accounts.get(account.id)
    assert (fresh.used_bytes, fresh.reserved_bytes, fresh.document_count) == (5 * GIB + 90, 0, 1)


def test_completing_with_an_out_of_date_higher_plan_is_refused_by_the_real_limit(target, store) -> None:
    account, document = stored_upload(store, "FREE", 5 * GIB - 10)

    with pytest.raises(UploadRejected) as refused:
        uploads.complete(store, account.id, document.document_id, plan=Plan.PREMIUM)

    assert refused.value.reason == uploads.OVER_QUOTA
    fresh = accounts.get(account.id)
    assert (fresh.used_bytes, fresh.reserved_bytes, fresh.allocated_bytes, fresh.document_count) == (
        5 * GIB - 10,
        0,
        0,
        0,
    )
    assert store.head(document.object_key) is None
