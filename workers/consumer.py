"""The queue consumer: long-polls a queue and hands each message, read and checked, to a handler.

Each body is read as one of the kinds of message the queue carries (``adapters.messages``). A
message is deleted only after its handler succeeded. A handler that raises leaves it on the
queue: it comes back after the visibility timeout and, after five receives, goes to the
dead-letter queue. Deletes are sent in batches of up to ten (one ``DeleteMessageBatch``), gathered
for at most ``DELETE_GATHER_SECONDS``: a message whose delete is lost to a crash comes back, as
if its handler had failed after its work.

A message that is not one the queue carries (not JSON, an unknown type, a field missing or of the
wrong type), or that its handler refuses with :class:`UnknownMessage`, can never succeed: it is
sent to the queue's dead-letter queue at once, unchanged and with the reason in its
``DocStoreReason`` attribute, with one log line, and then deleted. Sent before the delete, so it is
never lost: should the send fail, the message stays and comes back (and SQS's redrive moves it
after five receives); should the process stop between the two, the dead-letter queue holds it
twice. It is never handed to the handler, so it cannot loop.

Where a handler's own conditional writes make running it twice harmless (the pipeline's and the
indexer's), that is all the protection a redelivery needs. Otherwise (``remembers=True``) an
idempotency record per message key lets a redelivered message be dropped without running again:
two more DynamoDB requests a message.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from adapters import messages
from models import idempotency

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from adapters.blocking import Blocking
    from adapters.messages import QueueMessage
    from adapters.queue import Message, Queue

log = logging.getLogger(__name__)

#: How long a handled message waits for others to share its ``DeleteMessageBatch``.
DELETE_GATHER_SECONDS = 0.05
#: The most messages one ``DeleteMessageBatch`` takes (SQS's limit).
DELETE_BATCH = 10


class UnknownMessage(ValueError):
    """A message its handler cannot act on: retrying cannot help, so it goes to the dead-letter queue."""


class Consumer:
    """Consumes ``queue``, which carries the messages ``kinds`` (``adapters.messages.on_queue``)."""

    def __init__(
        self,
        queue: Queue,
        handle: Callable[[QueueMessage], Awaitable[None]],
        blocking: Blocking,
        *,
        name: str,
        kinds: tuple[type[QueueMessage], ...],
        concurrency: int = 4,
        wait_seconds: int = 5,
        visibility_seconds: int | None = None,
        remembers: bool = True,
    ) -> None:
        self.queue = queue
        self.remembers = remembers
        self.handle = handle
        self.blocking = blocking
        self.name = name
        self.kinds = kinds
        self.wait_seconds = wait_seconds
        self.visibility_seconds = visibility_seconds
        self.slots = asyncio.Semaphore(concurrency)
        self.handled = 0
        #: Messages sent to the dead-letter queue as ones no handler can act on.
        self.dead_lettered = 0
        self._deletes: list[tuple[Message, asyncio.Future[bool]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def run_forever(self) -> None:
        log.info("consumer %s started", self.name)
        running: set[asyncio.Task[bool]] = set()
        try:
            while True:
                try:
                    messages = await self.blocking.run(
                        self.queue.receive, 10, self.wait_seconds, self.visibility_seconds
                    )
                except Exception:
                    log.exception("consumer %s could not receive; retrying in 1 s", self.name)
                    await asyncio.sleep(1)
                    continue
                for message in messages:
                    await self.slots.acquire()
                    task = asyncio.create_task(self.process(message))
                    running.add(task)
                    task.add_done_callback(running.discard)
                    task.add_done_callback(lambda _: self.slots.release())
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def process(self, message: Message) -> bool:
        """Handle one message; True when it was deleted after (done, a repeat dropped, or sent to
        the dead-letter queue)."""
        try:
            work = messages.parse(message.body, self.kinds)
        except messages.Malformed as error:
            return await self.dead_letter(message, str(error))
        key = work.dedupe_key if self.remembers else None
        try:
            if key is not None and await self.blocking.run(idempotency.seen, key):
                log.info("%s: %s was already handled; dropping the repeat", self.name, key)
            else:
                await self.handle(work)
                if key is not None:
                    await self.blocking.run(idempotency.remember, key)
        except UnknownMessage as error:
            return await self.dead_letter(message, str(error))
        except Exception:
            log.exception(
                "%s: message %s (%s) failed on receive %d; it returns after its visibility timeout",
                self.name,
                message.id,
                key,
                message.receive_count,
            )
            return False
        self.handled += 1
        return await self.delete(message)

    async def dead_letter(self, message: Message, reason: str) -> bool:
        """Move a message no handler can act on to the dead-letter queue, then delete it; True once
        deleted. Should the move fail, it stays (False) and comes back: never lost."""
        log.error(
            "%s: message %s is not one this queue's handler can act on (%s); moving it to the dead-letter "
            "queue: %.200r",
            self.name,
            message.id,
            reason,
            message.body,
        )
        try:
            await self.blocking.run(self.queue.dead_letter, message.body, reason)
        except Exception:
            log.exception(
                "%s: could not move message %s to the dead-letter queue; it comes back", self.name, message.id
            )
            return False
        self.dead_lettered += 1
        return await self.delete(message)

    async def delete(self, message: Message) -> bool:
        """Delete ``message`` together with the others handled within ``DELETE_GATHER_SECONDS`` of
        it; False (logged) if SQS did not, and then it comes back."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._deletes.append((message, done))
        if len(self._deletes) >= DELETE_BATCH:
            self._send_deletes()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(DELETE_GATHER_SECONDS, self._send_deletes)
        return await done

    def _send_deletes(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._deletes = self._deletes[:DELETE_BATCH], self._deletes[DELETE_BATCH:]
        if self._deletes:
            self._timer = asyncio.get_running_loop().call_later(DELETE_GATHER_SECONDS, self._send_deletes)
        task = asyncio.create_task(self._delete_batch(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _delete_batch(self, batch: list[tuple[Message, asyncio.Future[bool]]]) -> None:
        deleted: list[bool] | None = None
        try:
            deleted = await self.blocking.run(self.queue.delete_many, [message for message, _ in batch])
        except Exception:
            log.exception("%s: could not delete %d handled messages; they come back", self.name, len(batch))
        for position, (message, done) in enumerate(batch):
            gone = deleted is not None and deleted[position]
            if deleted is not None and not gone:
                log.warning("%s: handled message %s was not deleted; it comes back", self.name, message.id)
            if not done.done():
                done.set_result(gone)
