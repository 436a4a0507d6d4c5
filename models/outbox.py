"""The outbox: each queue message a change implies, written in the change's own transaction.

A change that other parts must hear of (an account created, an upload started or completed, a
document renamed or deleted, a plan changed) puts its messages here inside the DynamoDB transaction
that makes the change: the message exists exactly when the change does, and a transaction that
fails writes neither. Once the transaction has committed, the caller sends the messages at once and
has them removed (``runtime.outbox.Outbox``); whatever is still here a few seconds later (SQS
refused, or the process stopped between the commit and the send) the relay sends
(``runtime.outbox.Relay``).

A message can therefore reach its queue twice (the caller and the relay racing, or a process
stopping between a send and the removal). Every message that goes through here is handled
idempotently: the consumer drops a repeat by the message's key, and each handler's writes are
conditional (``workers.consumer``).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

import msgspec
from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from ulid import ULID

from adapters import messages
from models.base import BaseMeta, TableModel, utcnow

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from datetime import datetime

    from pynamodb.transactions import TransactWrite

    from adapters.messages import QueueMessage
    from adapters.queue import Queue

#: SQS delays a message at most 15 minutes.
MAX_DELAY_SECONDS = 900


class Pending(TableModel):
    """A message waiting to be sent: to which queue, what, and when it may be delivered."""

    class Meta(BaseMeta):
        table_name = "outbox"

    #: A ULID: unique, and ordered by when the change was made.
    id = UnicodeAttribute(hash_key=True)
    #: The queue's name without the table prefix (``adapters.queue.QUEUES``).
    queue = UnicodeAttribute()
    #: The message (``adapters.messages``), as JSON.
    body = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    #: How long after ``created_at`` the message may be delivered (SQS's DelaySeconds).
    delay_seconds = NumberAttribute(default=0)

    @property
    def message(self) -> QueueMessage:
        """The message, read and checked: ``adapters.messages.Malformed`` for one that is not a
        message its queue carries."""
        return messages.parse_on(str(self.queue), str(self.body))

    def delay_left(self, now: datetime | None = None) -> int:
        """The delay still to run at ``now``: a message sent late is delivered when it was due."""
        due = self.created_at + timedelta(seconds=int(self.delay_seconds))
        left = (due - (now or utcnow())).total_seconds()
        return max(0, min(MAX_DELAY_SECONDS, int(left + 0.999)))


def put(
    transaction: TransactWrite,
    message: QueueMessage,
    *,
    delay_seconds: int = 0,
    now: datetime | None = None,
) -> Pending:
    """Add ``message`` for its queue to ``transaction``; the outbox item, which exists once the
    transaction commits."""
    now = now or utcnow()
    item = Pending(
        id=str(ULID.from_datetime(now)),
        queue=message.queue,
        # The very text the dict bodies of before were stored as.
        body=json.dumps(msgspec.to_builtins(message), separators=(",", ":")),
        created_at=now,
        delay_seconds=max(0, min(MAX_DELAY_SECONDS, delay_seconds)),
    )
    # No condition: a new ULID names no item, and an unconditional put is the cheapest to check.
    transaction.save(item)
    return item


def send(queues: Mapping[str, Queue], item: Pending, now: datetime | None = None) -> None:
    """Send one outbox message to its queue with what is left of its delay (blocking).

    ``KeyError`` for a queue this process does not know; ``adapters.messages.Malformed`` for a
    body that is no message that queue carries."""
    queues[item.queue].send(item.message, item.delay_left(now))


def remove(ids: Iterable[str]) -> None:
    """Remove sent messages, 25 to a BatchWriteItem (PynamoDB retries what DynamoDB leaves unprocessed)."""
    with Pending.batch_write() as batch:
        for item_id in ids:
            batch.delete(Pending(id=item_id))


def older_than(moment: datetime) -> Iterator[Pending]:
    """The messages written before ``moment``, oldest first: what the relay sends.

    A Scan: the table holds only messages not yet removed, a few seconds' worth while SQS takes
    them. Eventually consistent, which at worst shows a message just removed (sent again: harmless).
    """
    found = list(Pending.scan(filter_condition=Pending.created_at < moment))
    return iter(sorted(found, key=lambda item: item.id))
