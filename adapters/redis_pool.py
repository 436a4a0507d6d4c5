"""Connections to Redis for the counts kept there (sign-in attempts, requests, WebSocket connections).

redis-py's asyncio ``ConnectionPool`` holds at most 100 connections and raises ``MaxConnectionsError``
("Too many connections") at once when a 101st command is sent meanwhile: 5,000 WebSocket clients
leaving together failed to give back their connection slots, which then counted against their
accounts until the leases ran out. Its ``BlockingConnectionPool`` waits for a free connection
instead: here up to ``DOCSTORE_REDIS_CONNECTIONS`` a pool, waiting at most
``DOCSTORE_REDIS_WAIT_SECONDS`` before the command fails with ``redis.ConnectionError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import BlockingConnectionPool

#: The defaults of DOCSTORE_REDIS_CONNECTIONS and DOCSTORE_REDIS_WAIT_SECONDS.
CONNECTIONS = 32
WAIT_SECONDS = 10.0


def blocking_pool(
    url: str, connections: int = CONNECTIONS, wait_seconds: float = WAIT_SECONDS
) -> BlockingConnectionPool:
    """A pool of at most ``connections`` to the Redis at ``url``; a command waits up to
    ``wait_seconds`` for one of them to be free."""
    from redis.asyncio import BlockingConnectionPool  # only where Redis is used: commands never load it

    return BlockingConnectionPool.from_url(url, max_connections=connections, timeout=wait_seconds)
