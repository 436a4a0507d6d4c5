"""Atomic totals for the dashboard: documents and bytes, overall, per plan and per content type.

Counters change only inside the transaction that changes a document's counted state, so they are
exact: a message delivered twice, or a delete racing the pipeline, cannot count anything twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from models.base import BaseMeta

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

ALL = "all"


class Counter(Model):
    class Meta(BaseMeta):
        table_name = "counters"

    name = UnicodeAttribute(hash_key=True)
    documents = NumberAttribute(default=0)
    bytes = NumberAttribute(default=0)
    accounts = NumberAttribute(default=0)


def scopes(plan: str, content_type: str) -> list[str]:
    """The counters one document belongs to."""
    return [ALL, f"plan:{plan}", f"type:{content_type}"]


def add(transaction: TransactWrite, *, plan: str, content_type: str, documents: int, size: int) -> None:
    """Add to every counter of (plan, content type) as part of ``transaction``."""
    for name in scopes(plan, content_type):
        transaction.update(Counter(name=name), actions=[Counter.documents.add(documents), Counter.bytes.add(size)])


def read(name: str) -> tuple[int, int, int]:
    """(documents, bytes, accounts) of one counter; zeros for one never touched."""
    try:
        counter = Counter.get(name, consistent_read=True)
    except Counter.DoesNotExist:
        return 0, 0, 0
    return int(counter.documents), int(counter.bytes), int(counter.accounts)


def add_account(transaction: TransactWrite, *, plan: str, accounts: int) -> None:
    """Add to the account counters (overall and per plan) as part of ``transaction``."""
    for name in (ALL, f"plan:{plan}"):
        transaction.update(Counter(name=name), actions=[Counter.accounts.add(accounts)])
