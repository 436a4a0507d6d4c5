"""Dashboard counters stay exact across plan changes, failures and quota crossings, under races.

Counters are shared by every test of the session, so each test compares them before and after
its own actions (deltas), and checks the accounts' own counted totals, which only it touches.
"""

from __future__ import annotations

import random

import pytest
from ulid import ULID

from domain.documents import DocumentStatus
from domain.plans import GIB, Plan
from models import accounts, counters, documents, plans, processing, quota
from models.accounts import Account
from models.base import utcnow
from models.documents import Document
from models.errors import AccountNotFound
from tests.races import ContextPool

# Each test compares the session's shared counters before and after its own work.
pytestmark = pytest.mark.usefixtures("own_tables")

TEXT = "text/plain"
NAMES = ["all", "plan:FREE", "plan:PREMIUM", f"type:{TEXT}", counters.FAILED, counters.OVER_QUOTA]


def new_account(plan: str = "FREE", *, counted: bool = True) -> Account:
    account = accounts.create(email=f"c-{ULID()}@example.com".lower(), password_hash="x", plan=plan, home_region="r")
    if counted:
        assert accounts.count_new(account.id)
    return accounts.get(account.id)


def processing_document(account: Account, size: int) -> Document:
    """A document whose upload completed (as completeUpload leaves it): PROCESSING, bytes used."""
    now = utcnow()
    document_id = str(ULID())
    document = Document(
        owner_id=account.id,
        document_id=document_id,
        name=f"{document_id}.txt",
        name_folded=f"{document_id}.txt".lower(),
        name_key=documents.name_key(f"{document_id}.txt", document_id),
        content_type=TEXT,
        size=size,
        declared_size=size,
        status=DocumentStatus.PROCESSING,
        object_key=f"{account.id}/{document_id}/original",
        created_at=now,
        updated_at=now,
        updated_key=documents.updated_key(now, document_id),
        upload_expires_at=now,
    )
    document.save()
    Account(id=account.id).update(
        actions=[
            Account.used_bytes.add(size),
            Account.allocated_bytes.add(size),
            Account.document_count.add(1),
        ]
    )
    return document


def counted_document(account: Account, size: int) -> Document:
    document = processing_document(account, size)
    assert processing.count(document, content_type=TEXT)
    return Document.get(account.id, document.document_id, consistent_read=True)


def snapshot() -> dict[str, tuple[int, int, int]]:
    found = counters.read_many(NAMES)
    return {name: (t.documents, t.bytes, t.accounts) for name, t in found.items()}


def delta(before: dict[str, tuple[int, int, int]]) -> dict[str, tuple[int, int, int]]:
    after = snapshot()
    return {name: tuple(a - b for a, b in zip(after[name], before[name], strict=True)) for name in NAMES}  # type: ignore[misc]


def zero(**changed: tuple[int, int, int]) -> dict[str, tuple[int, int, int]]:
    names = {"all": "all", "free": "plan:FREE", "premium": "plan:PREMIUM", "text": f"type:{TEXT}"}
    names |= {"failed": counters.FAILED, "over": counters.OVER_QUOTA}
    result = dict.fromkeys(NAMES, (0, 0, 0))
    for key, value in changed.items():
        result[names[key]] = value
    return result


def totals(account_id: str) -> tuple[int, int, str | None, str]:
    account = accounts.get(account_id)
    return int(account.counted_documents), int(account.counted_bytes), account.counted_plan, account.plan


def test_change_plan_moves_the_accounts_documents_bytes_and_itself(target) -> None:
    account = new_account("FREE")
    counted_document(account, 100)
    counted_document(account, 23)
    processing_document(account, 1000)  # stored, not counted yet: not in any counter
    before = snapshot()

    previous, changed = plans.change_plan(account.id, Plan.PREMIUM)

    assert previous == "FREE"
    assert (changed.plan, changed.counted_plan) == ("PREMIUM", "PREMIUM")
    assert totals(account.id) == (2, 123, "PREMIUM", "PREMIUM")
    assert delta(before) == zero(free=(-2, -123, -1), premium=(2, 123, 1))


