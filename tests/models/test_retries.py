"""One retry policy: a write that loses a race is tried again with backoff, up to its attempts, and
then given up with its kind's typed error, having written nothing.

The races are real: just before a tested write leaves for DynamoDB, another change of the same
account lands (a plan change, a document counted, the quota level moved), through the models as
any other process would make it. Counters are shared by the session: each test compares deltas.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from ulid import ULID

from domain.documents import DocumentStatus
from domain.plans import GIB, Plan
from models import accounts, documents, plans, processing, quota, retries, uploads
from models.accounts import Account
from models.documents import Document
from models.errors import PlanRace, QuotaExceeded, QuotaLevelRace
from models.outbox import Pending
from models.retries import Conflict, Race
from services import uploads as upload_files
from tests.models.test_counters import TEXT, delta, new_account, processing_document, snapshot, totals, zero
from tests.races import flip_plan, racing, three_attempts  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("own_tables", "three_attempts")


def outbox_of(account_id: str) -> list[str]:
    return sorted(
        json.loads(item.body)["type"] for item in Pending.scan(consistent_read=True) if account_id in item.body
    )


# The helper itself: attempts counted, the kind's error, other errors untouched.


def test_a_conflict_that_resolves_within_the_attempts_returns_the_last_attempt() -> None:
    seen: list[int] = []

    def attempt(number: int) -> str:
        seen.append(number)
        if number < 3:
            raise Conflict
        return "written"

    assert retries.retry(Race.PLAN, "acct", attempt) == "written"
    assert seen == [1, 2, 3]


@pytest.mark.parametrize(("race", "error"), [(Race.PLAN, PlanRace), (Race.QUOTA_LEVEL, QuotaLevelRace)])
def test_a_conflict_on_every_attempt_gives_up_with_the_kinds_error(race, error) -> None:
    seen: list[int] = []

    def attempt(number: int) -> str:
        seen.append(number)
        raise Conflict

    with pytest.raises(error) as raised:
        retries.retry(race, "acct", attempt)

    assert seen == [1, 2, 3]
    assert (raised.value.account_id, raised.value.attempts) == ("acct", 3)


def test_the_sentences_say_what_kept_changing() -> None:
    assert str(PlanRace("acct", 10)) == (
        "Your plan, or the documents counted under it, kept changing while this was being saved (10 attempts); "
        "nothing was changed. Try again in a moment."
    )
    assert str(QuotaLevelRace("acct", 5)) == (
        "The quota level of account acct kept moving while it was being checked (5 attempts); nothing was changed."
    )


def test_any_other_error_ends_it_at_once() -> None:
    seen: list[int] = []

    def attempt(number: int) -> str:
        seen.append(number)
        raise KeyError("not a race")

    with pytest.raises(KeyError):
        retries.retry(Race.PLAN, "acct", attempt)
    assert seen == [1]


def test_attempts_are_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least once"):
        retries.configure(plan_race_attempts=0, quota_level_attempts=5)
    assert retries.attempts(Race.PLAN) == 3  # as it was


# Plan races, through DynamoDB.


def test_a_plan_change_that_loses_to_counting_twice_succeeds_on_its_third_attempt() -> None:
    account = new_account("FREE")
    waiting = [processing_document(account, 10) for _ in range(2)]
    before = snapshot()

    with racing(account.id, lambda n: processing.count(waiting[n - 1], content_type=TEXT), times=2) as racer:
        previous, changed = plans.change_plan(account.id, Plan.PREMIUM)

    assert racer.requests == 3
    assert (previous, changed.plan) == (Plan.FREE, Plan.PREMIUM)
    # Both documents counted, then moved with the account: nothing counted twice or lost.
    assert totals(account.id) == (2, 20, Plan.PREMIUM, Plan.PREMIUM)
    assert delta(before) == zero(all=(2, 20, 0), premium=(2, 20, 1), free=(0, 0, -1), text=(2, 20, 0))


def test_a_plan_change_that_loses_every_attempt_gives_up_and_changes_nothing() -> None:
    account = new_account("FREE")
    waiting = [processing_document(account, 10) for _ in range(3)]
    before = snapshot()

    with (
        racing(account.id, lambda n: processing.count(waiting[n - 1], content_type=TEXT), times=3) as racer,
        pytest.raises(PlanRace) as raised,
    ):
        plans.change_plan(account.id, Plan.PREMIUM)

    assert racer.requests == 3
    assert (raised.value.account_id, raised.value.attempts) == (account.id, 3)
    # What the racing counts did, and nothing of the plan change: no move, no message.
    assert totals(account.id) == (3, 30, Plan.FREE, Plan.FREE)
    assert int(accounts.get(account.id).version) == 0
    assert delta(before) == zero(all=(3, 30, 0), free=(3, 30, 0), text=(3, 30, 0))
    assert outbox_of(account.id) == ["account.created"]


def test_counting_a_document_follows_plan_changes_until_it_lands() -> None:
    account = new_account("FREE")
    document = processing_document(account, 7)
    before = snapshot()

    with racing(account.id, flip_plan(account.id), times=2) as racer:
        assert processing.count(document, plan=Plan.FREE, content_type=TEXT)

    assert racer.requests == 3
    assert totals(account.id) == (1, 7, Plan.FREE, Plan.FREE)  # flipped twice: FREE again
    assert Document.get(account.id, document.document_id, consistent_read=True).counted_plan is Plan.FREE
    assert delta(before) == zero(all=(1, 7, 0), free=(1, 7, 0), text=(1, 7, 0))


def test_counting_a_document_that_loses_every_attempt_counts_nothing() -> None:
    account = new_account("FREE")
    document = processing_document(account, 7)
    before = snapshot()

    with racing(account.id, flip_plan(account.id), times=3) as racer, pytest.raises(PlanRace):
        processing.count(document, plan=Plan.FREE, content_type=TEXT)

    assert racer.requests == 3
    assert totals(account.id) == (0, 0, Plan.PREMIUM, Plan.PREMIUM)  # three flips, no count
    stored = Document.get(account.id, document.document_id, consistent_read=True)
    assert (stored.counted_plan, stored.counted_type) == (None, None)
    # Only the flips: the account counter moved to PREMIUM.
    assert delta(before) == zero(free=(0, 0, -1), premium=(0, 0, 1))


def test_counting_a_new_account_that_loses_every_attempt_counts_nothing() -> None:
    account = new_account("FREE", counted=False)
    before = snapshot()

    with racing(account.id, flip_plan(account.id), times=3) as racer, pytest.raises(PlanRace):
        accounts.count_new(account.id)

    assert racer.requests == 3
    assert totals(account.id) == (0, 0, None, Plan.PREMIUM)
    assert delta(before) == zero()


def test_deleting_a_counted_document_follows_plan_changes_and_gives_up_whole(store) -> None:
    account = new_account("FREE")
    document = processing_document(account, 5)
    assert processing.count(document, content_type=TEXT)
    document = Document.get(account.id, document.document_id, consistent_read=True)
    before = snapshot()

    with racing(account.id, flip_plan(account.id), times=3) as racer, pytest.raises(PlanRace):
        documents.delete_stored(document)

    assert racer.requests == 3
    assert Document.get(account.id, document.document_id, consistent_read=True).status is DocumentStatus.PROCESSING
    assert totals(account.id) == (1, 5, Plan.PREMIUM, Plan.PREMIUM)
    assert int(accounts.get(account.id).used_bytes) == 5
    assert delta(before) == zero(free=(-1, -5, -1), premium=(1, 5, 1))  # the flips moved it, no delete
    assert outbox_of(account.id) == ["account.created"] + ["account.updated"] * 3 + ["plan.changed"] * 3

    with racing(account.id, flip_plan(account.id), times=2) as racer:
        assert documents.delete_stored(document)

    assert racer.requests == 3
    assert totals(account.id) == (0, 0, Plan.PREMIUM, Plan.PREMIUM)  # five flips in all
    assert int(accounts.get(account.id).used_bytes) == 0


def start(account: Account, size: int) -> Document:
    return uploads.start(
        account,
        document_id=str(ULID()),
        name="race.txt",
        content_type=TEXT,
        size=size,
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
    )


def test_a_reservation_follows_plan_changes_to_the_new_limit() -> None:
    account = new_account("FREE")

    with racing(account.id, flip_plan(account.id), times=2) as racer:
        document = start(account, 3 * GIB)

    assert racer.requests == 3
    fresh = accounts.get(account.id)
    assert (fresh.plan, int(fresh.reserved_bytes), int(fresh.allocated_bytes)) == (Plan.FREE, 3 * GIB, 3 * GIB)
    assert Document.get(account.id, document.document_id, consistent_read=True).status is DocumentStatus.PENDING_UPLOAD


def test_a_reservation_that_loses_every_attempt_reserves_nothing() -> None:
    account = new_account("FREE")

    with racing(account.id, flip_plan(account.id), times=3) as racer, pytest.raises(PlanRace):
        start(account, 3 * GIB)

    assert racer.requests == 3
    fresh = accounts.get(account.id)
    assert (int(fresh.reserved_bytes), int(fresh.allocated_bytes)) == (0, 0)
    assert list(Document.query(account.id, consistent_read=True)) == []
    assert outbox_of(account.id) == ["account.created"] + ["account.updated"] * 3 + ["plan.changed"] * 3


def test_a_reservation_the_plan_change_puts_over_the_limit_says_the_numbers_read_after_it() -> None:
    account = new_account("PREMIUM")
    Account(id=account.id).update(actions=[Account.used_bytes.set(6 * GIB), Account.allocated_bytes.set(6 * GIB)])
    account = accounts.get(account.id)

    def downgrade(_: int) -> None:
        plans.change_plan(account.id, Plan.FREE)
        Account(id=account.id).update(actions=[Account.used_bytes.add(1), Account.allocated_bytes.add(1)])

    with racing(account.id, downgrade, times=1) as racer, pytest.raises(QuotaExceeded) as raised:
        start(account, GIB)

    assert racer.requests == 1  # over the new limit: refused at once, not tried again
    error = raised.value
    assert (error.limit_bytes, error.used_bytes, error.reserved_bytes, error.requested_bytes) == (
        5 * GIB,
        6 * GIB + 1,
        0,
        GIB,
    )
    assert list(Document.query(account.id, consistent_read=True)) == []


def test_completing_an_upload_follows_plan_changes_and_gives_up_whole(store) -> None:
    account = new_account("FREE")
    document = start(account, 11)
    store.client.put_object(Bucket=store.bucket, Key=document.object_key, Body=b"hello world")

    with racing(account.id, flip_plan(account.id), times=3) as racer, pytest.raises(PlanRace):
        upload_files.complete(store, account.id, document.document_id, plan=Plan.FREE)

    assert racer.requests == 3
    after = accounts.get(account.id)
    assert (int(after.used_bytes), int(after.reserved_bytes), int(after.document_count)) == (0, 11, 0)
    assert documents.get(account.id, document.document_id).status is DocumentStatus.PENDING_UPLOAD

    on = accounts.get(account.id).plan  # PREMIUM, after three flips
    with racing(account.id, flip_plan(account.id), times=2) as racer:
        completed = upload_files.complete(store, account.id, document.document_id, plan=on)

    assert racer.requests == 3
    assert completed.status is DocumentStatus.PROCESSING
    after = accounts.get(account.id)
    assert (int(after.used_bytes), int(after.reserved_bytes), int(after.document_count)) == (11, 0, 1)


# Quota level races: other workers moving the level between this one's read and its write.


def mover(account_id: str, levels: list[int]) -> Callable[[int], None]:
    """Another worker setting the level it computed from a reading a moment older."""

    def change(n: int) -> None:
        Account(id=account_id).update(actions=[Account.quota_level.set(levels[n - 1])])

    return change


def test_a_quota_level_moved_twice_meanwhile_is_moved_on_the_third_attempt() -> None:
    account = new_account("FREE")
    Account(id=account.id).update(actions=[Account.used_bytes.set(5 * GIB * 81 // 100)])
    before = snapshot()

    with racing(account.id, mover(account.id, [90, 0]), times=2, operation="UpdateItem") as racer:
        crossing = quota.evaluate(account.id)

    assert racer.requests == 3
    assert crossing is not None
    assert (crossing.before, crossing.after) == (0, 80)
    assert int(accounts.get(account.id).quota_level) == 80
    assert delta(before) == zero()


def test_a_quota_level_moved_before_every_attempt_is_given_up_as_it_stands() -> None:
    account = new_account("FREE")
    Account(id=account.id).update(actions=[Account.used_bytes.set(5 * GIB * 81 // 100)])
    before = snapshot()

    with (
        racing(account.id, mover(account.id, [90, 0, 90]), times=3, operation="UpdateItem") as racer,
        pytest.raises(QuotaLevelRace),
    ):
        quota.evaluate(account.id)

    assert racer.requests == 3
    stored = accounts.get(account.id)
    assert (int(stored.quota_level), bool(stored.over_quota)) == (90, False)  # the other worker's, not ours
    assert delta(before) == zero()


def test_a_process_takes_its_attempts_from_its_settings(settings) -> None:
    from runtime.services import open_runtime

    runtime = open_runtime(settings.with_overrides(plan_race_attempts=7, quota_level_attempts=2), search=False)
    try:
        assert (retries.attempts(Race.PLAN), retries.attempts(Race.QUOTA_LEVEL)) == (7, 2)
    finally:
        runtime.close()
