"""The dashboard's figures, read from the atomic counters with one consistent BatchGet, never a scan."""

from __future__ import annotations

from dataclasses import dataclass

from domain.plans import Plan
from models import counters
from models.content_types import CONTENT_TYPES


@dataclass(frozen=True)
class Share:
    """Documents and bytes of one slice (a plan, a content type)."""

    documents: int
    bytes: int


@dataclass(frozen=True)
class Figures:
    """What the counters say. ``per_type`` holds only types with documents, sorted by type."""

    documents: int
    bytes: int
    accounts: int
    accounts_per_plan: dict[Plan, int]
    per_plan: dict[Plan, Share]
    per_type: dict[str, Share]
    accounts_over_quota: int
    failed_documents: int

    @property
    def average_size(self) -> int:
        """Bytes per document, rounded half up to a whole byte; 0 without documents."""
        if self.documents <= 0:
            return 0
        return (2 * self.bytes + self.documents) // (2 * self.documents)


def counter_names() -> list[str]:
    """Every counter the dashboard reads."""
    return [
        counters.ALL,
        *(counters.plan_name(plan) for plan in Plan),
        *(counters.type_name(content_type) for content_type in sorted(CONTENT_TYPES)),
        counters.FAILED,
        counters.OVER_QUOTA,
    ]


def figures(found: dict[str, counters.Totals] | None = None) -> Figures:
    """The figures from the counters (read now, unless given)."""
    if found is None:
        found = counters.read_many(counter_names())
    every = found.get(counters.ALL, counters.Totals())
    plans = {plan: found.get(counters.plan_name(plan), counters.Totals()) for plan in Plan}
    types = {
        content_type: found.get(counters.type_name(content_type), counters.Totals())
        for content_type in sorted(CONTENT_TYPES)
    }
    return Figures(
        documents=every.documents,
        bytes=every.bytes,
        accounts=every.accounts,
        accounts_per_plan={plan: totals.accounts for plan, totals in plans.items()},
        per_plan={plan: Share(totals.documents, totals.bytes) for plan, totals in plans.items()},
        per_type={
            content_type: Share(totals.documents, totals.bytes)
            for content_type, totals in types.items()
            if totals.documents > 0
        },
        accounts_over_quota=found.get(counters.OVER_QUOTA, counters.Totals()).accounts,
        failed_documents=found.get(counters.FAILED, counters.Totals()).documents,
    )