def test_change_plan_of_an_uncounted_account_moves_only_its_documents(target) -> None:
    account = new_account("PREMIUM", counted=False)
    counted_document(account, 7)
    before = snapshot()

    assert plans.change_plan(account.id, Plan.FREE)[0] == Plan.PREMIUM

    assert totals(account.id) == (1, 7, None, "FREE")
    assert delta(before) == zero(free=(1, 7, 0), premium=(-1, -7, 0))


def test_change_to_the_same_plan_writes_nothing(target) -> None:
    account = new_account("FREE")
    counted_document(account, 5)
    before = snapshot()

    previous, same = plans.change_plan(account.id, Plan.FREE)

    assert (previous, same.plan, same.id) == ("FREE", "FREE", account.id)
    assert delta(before) == zero()


def test_change_plan_of_a_missing_account_or_to_an_unknown_plan_changes_nothing(target) -> None:
    account = new_account("FREE")
    before = snapshot()

    with pytest.raises(AccountNotFound):
        plans.change_plan(str(ULID()), Plan.PREMIUM)
    with pytest.raises(ValueError, match="not a valid Plan"):
        plans.change_plan(account.id, "GOLD")

    assert totals(account.id) == (0, 0, "FREE", "FREE")
    assert delta(before) == zero()


def test_documents_count_and_leave_under_the_owners_current_plan(target) -> None:
    account = new_account("FREE")
    early = counted_document(account, 40)
    plans.change_plan(account.id, Plan.PREMIUM)
    late = processing_document(account, 2)
    before = snapshot()

    # The pipeline read the plan before the change: its guess is stale, the count is not.
    assert processing.count(late, plan=Plan.FREE, content_type=TEXT)
    assert documents.delete_stored(early)

    assert delta(before) == zero(all=(0, -38, 0), premium=(0, -38, 0), text=(0, -38, 0))
    assert totals(account.id) == (1, 2, "PREMIUM", "PREMIUM")
    assert Document.get(account.id, late.document_id).counted_plan == "PREMIUM"


def test_counting_twice_or_after_a_delete_counts_nothing(target) -> None:
    account = new_account("FREE")
    document = counted_document(account, 9)
    gone = processing_document(account, 4)
    assert documents.delete_stored(gone)
    before = snapshot()

    assert processing.count(document, content_type=TEXT) is False
    assert processing.count(gone, content_type=TEXT) is False

    assert delta(before) == zero()
    assert totals(account.id)[:2] == (1, 9)


def test_a_failed_document_is_counted_as_failed_until_deleted(target) -> None:
    account = new_account("FREE")
    document = counted_document(account, 11)
    before = snapshot()

    assert processing.finish(document, failure_reason="EXTRACTION_FAILED")
    assert processing.finish(document, failure_reason="EXTRACTION_FAILED") is False
    failed = delta(before)
    assert documents.delete_stored(Document.get(account.id, document.document_id, consistent_read=True))

    assert failed == zero(failed=(1, 0, 0))
    assert delta(before) == zero(all=(-1, -11, 0), free=(-1, -11, 0), text=(-1, -11, 0))


def test_delete_reads_again_when_the_document_failed_after_it_was_read(target) -> None:
    account = new_account("FREE")
    stale = counted_document(account, 3)  # read while PROCESSING
    assert processing.finish(Document.get(account.id, stale.document_id), failure_reason="EXTRACTION_FAILED")
    before = snapshot()

    assert documents.delete_stored(stale)

    assert delta(before) == zero(all=(-1, -3, 0), free=(-1, -3, 0), text=(-1, -3, 0), failed=(-1, 0, 0))
    assert documents.delete_stored(stale) is False


