"""How many WebSocket connections each account holds open, at most ``limit`` each.

A connection is something held, not an event in a window, so the ``limits`` library (which counts
events in windows) does not fit; this counts by hand. In one process (``memory://``) a Counter does.
Across processes (``redis://``) each account has a Redis sorted set of its connections, each
scored with the end of its lease: a process renews the leases of its connections every third of
:data:`LEASE_SECONDS`, so the connections of a process that died without releasing them stop
counting within a lease. Taking a slot is one Lua script: drop expired leases, count, add.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter

from adapters.redis_pool import CONNECTIONS, WAIT_SECONDS, blocking_pool

log = logging.getLogger("docstore.connections")

#: How long a connection counts without its process renewing it (it renews every third of this).
LEASE_SECONDS = 30
KEY_PREFIX = "docstore:ws-connections:"
#: Accounts whose leases one pipeline renews. 500 accounts of 10 connections: 200 a pipeline held
#: the event loop 17 to 27 ms a pipeline (packing 400 commands, parsing their replies), 50 about 5 ms,
#: for the same total (bench event_latency's stall sampler found renewals among its loop's stalls).
RENEW_BATCH = 50

ACQUIRE = """
local now, limit, expires = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], expires, ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class ConnectionSlots:
    """Connections each account holds in this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held: Counter[str] = Counter()

    async def acquire(self, account_id: str) -> str | None:
        """A slot for a new connection of ``account_id``; None when it holds ``limit`` already."""
        if self.held[account_id] >= self.limit:
            return None
        self.held[account_id] += 1
        return uuid.uuid4().hex

    async def release(self, account_id: str, slot: str) -> None:
        self.held[account_id] -= 1
        if self.held[account_id] <= 0:
            del self.held[account_id]

    async def holding(self, account_id: str) -> int:
        """Connections ``account_id`` holds (in every process, for the Redis kind)."""
        return self.held[account_id]

    async def close(self) -> None:
        return None


class RedisConnectionSlots(ConnectionSlots):
    """Connections each account holds in every process sharing the Redis at ``url``."""

    def __init__(
        self, url: str, limit: int, redis_connections: int = CONNECTIONS, redis_wait_seconds: float = WAIT_SECONDS
    ) -> None:
        super().__init__(limit)
        from redis import asyncio as redis  # only where Redis is used: commands never load it

        # Waits for a free connection: thousands of sockets closing at once each release a slot.
        self.client = redis.Redis(connection_pool=blocking_pool(url, redis_connections, redis_wait_seconds))
        self.script = self.client.register_script(ACQUIRE)
        self.mine: dict[str, str] = {}  # slot -> account, the leases this process renews
        self._renewing: asyncio.Task[None] | None = None

    async def acquire(self, account_id: str) -> str | None:
        slot = uuid.uuid4().hex
        now = time.time()
        taken = await self.script(
            keys=[KEY_PREFIX + account_id], args=[now, self.limit, now + LEASE_SECONDS, slot, LEASE_SECONDS * 2]
        )
        if not taken:
            return None
        self.mine[slot] = account_id
        if self._renewing is None:
            self._renewing = asyncio.create_task(self._renew_forever(), name="websocket connection leases")
        return slot

    async def release(self, account_id: str, slot: str) -> None:
        self.mine.pop(slot, None)
        await self.client.zrem(KEY_PREFIX + account_id, slot)

    async def holding(self, account_id: str) -> int:
        count: int = await self.client.zcount(KEY_PREFIX + account_id, time.time(), "+inf")
        return count

    async def close(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
        await self.client.aclose()

    async def renew(self) -> None:
        """Extend the lease of every connection this process holds: one ZADD of an account's slots
        (only those still there: a slot given back meanwhile stays gone) and one EXPIRE per
        account, :data:`RENEW_BATCH` accounts a pipeline, the event loop free between pipelines.
        One pipeline of two commands a connection held the loop for 300 to 560 ms every 10 s with
        5,000 connections (packing and parsing 10,000 commands: docs/BENCHMARKS.md)."""
        until = time.time() + LEASE_SECONDS
        by_account: dict[str, dict[str, float]] = {}
        for slot, account_id in list(self.mine.items()):
            by_account.setdefault(account_id, {})[slot] = until
        accounts = list(by_account.items())
        for start in range(0, len(accounts), RENEW_BATCH):
            async with self.client.pipeline(transaction=False) as pipe:
                for account_id, slots in accounts[start : start + RENEW_BATCH]:
                    pipe.zadd(KEY_PREFIX + account_id, slots, xx=True)
                    pipe.expire(KEY_PREFIX + account_id, LEASE_SECONDS * 2)
                await pipe.execute()
            await asyncio.sleep(0)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                await self.renew()
            except Exception:
                log.exception("could not renew the WebSocket connection leases; trying again")


def connection_slots(
    pubsub_url: str, limit: int, redis_connections: int = CONNECTIONS, redis_wait_seconds: float = WAIT_SECONDS
) -> ConnectionSlots:
    """Counted in the pub/sub Redis when there is one, in this process otherwise."""
    if pubsub_url.partition("://")[0] in {"redis", "rediss"}:
        return RedisConnectionSlots(pubsub_url, limit, redis_connections, redis_wait_seconds)
    return ConnectionSlots(limit)
