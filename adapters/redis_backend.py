"""broadcaster's backend interface over Redis pub/sub (redis-py's asyncio client).

broadcaster 0.3.1 ships a Redis backend, but with redis-py 8 it never delivers a message: its
``subscribe`` wakes the listener before redis-py records the subscription, the listener finds
nothing subscribed, stops listening and waits for a wake-up that already happened. This one wakes
the listener only once the subscription is recorded, and keeps listening across Redis reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from broadcaster import BroadcastBackend, Event
from redis import asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("docstore.pubsub")

#: Pause before listening again after the connection to Redis failed (redis-py reconnects and
#: subscribes again to every channel on the next read).
RETRY_SECONDS = 1.0


class RedisBackend(BroadcastBackend):
    """One Redis connection to publish on and one to listen on, for every channel of the process."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._published: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        await self._client.ping()  # fail at start, not at the first event, when Redis is unreachable
        self._listener = asyncio.create_task(self._listen(), name="redis pub/sub listener")

    async def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._client.aclose()

    async def ping(self) -> None:
        """Raises when Redis does not answer."""
        await self._client.ping()

    async def subscribe(self, channel: str) -> None:
        await self._pubsub.subscribe(channel)
        self._subscribed.set()

    async def unsubscribe(self, channel: str) -> None:
        await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        await self._client.publish(channel, message)

    async def next_published(self) -> Event:
        return await self._published.get()

    async def _listen(self) -> None:
        while True:
            await self._subscribed.wait()
            if not self._pubsub.subscribed:
                # redis-py reads nothing without a subscription: wait for the next one.
                self._subscribed.clear()
                continue
            try:
                message = await self._pubsub.get_message(timeout=None)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                log.warning("lost the Redis pub/sub connection; listening again in %s s", RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if message is not None and message["type"] == "message":
                await self._published.put(Event(channel=message["channel"].decode(), message=message["data"].decode()))