def test_over_quota_counter_follows_the_flag(target) -> None:
    account = new_account("FREE")
    before = snapshot()
    Account(id=account.id).update(actions=[Account.used_bytes.set(5 * GIB + 1)])

    quota.evaluate(account.id)
    over = delta(before)
    quota.evaluate(account.id)  # no crossing: no change
    again = delta(before)
    plans.change_plan(account.id, Plan.PREMIUM)
    quota.evaluate(account.id)  # 20 GiB now: back under

    assert over == again == zero(over=(0, 0, 1))
    assert delta(before) == zero(free=(0, 0, -1), premium=(0, 0, 1))
    assert accounts.get(account.id).over_quota is False


def test_concurrent_quota_evaluations_move_the_over_quota_counter_once(target) -> None:
    account = new_account("FREE")
    Account(id=account.id).update(actions=[Account.used_bytes.set(6 * GIB)])
    before = snapshot()

    with ContextPool(8) as pool:
        list(pool.map(lambda _: quota.evaluate(account.id), range(8)))

    assert delta(before) == zero(over=(0, 0, 1))


def test_plan_flips_racing_counts_and_deletes_lose_and_double_count_nothing(target) -> None:
    """Threads count and delete an account's documents while its plan flips, in 8 rounds: each
    round counts one document alone first (under the plan the last round left, so the pipeline's
    FREE guess is stale every other round), then counts 3 more, deletes one counted earlier and
    one being counted at that moment, and flips the plan, all at once."""
    account = new_account("FREE")
    sizes = random.Random(7).sample(range(1, 10_000), 48)
    early = [counted_document(account, size) for size in sizes[:16]]  # counted before the race
    late = [processing_document(account, size) for size in sizes[16:]]  # counted during it
    before = snapshot()

    def flip() -> None:
        plans.change_plan(account.id, Plan.PREMIUM if accounts.get(account.id).plan == Plan.FREE else "FREE")

    results = []
    with ContextPool(8) as pool:
        for round_ in range(8):
            first, *counting = late[4 * round_ : 4 * round_ + 4]
            results.append(processing.count(first, plan=Plan.FREE, content_type=TEXT))
            work = [lambda d=d: processing.count(d, plan=Plan.FREE, content_type=TEXT) for d in counting]
            work += [lambda d=d: documents.delete_stored(d) for d in (early[round_], counting[0])]
            work.append(flip)
            random.Random(round_).shuffle(work)
            results += pool.map(lambda job: job(), work)

    assert {result for result in results if result is not None} <= {True, False}
    remaining = list(Document.query(account.id, consistent_read=True))
    counted = [d for d in remaining if d.counted_type is not None]
    expected = (len(counted), sum(int(d.size) for d in counted))
    assert len(remaining) == 48 - 16
    assert len(counted) == 32  # every document left was counted, none twice
    # Each round's first count found the plan the previous flip left, whatever the guess said.
    plans_found = {d.document_id: d.counted_plan for d in counted}
    firsts = [plans_found[late[4 * round_].document_id] for round_ in range(8)]
    assert firsts == ["FREE", "PREMIUM"] * 4
    assert totals(account.id) == (*expected, "FREE", "FREE")  # 8 flips
    change = (expected[0] - 16, expected[1] - sum(sizes[:16]), 0)
    assert delta(before) == zero(all=change, free=change, text=change)


def test_accounts_counted_while_their_plans_flip_land_on_their_final_plan(target) -> None:
    fresh = [new_account("FREE", counted=False) for _ in range(6)]
    before = snapshot()

    def flip(account: Account) -> None:
        for plan in ("PREMIUM", "FREE", "PREMIUM"):
            plans.change_plan(account.id, plan)

    jobs = [lambda a=a: accounts.count_new(a.id) for a in fresh] + [lambda a=a: flip(a) for a in fresh[:3]]
    random.Random(5).shuffle(jobs)
    with ContextPool(8) as pool:
        list(pool.map(lambda job: job(), jobs))

    assert [totals(a.id)[2:] for a in fresh] == [("PREMIUM", "PREMIUM")] * 3 + [("FREE", "FREE")] * 3
    assert delta(before) == zero(all=(0, 0, 6), free=(0, 0, 3), premium=(0, 0, 3))
    assert [accounts.count_new(a.id) for a in fresh] == [False] * 6
