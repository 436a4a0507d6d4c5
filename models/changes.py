"""The change feed: one row per change of an account's documents, numbered without gaps.

Every change a sync client must hear of (``domain.changes.ChangeKind``) is written by
:func:`record` into the DynamoDB transaction that makes the change, so the row exists exactly when
the change does. The rows of an account are numbered 1, 2, 3, ... with no gap: a head row
(``sequence`` 0, never expiring) holds the latest number, and :func:`record` reads it, then adds
to the transaction the row at the next number and the head's move to it, conditioned on the head
still holding what was read. A transaction cannot read what it increments, so this is optimistic:
when another change of the account took the number first, the transaction fails, writes nothing
(no row, no gap), and the caller's attempt is tried again (:func:`lost` tells it so; through
``models.retries``, as the writes' other races).

Rows are kept ``retention_days`` (``DOCSTORE_CHANGE_RETENTION_DAYS``) and then removed by
DynamoDB's TTL (which may lag: :func:`page` never answers a row past its retention). A cursor whose
next change is no longer kept is :class:`CursorExpired`: the client must compare everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import TransactWriteError

from domain.changes import ChangeKind
from models import retries
from models.base import BaseMeta, EnumAttribute, TableModel, number_is, utcnow
from models.retries import Conflict, Race

if TYPE_CHECKING:
    from collections.abc import Callable

    from pynamodb.transactions import TransactWrite

T = TypeVar("T")

#: The head row's sequence: it holds the account's latest number in ``latest``.
HEAD = 0
#: How long changes are kept, in days; set from the settings (``configure``).
_retention = {"days": 30}
#: The cancellation reasons that mean another change of the account took the number first.
_TAKEN = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


class ChangeRow(TableModel):
    """A change (``sequence`` ≥ 1), or the account's head (``sequence`` 0: ``latest``)."""

    class Meta(BaseMeta):
        table_name = "changes"

    owner_id = UnicodeAttribute(hash_key=True)
    sequence = NumberAttribute(range_key=True)
    #: The head row only: the latest sequence given out.
    latest = NumberAttribute(null=True)
    kind = EnumAttribute(ChangeKind, null=True)
    at = UTCDateTimeAttribute(null=True)
    document_id = UnicodeAttribute(null=True)
    #: The document's path when the change was made (where it moved to, for MOVED).
    path = UnicodeAttribute(null=True)
    #: The document's new current version, for NEW_VERSION and RESTORED; None for the other kinds.
    version = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)


@dataclass(frozen=True)
class Change:
    """One change of the feed, as read back or as just recorded."""

    owner_id: str
    sequence: int
    kind: ChangeKind
    at: datetime
    document_id: str
    path: str
    version: int | None = None

    @classmethod
    def of(cls, row: ChangeRow) -> Change:
        return cls(
            owner_id=row.owner_id,
            sequence=int(row.sequence),
            kind=ChangeKind(row.kind),
            at=row.at,
            document_id=str(row.document_id),
            path=str(row.path),
            version=None if row.version is None else int(row.version),
        )


class CursorExpired(Exception):
    """Changes after the cursor's position are no longer kept: compare everything instead."""

    def __init__(self, sequence: int, retention_days: int) -> None:
        super().__init__(
            f"Changes after position {sequence} are no longer kept (changes are kept {retention_days} days); "
            "compare the whole tree, then start again from latestChangeCursor."
        )
        self.sequence = sequence
        self.retention_days = retention_days


class BeyondLatest(Exception):
    """A position after the account's latest change: no cursor the API gave this account."""


def configure(*, retention_days: int) -> None:
    """Keep changes ``retention_days`` days, for the whole process (from the settings)."""
    if retention_days < 1:
        raise ValueError("changes are kept at least a day")
    _retention["days"] = retention_days


def retention() -> timedelta:
    return timedelta(days=_retention["days"])


def latest(owner_id: str) -> int:
    """The account's latest sequence, 0 before its first change (one consistent read)."""
    try:
        head = ChangeRow.get(owner_id, HEAD, consistent_read=True)
    except ChangeRow.DoesNotExist:
        return 0
    return int(head.latest or 0)


