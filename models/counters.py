"""Atomic totals for the dashboard: documents and bytes, overall, per plan and per content type;
accounts per plan, accounts over quota, failed documents.

Counters change only inside the transaction that changes what they count, so they are exact: a
message delivered twice, a delete racing the pipeline, or a plan change racing either, cannot
count anything twice or lose it. Documents and bytes per plan are by the owner's *current* plan:
each account keeps its own counted totals (``Account.counted_documents``, ``counted_bytes``) and
a plan change moves them from one plan's counter to the other's (``models.plans``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from models.base import BaseMeta, TableModel

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pynamodb.transactions import TransactWrite

    from domain.plans import Plan

ALL = "all"
#: Documents whose processing FAILED and that are still stored (``documents``).
FAILED = "failed"
#: Accounts whose over-quota flag is set (``accounts``).
OVER_QUOTA = "over-quota"


class Counter(TableModel):
    class Meta(BaseMeta):
        table_name = "counters"

    name = UnicodeAttribute(hash_key=True)
    documents = NumberAttribute(default=0)
    bytes = NumberAttribute(default=0)
    accounts = NumberAttribute(default=0)
    #: How many updates the counter has had: a recount repairs a counter only if this did not
    #: move while it scanned (a value alone could have gone up and back down meanwhile).
    changes = NumberAttribute(default=0)


@dataclass(frozen=True)
class Totals:
    """One counter's values; zeros for a counter never touched."""

    documents: int = 0
    bytes: int = 0
    accounts: int = 0
    #: Updates so far (see ``Counter.changes``).
    changes: int = 0

    def values(self) -> tuple[int, int, int]:
        return self.documents, self.bytes, self.accounts

    @classmethod
    def of(cls, counter: Counter) -> Totals:
        return cls(int(counter.documents), int(counter.bytes), int(counter.accounts), int(counter.changes))


def plan_name(plan: Plan) -> str:
    return f"plan:{plan}"


def type_name(content_type: str) -> str:
    return f"type:{content_type}"


def scopes(plan: Plan, content_type: str) -> list[str]:
    """The counters one document belongs to."""
    return [ALL, plan_name(plan), type_name(content_type)]


def add(transaction: TransactWrite, *, plan: Plan, content_type: str, documents: int, size: int) -> None:
    """Add to every counter of (plan, content type) as part of ``transaction``."""
    for name in scopes(plan, content_type):
        transaction.update(
            Counter(name=name), actions=[*_changed(), Counter.documents.add(documents), Counter.bytes.add(size)]
        )


def _changed() -> list[Any]:
    return [Counter.changes.add(1)]


def add_account(transaction: TransactWrite, *, plan: Plan, accounts: int) -> None:
    """Add to the account counters (overall and per plan) as part of ``transaction``."""
    for name in (ALL, plan_name(plan)):
        transaction.update(Counter(name=name), actions=[*_changed(), Counter.accounts.add(accounts)])


def add_failed(transaction: TransactWrite, documents: int) -> None:
    """Add to the failed-documents counter as part of ``transaction``."""
    transaction.update(Counter(name=FAILED), actions=[*_changed(), Counter.documents.add(documents)])


def add_over_quota(transaction: TransactWrite, accounts: int) -> None:
    """Add to the over-quota accounts counter as part of ``transaction``."""
    transaction.update(Counter(name=OVER_QUOTA), actions=[*_changed(), Counter.accounts.add(accounts)])


def move_plan(transaction: TransactWrite, *, old: Plan, new: Plan, documents: int, size: int, accounts: int) -> None:
    """Move one account's counted documents, bytes and itself from ``old``'s counter to ``new``'s."""
    for name, sign in ((plan_name(old), -1), (plan_name(new), 1)):
        transaction.update(
            Counter(name=name),
            actions=[
                *_changed(),
                Counter.documents.add(sign * documents),
                Counter.bytes.add(sign * size),
                Counter.accounts.add(sign * accounts),
            ],
        )


def read(name: str) -> tuple[int, int, int]:
    """(documents, bytes, accounts) of one counter; zeros for one never touched."""
    return read_many([name])[name].values()


def read_many(names: Iterable[str]) -> dict[str, Totals]:
    """Several counters with strongly consistent BatchGets (never a scan); zeros for missing ones."""
    wanted = list(dict.fromkeys(names))
    found = {name: Totals() for name in wanted}
    for counter in Counter.batch_get(wanted, consistent_read=True):
        found[counter.name] = Totals.of(counter)
    return found


def read_every() -> dict[str, Totals]:
    """Every counter in the table, with a consistent scan: only for ``models.recount``."""
    return {counter.name: Totals.of(counter) for counter in Counter.scan(consistent_read=True)}
