"""The recount: it repairs drift, and never writes a counter that moved while it was scanning.

It runs on the session's shared tables, so each test looks only at what its own actions changed.
"""

from __future__ import annotations

import pytest

from models import accounts, counters, processing, recount
from models.accounts import Account
from models.counters import Counter
from tests.models.test_counters import TEXT, counted_document, new_account, processing_document

# Each test compares the session's shared counters before and after its own work.
pytestmark = pytest.mark.usefixtures("own_tables")

NAME = f"type:{TEXT}"


def corrupt(name: str, documents: int, size: int) -> None:
    Counter(name=name).update(actions=[Counter.documents.add(documents), Counter.bytes.add(size)])


def check(result: recount.Recount, name: str) -> recount.CounterCheck:
    (found,) = [c for c in result.counters if c.name == name]
    return found


def test_recount_repairs_a_drifted_counter_and_then_finds_it_exact(target) -> None:
    counted_document(new_account("FREE"), 10)
    recount.recount()  # whatever earlier tests left: settled now
    before = counters.read(NAME)
    corrupt(NAME, 2, -5)

    first = recount.recount()
    second = recount.recount()

    repaired = check(first, NAME)
    assert repaired.outcome == recount.REPAIRED
    assert repaired.counted[:2] == (before[0] + 2, before[1] - 5)
    assert repaired.recounted[:2] == before[:2]
    assert repaired.difference[:2] == (-2, 5)
    assert counters.read(NAME) == before
    assert check(second, NAME).outcome == recount.EXACT
    assert not second.drift


def test_a_counter_that_moves_during_the_scan_is_reported_not_written(target) -> None:
    account = new_account("FREE")
    late = processing_document(account, 6)
    recount.recount()
    corrupt(NAME, 1, 1)
    corrupted = counters.read(NAME)

    def count_while_scanning(items, description):
        if description == "documents":
            assert processing.count(late, content_type=TEXT)
        return items

    moved = recount.recount(progress=count_while_scanning)

    assert check(moved, NAME).outcome == recount.CHANGED
    assert check(moved, counters.ALL).outcome == recount.CHANGED
    assert moved.unsettled
    assert counters.read(NAME) == (corrupted[0] + 1, corrupted[1] + 6, corrupted[2])  # not overwritten
    settled = recount.recount()
    assert check(settled, NAME).outcome == recount.REPAIRED
    assert counters.read(NAME)[:2] == (corrupted[0], corrupted[1] + 5)


def test_recount_repairs_an_accounts_own_counted_totals(target) -> None:
    account = new_account("PREMIUM")
    counted_document(account, 30)
    counted_document(account, 12)
    recount.recount()
    Account(id=account.id).update(actions=[Account.counted_documents.set(5), Account.counted_bytes.set(1)])

    result = recount.recount()

    (found,) = [a for a in result.accounts if a.account_id == account.id]
    assert (found.counted, found.recounted, found.outcome) == ((5, 1), (2, 42), recount.REPAIRED)
    record = accounts.get(account.id)
    assert (record.counted_documents, record.counted_bytes) == (2, 42)
    assert account.id not in {a.account_id for a in recount.recount().accounts}


def test_recount_without_repair_writes_nothing(target) -> None:
    counted_document(new_account("FREE"), 3)
    recount.recount()
    corrupt(NAME, 4, 4)
    corrupted = counters.read(NAME)

    result = recount.recount(repair=False)

    assert check(result, NAME).outcome == recount.DRIFT
    assert counters.read(NAME) == corrupted
    recount.recount()
