"""The queue consumer: long-polls a queue and hands each message to a handler.

A message is deleted only after its handler succeeded. A handler that raises leaves it on the
queue: it comes back after the visibility timeout and, after five receives, goes to the
dead-letter queue. Deletes are sent in batches of up to ten (one ``DeleteMessageBatch``), gathered
for at most ``DELETE_GATHER_SECONDS``: a message whose delete is lost to a crash comes back, as
if its handler had failed after its work.

Where a handler's own conditional writes make running it twice harmless (the pipeline's and the
indexer's), that is all the protection a redelivery needs. Otherwise (``remembers=True``) an
idempotency record per message key lets a redelivered message be dropped without running again:
two more DynamoDB requests a message.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from models import idempotency

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from adapters.blocking import Blocking
    from adapters.queue import Message, Queue

log = logging.getLogger(__name__)

#: How long a handled message waits for others to share its ``DeleteMessageBatch``.
DELETE_GATHER_SECONDS = 0.05
#: The most messages one ``DeleteMessageBatch`` takes (SQS's limit).
DELETE_BATCH = 10


class UnknownMessage(ValueError):
    """A message no handler understands: retrying cannot help, so it is logged and dropped."""


def addressed(body: dict[str, Any]) -> tuple[object, str, str | None]:
    """A work message's type, account and document (None unless a string); ``UnknownMessage``
    for one that names no account, which no handler can act on."""
    kind = body.get("type")
    account_id = body.get("account_id")
    document_id = body.get("document_id")
    if not isinstance(account_id, str):
        raise UnknownMessage(f"no account_id in {kind!r} message")
    return kind, account_id, document_id if isinstance(document_id, str) else None


def message_key(body: dict[str, Any]) -> str | None:
    """What makes two messages the same work: their type and the ids they are about."""
    kind = body.get("type")
    if not isinstance(kind, str):
        return None
    # "key" tells apart messages about the same ids that are different work (a second plan change).
    ids = [str(body[name]) for name in ("account_id", "document_id", "key") if body.get(name)]
    return ":".join([kind, *ids])


class Consumer:
    def __init__(
        self,
        queue: Queue,
        handle: Callable[[dict[str, Any]], Awaitable[None]],
        blocking: Blocking,
        *,
        name: str,
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
        self.wait_seconds = wait_seconds
        self.visibility_seconds = visibility_seconds
        self.slots = asyncio.Semaphore(concurrency)
        self.handled = 0
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
        """Handle one message; True when it was deleted after (done or dropped)."""
        key = message_key(message.body) if self.remembers else None
        try:
            if key is not None and await self.blocking.run(idempotency.seen, key):
                log.info("%s: %s was already handled; dropping the repeat", self.name, key)
            else:
                await self.handle(message.body)
                if key is not None:
                    await self.blocking.run(idempotency.remember, key)
        except UnknownMessage as error:
            log.error("%s: dropping message %s: %s", self.name, message.id, error)
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
