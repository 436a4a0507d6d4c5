"""A process that publishes events the way a worker does: ``python -m tests.subscriptions.publisher URL EVENT...``.

Each EVENT is an envelope as JSON (``Event.to_json``); they are published in order through the real
:class:`~adapters.pubsub.BroadcastPubSub`, which then disconnects.
"""

from __future__ import annotations

import asyncio
import sys

from adapters.pubsub import BroadcastPubSub
from events.envelope import Event


async def publish(url: str, envelopes: list[str]) -> None:
    pubsub = BroadcastPubSub(url)
    await pubsub.connect()
    try:
        for envelope in envelopes:
            await pubsub.publish(Event.from_json(envelope))
    finally:
        await pubsub.disconnect()


if __name__ == "__main__":
    asyncio.run(publish(sys.argv[1], sys.argv[2:]))
