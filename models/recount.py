"""The recount: the dashboard's totals computed again from the tables, and drift repaired.

This is the one place that scans (accounts, documents, versions, counters). Counters are exact by
construction; the recount proves it, and repairs whatever broke it (a bug, a hand edit). A
counter is only rewritten if it had no update at all since the recount started (its ``changes``
did not move): then nothing it counts changed during the scan, so the recounted value is the true
one. Otherwise it is reported as changed while counting, to be run again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pynamodb.exceptions import UpdateError

from domain.documents import STORED, DocumentStatus
from models import counters, stats
from models.accounts import Account
from models.base import condition_failed, number_is
from models.counters import Counter, Totals
from models.documents import Document
from models.version_rows import Version

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from domain.plans import Plan

T = TypeVar("T")

EXACT = "exact"
REPAIRED = "repaired"
CHANGED = "changed while counting, run again"
DRIFT = "drift"


@dataclass(frozen=True)
class CounterCheck:
    """One counter: what it held when the recount started, and what the tables say."""

    name: str
    counted: tuple[int, int, int]
    recounted: tuple[int, int, int]
    outcome: str

    @property
    def difference(self) -> tuple[int, int, int]:
        return tuple(r - c for r, c in zip(self.recounted, self.counted, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True)
class AccountCheck:
    """One account whose own counted totals (documents, bytes) differed from its documents."""

    account_id: str
    counted: tuple[int, int]
    recounted: tuple[int, int]
    outcome: str


@dataclass
class Recount:
    counters: list[CounterCheck] = field(default_factory=list)
    accounts: list[AccountCheck] = field(default_factory=list)
    accounts_scanned: int = 0
    documents_scanned: int = 0

    @property
    def drift(self) -> bool:
        """Whether anything differed (repaired or not)."""
        return any(c.outcome != EXACT for c in self.counters) or bool(self.accounts)

    @property
    def unsettled(self) -> bool:
        """Whether something changed while counting and was left for another run."""
        return any(c.outcome == CHANGED for c in self.counters) or any(a.outcome == CHANGED for a in self.accounts)

    def recounted(self) -> dict[str, Totals]:
        """The recounted value of every counter, as the dashboard reads them."""
        return {c.name: Totals(*c.recounted) for c in self.counters}


def _as_is(items: Iterable[T], _description: str) -> Iterable[T]:
    return items


def recount(*, repair: bool = True, progress: Callable[[Iterable[Any], str], Iterable[Any]] = _as_is) -> Recount:
    """Scan the accounts and documents, compare with the counters, and (with ``repair``) rewrite
    each drifted counter and account total that did not move meanwhile. ``progress`` wraps each
    scan (e.g. with tqdm) to show how far it got."""
    started = counters.read_every()
    result = Recount()
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    plans: dict[str, Plan] = {}
    own: dict[str, tuple[int, int]] = {}
    for account in progress(Account.scan(consistent_read=True), "accounts"):
        result.accounts_scanned += 1
        plans[account.id] = account.plan
        own[account.id] = (int(account.counted_documents), int(account.counted_bytes))
        if account.counted_plan is not None:
            expected[counters.ALL][2] += 1
            expected[counters.plan_name(account.plan)][2] += 1
        if account.over_quota:
            expected[counters.OVER_QUOTA][2] += 1
    # Every kept version's bytes count with its document (``models.versions``).
    earlier: dict[tuple[str, str], int] = defaultdict(int)
    for row in progress(Version.scan(consistent_read=True), "versions"):
        earlier[(row.owner_id, row.document_id)] += int(row.size)
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for document in progress(Document.scan(consistent_read=True), "documents"):
        result.documents_scanned += 1
        if document.status not in STORED:
            continue
        if document.status == DocumentStatus.FAILED:
            expected[counters.FAILED][0] += 1
        if document.counted_type is None:
            continue
        size = int(document.size) + earlier.get((document.owner_id, document.document_id), 0)
        names = [counters.ALL, counters.type_name(document.counted_type)]
        if document.owner_id in plans:
            names.append(counters.plan_name(plans[document.owner_id]))
            found[document.owner_id][0] += 1
            found[document.owner_id][1] += size
        for name in names:
            expected[name][0] += 1
            expected[name][1] += size
    now = counters.read_every()
    names = sorted(set(stats.counter_names()) | set(started) | set(expected))
    for name in names:
        before = started.get(name, Totals())
        value = (expected[name][0], expected[name][1], expected[name][2]) if name in expected else (0, 0, 0)
        if now.get(name, Totals()).changes != before.changes:
            outcome = CHANGED
        elif value == before.values():
            outcome = EXACT
        elif not repair:
            outcome = DRIFT
        else:
            outcome = REPAIRED if _set_counter(name, value, before.changes) else CHANGED
        result.counters.append(CounterCheck(name, before.values(), value, outcome))
    # Every count and delete moves the overall counter: if it did not move, no account's counted
    # totals changed during the scan either.
    settled = now.get(counters.ALL, Totals()).changes == started.get(counters.ALL, Totals()).changes
    for account_id, held in own.items():
        true = (found[account_id][0], found[account_id][1]) if account_id in found else (0, 0)
        if held == true:
            continue
        if not settled:
            outcome = CHANGED
        elif not repair:
            outcome = DRIFT
        else:
            outcome = REPAIRED if _set_account(account_id, held, true) else CHANGED
        result.accounts.append(AccountCheck(account_id, held, true, outcome))
    return result


def _set_counter(name: str, value: tuple[int, int, int], changes: int) -> bool:
    try:
        Counter(name=name).update(
            actions=[
                Counter.documents.set(value[0]),
                Counter.bytes.set(value[1]),
                Counter.accounts.set(value[2]),
                Counter.changes.set(changes + 1),
            ],
            condition=number_is(Counter.changes, changes),
        )
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def _set_account(account_id: str, held: tuple[int, int], true: tuple[int, int]) -> bool:
    try:
        Account(id=account_id).update(
            actions=[Account.counted_documents.set(true[0]), Account.counted_bytes.set(true[1])],
            condition=Account.id.exists()
            & number_is(Account.counted_documents, held[0])
            & number_is(Account.counted_bytes, held[1]),
        )
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True