def record(
    transaction: TransactWrite,
    owner_id: str,
    kind: ChangeKind,
    document_id: str,
    path: str,
    *,
    version: int | None = None,
    now: datetime | None = None,
) -> Change:
    """Add the change to ``transaction``, at the account's next sequence: two updates (the row,
    and the head moved to it on the condition it still holds the latest number read here).

    Call it **last** in the transaction: its two items are then the last two of the cancellation
    reasons (PynamoDB sends updates after every other kind), and :func:`lost` reads them. The
    change, which exists once the transaction commits, for the caller to publish then."""
    now = now or utcnow()
    sequence = latest(owner_id) + 1
    actions: list[Any] = [
        ChangeRow.kind.set(kind),
        ChangeRow.at.set(now),
        ChangeRow.document_id.set(document_id),
        ChangeRow.path.set(path),
        ChangeRow.expires_at.set(now + retention()),
    ]
    if version is not None:
        actions.append(ChangeRow.version.set(version))
    transaction.update(
        ChangeRow(owner_id=owner_id, sequence=sequence), actions=actions, condition=ChangeRow.sequence.does_not_exist()
    )
    transaction.update(
        ChangeRow(owner_id=owner_id, sequence=HEAD),
        actions=[ChangeRow.latest.set(sequence)],
        condition=number_is(ChangeRow.latest, sequence - 1),
    )
    return Change(owner_id, sequence, kind, now, document_id, path, version)


def lost(error: TransactWriteError) -> bool:
    """Whether the transaction failed because another change of the account took the sequence
    :func:`record` read (its items are the last two); then retry, reading it again."""
    reasons = error.cancellation_reasons or []
    return any(reason is not None and reason.code in _TAKEN for reason in reasons[-2:])


def retried(owner_id: str, write: Callable[[], T]) -> T:
    """``write()`` (which sends one transaction that calls :func:`record`), sent again while
    another change of the account takes the sequence it read first: a race of ``models.retries``
    (backoff with jitter; :class:`~models.errors.PlanRace` past its attempts, nothing written).
    Any other failure of the transaction is raised as it is, for the caller to read."""

    def attempt(_: int) -> T:
        try:
            return write()
        except TransactWriteError as error:
            if lost(error):
                raise Conflict from None
            raise

    return retries.retry(Race.PLAN, owner_id, attempt)


def others(flags: list[bool]) -> list[bool]:
    """``models.base.failed_items`` of a transaction without :func:`record`'s two items."""
    return flags[:-2]


def page(owner_id: str, after: int, limit: int, now: datetime | None = None) -> tuple[list[Change], bool]:
    """Up to ``limit`` changes after sequence ``after``, in order, and whether more follow (one
    consistent Query from ``after`` on, reading past nothing). :class:`CursorExpired` when the
    change right after ``after`` is no longer kept (a client that saw every change up to
    ``after`` would miss some); :class:`BeyondLatest` for a position past the latest change.
    ``after`` 0 (the start) never expires: it answers the changes still kept."""
    now = now or utcnow()
    found, more = _query(owner_id, after, limit, now)
    if after == 0 or (found and found[0].sequence == after + 1):
        return found, more
    # Nothing right after ``after``: past the latest, expired, or committed after the Query read.
    # Everything up to the head read now was committed before it, so a second Query sees it.
    head = latest(owner_id)
    if after > head:
        raise BeyondLatest
    if after == head:
        return found, more
    found, more = _query(owner_id, after, limit, now)
    if not found or found[0].sequence != after + 1:
        raise CursorExpired(after, _retention["days"])
    return found, more


def _query(owner_id: str, after: int, limit: int, now: datetime) -> tuple[list[Change], bool]:
    found: list[Change] = []
    rows = ChangeRow.query(
        owner_id,
        ChangeRow.sequence > after,
        filter_condition=ChangeRow.expires_at > now,  # past retention, not yet removed by TTL
        consistent_read=True,
        page_size=min(max(limit + 1, 50), 500),
    )
    for row in rows:
        if len(found) == limit:
            return found, True
        found.append(Change.of(row))
    return found, False
