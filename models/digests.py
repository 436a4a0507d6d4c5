"""Followers' email digests: the changes waiting for a follower's next email, and its schedule.

A row of ``digests`` under the follower per change it was told of (``L{ulid}``: oldest first),
and one ``#due`` row while a digest is scheduled. Scheduling is one transaction: the ``#due`` row
put on the condition that there is none, and the ``digest.due`` queue message put in the outbox,
delayed by the window (``DOCSTORE_DIGEST_SECONDS``), so a scheduled digest survives a process
stopping anywhere (the outbox relay sends what was not sent) and there is never more than one
scheduled per follower. The lines are written before the schedule is tried: a change that finds
one scheduled joins it, and the handler, once it has sent and removed what it read, schedules the
next for any line that came meanwhile (:func:`schedule` again: only one of the two tries wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite
from ulid import ULID

from adapters.messages import DigestDue, new_key
from models import outbox
from models.base import BaseMeta, TableModel, failed_items, transaction_connection, utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

DUE = "#due"
LINE = "L"


class DigestRow(TableModel):
    """A change waiting for the follower's digest (``L…``), or its schedule (``#due``)."""

    class Meta(BaseMeta):
        table_name = "digests"

    follower_id = UnicodeAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True)
    owner_id = UnicodeAttribute(null=True)
    document_id = UnicodeAttribute(null=True)
    #: The document's name when the change was made (a deleted document has none left to read).
    name = UnicodeAttribute(null=True)
    change = UnicodeAttribute(null=True)
    by = UnicodeAttribute(null=True)
    version = NumberAttribute(null=True)
    at = UTCDateTimeAttribute(null=True)
    #: The ``#due`` row: when the digest scheduled is due, and its message's key (a repeat of an
    #: earlier digest's message finds another key, or none, and sends nothing).
    due_at = UTCDateTimeAttribute(null=True)
    key = UnicodeAttribute(null=True)


@dataclass(frozen=True)
class Line:
    """One change, as a follower's digest names it."""

    owner_id: str
    document_id: str
    name: str
    change: str
    by: str
    version: int
    at: datetime


def add(follower_id: str, lines: Sequence[Line]) -> None:
    """Keep ``lines`` for the follower's next digest (one BatchWriteItem per 25)."""
    with DigestRow.batch_write() as batch:
        for line in lines:
            batch.save(
                DigestRow(
                    follower_id=follower_id,
                    entry=f"{LINE}{ULID.from_datetime(line.at)}",
                    owner_id=line.owner_id,
                    document_id=line.document_id,
                    name=line.name,
                    change=line.change,
                    by=line.by,
                    version=line.version,
                    at=line.at,
                )
            )


def schedule(follower_id: str, window_seconds: int, now: datetime | None = None) -> outbox.Pending | None:
    """Schedule the follower's digest ``window_seconds`` from now, unless one is scheduled: the
    outbox message to deliver, or None when one was already."""
    now = now or utcnow()
    key = new_key()
    due = DigestRow(follower_id=follower_id, entry=DUE, due_at=now + timedelta(seconds=window_seconds), key=key)
    try:
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.save(due, condition=DigestRow.entry.does_not_exist())
            message = outbox.put(
                transaction, DigestDue(account_id=follower_id, key=key), delay_seconds=window_seconds, now=now
            )
    except TransactWriteError as error:
        if failed_items(error)[:1] == [True]:
            return None
        raise
    return message


def waiting(follower_id: str) -> list[DigestRow]:
    """The follower's lines, oldest first (one consistent Query)."""
    return list(DigestRow.query(follower_id, DigestRow.entry.startswith(LINE), consistent_read=True))


def scheduled(follower_id: str, key: str) -> bool:
    """Whether the digest scheduled with message ``key`` is the follower's, still to send."""
    try:
        due = DigestRow.get(follower_id, DUE, consistent_read=True)
    except DigestRow.DoesNotExist:
        return False
    return due.key == key


def done(follower_id: str, sent: Sequence[DigestRow]) -> None:
    """Remove the lines a digest sent (or left out), then its schedule."""
    with DigestRow.batch_write() as batch:
        for row in sent:
            batch.delete(row)
    DigestRow(follower_id=follower_id, entry=DUE).delete()
