"""Plans: what an account may store, and whether its documents' contents are searched.

The one list of plans. DynamoDB stores a plan by its name (``FREE``), the GraphQL ``Plan`` enum is
built from this one (``schema/accounts.py``), and the dashboard's counters are named after it.
"""

from __future__ import annotations

from enum import StrEnum

GIB = 1024**3


class Plan(StrEnum):
    """An account's plan. A ``str``: stored, compared and shown as its name."""

    FREE = "FREE"
    PREMIUM = "PREMIUM"

    @property
    def limit_bytes(self) -> int:
        """The storage the plan allows."""
        return LIMIT_BYTES[self]

    @property
    def searches_contents(self) -> bool:
        """Whether documents' text is extracted, indexed and searched (PREMIUM), or only their
        names, tags and descriptions (FREE)."""
        return self is Plan.PREMIUM


LIMIT_BYTES = {Plan.FREE: 5 * GIB, Plan.PREMIUM: 20 * GIB}
