"""The dashboard query: counters and live queue depths, for administrators only."""

from __future__ import annotations

import asyncio

import strawberry

from access.context import Context
from access.permissions import require_admin
from adapters.queue import Queue
from models import stats
from schema.dashboard import Dashboard, QueueDepth


async def dashboard(info: strawberry.Info[Context, None]) -> Dashboard:
    await require_admin(info)
    services = info.context.services
    run = services.blocking.run

    async def depth(name: str, queue: Queue) -> QueueDepth:
        messages, dead = await asyncio.gather(run(queue.depth), run(queue.dead_letter_depth))
        return QueueDepth(queue=name, messages=messages, dead_letters=dead)

    figures, queues = await asyncio.gather(
        run(stats.figures), asyncio.gather(*(depth(name, queue) for name, queue in services.queues.items()))
    )
    return Dashboard.from_model(figures, list(queues))
