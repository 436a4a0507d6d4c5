"""Delivering the outbox (``models/outbox.py``): at once after each change, and by the relay.

``Outbox`` is the fast path, used by every process that makes changes (the API, the sweeper, the
pipeline): right after a transaction commits it sends the messages the change put in the outbox,
as the code did before the outbox existed, and has them removed. Removals gather for
``DOCSTORE_OUTBOX_REMOVE_SECONDS`` and go in one BatchWriteItem per 25 messages, so under load a
change costs its outbox a share of one request rather than a DeleteItem of its own.

``Relay`` runs with the workers: every ``DOCSTORE_OUTBOX_RELAY_SECONDS`` it sends the messages
older than ``DOCSTORE_OUTBOX_AGE_SECONDS`` that are still in the outbox (SQS refused them, or the
process that made the change stopped before sending) and removes them. While SQS refuses, it tries
again with exponential backoff (tenacity), up to ``DOCSTORE_OUTBOX_BACKOFF_SECONDS`` apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio

from adapters.messages import Malformed
from models import outbox
from models.base import utcnow

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from tenacity import RetryCallState

    from adapters.blocking import Blocking
    from adapters.queue import Queue

log = logging.getLogger(__name__)


class Outbox:
    """Sends the messages a change just committed to the outbox, and removes those SQS took.

    A message SQS refuses stays in the outbox for the relay; ``deliver`` never raises for it, since
    the change it belongs to is made and stays made.
    """

    def __init__(self, blocking: Blocking, queues: Mapping[str, Queue], remove_seconds: float) -> None:
        self.blocking = blocking
        self.queues = queues
        self.remove_seconds = remove_seconds
        self._sent: list[str] = []
        self._removing: asyncio.Task[None] | None = None

    async def deliver(self, messages: Iterable[outbox.Pending]) -> None:
        """Send each message now; those SQS took are removed from the outbox shortly after."""
        for message in messages:
            try:
                await self.blocking.run(outbox.send, self.queues, message)
            except Exception as error:
                # One line, no traceback: while SQS is away, every change says this.
                log.warning(
                    "SQS did not take outbox message %s for %s (%r); it stays in the outbox for the relay",
                    message.id,
                    message.queue,
                    error,
                )
                continue
            self._done(message.id)

    def discard(self, messages: Iterable[outbox.Pending]) -> None:
        """Remove messages without sending them: their caller does the work they ask for itself."""
        for message in messages:
            self._done(message.id)

    def _done(self, message_id: str) -> None:
        self._sent.append(message_id)
        if self._removing is None:
            self._removing = asyncio.create_task(self._remove_soon())

    async def _remove_soon(self) -> None:
        await asyncio.sleep(self.remove_seconds)
        await self.flush()

    async def flush(self) -> None:
        """Remove every message sent so far (what arrives meanwhile too)."""
        try:
            while self._sent:
                batch, self._sent = self._sent, []
                try:
                    await self.blocking.run(outbox.remove, batch)
                except Exception:
                    # They were sent; left in the outbox, the relay sends them again: harmless.
                    log.warning("could not remove %d sent messages from the outbox", len(batch), exc_info=True)
        finally:
            self._removing = None

    async def aclose(self) -> None:
        """Remove what was sent, now rather than after the pause (the process is stopping)."""
        removing = self._removing
        if removing is not None and not removing.done():
            removing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await removing
        await self.flush()


class Relay:
    """Sends what the fast path left in the outbox, until SQS takes it."""

    def __init__(
        self,
        blocking: Blocking,
        queues: Mapping[str, Queue],
        *,
        interval_seconds: float,
        age_seconds: float,
        backoff_seconds: float,
    ) -> None:
        self.blocking = blocking
        self.queues = queues
        self.interval_seconds = interval_seconds
        self.age_seconds = age_seconds
        self.backoff_seconds = backoff_seconds

    async def run_once(self, now: datetime | None = None) -> int:
        """Send every message older than the age at ``now``, oldest first, each with what is left of
        its delay, and remove those sent; how many.

        Stops at the first message SQS refuses and raises its error: the rest wait for the next try.
        """
        now = now or utcnow()
        cutoff = now - timedelta(seconds=self.age_seconds)
        due = await self.blocking.run(lambda: list(outbox.older_than(cutoff)))
        sent: list[str] = []
        try:
            for message in due:
                if message.queue not in self.queues:
                    log.error("outbox message %s names a queue unknown here, %s: dropped", message.id, message.queue)
                else:
                    try:
                        await self.blocking.run(outbox.send, self.queues, message, now)
                    except Malformed as error:
                        # Sending it again cannot help: it goes where a worker would have put it.
                        log.error(
                            "outbox message %s is no message %s carries (%s); moved to its dead-letter queue: %.200r",
                            message.id,
                            message.queue,
                            error,
                            message.body,
                        )
                        await self.blocking.run(self.queues[message.queue].dead_letter, str(message.body), str(error))
                sent.append(message.id)
        finally:
            if sent:
                await self.blocking.run(outbox.remove, sent)
                log.info("outbox relay sent %d messages left behind", len(sent))
        return len(sent)

    async def run_forever(self) -> None:
        # Imported here: every process builds an Outbox, only those running the workers relay.
        from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

        log.info("outbox relay started: every %s s, messages older than %s s", self.interval_seconds, self.age_seconds)
        while True:
            # Never gives up: the messages wait in the outbox for as long as SQS (or DynamoDB) refuses.
            retrying = AsyncRetrying(
                retry=retry_if_exception_type(Exception),
                wait=wait_exponential_jitter(
                    multiplier=self.interval_seconds, max=self.backoff_seconds, jitter=self.interval_seconds
                ),
                before_sleep=self._refused,
            )
            async for attempt in retrying:
                with attempt:
                    await self.run_once()
            await anyio.sleep(self.interval_seconds)

    @staticmethod
    def _refused(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0
        log.warning("outbox relay: %r (attempt %d); trying again in %.1f s", error, state.attempt_number, wait)
