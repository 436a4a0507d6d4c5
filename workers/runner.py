"""Running the workers: both queue consumers on one pipeline, and the sweeper beside them.

``docstore serve`` runs this inside the API process (the embedded default); ``docstore worker``
runs it alone, as many processes as the queues need.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from adapters.queue import ACCOUNT_EVENTS, UPLOAD_EVENTS
from workers import sweeper
from workers.consumer import Consumer
from workers.extraction import Extraction
from workers.pipeline import Pipeline

if TYPE_CHECKING:
    from adapters.blocking import Blocking
    from adapters.mail import Mailer
    from adapters.pubsub import Publisher
    from adapters.queue import Queue
    from adapters.s3 import ObjectStore
    from settings import Settings

log = logging.getLogger(__name__)


async def run_workers(
    settings: Settings,
    *,
    blocking: Blocking,
    objects: ObjectStore,
    publisher: Publisher,
    mailer: Mailer,
    queues: dict[str, Queue],
) -> None:
    """Consume both queues (and sweep expired forms) until cancelled."""
    extraction = Extraction(
        processes=settings.extraction_processes,
        seconds=settings.extraction_seconds,
        memory_bytes=settings.extraction_memory_mb * 1024**2,
    )
    pipeline = Pipeline(blocking=blocking, objects=objects, publisher=publisher, extraction=extraction, mailer=mailer)
    consumers = [
        Consumer(
            queues[name],
            pipeline.handle,
            blocking,
            name=name,
            wait_seconds=settings.queue_wait_seconds,
            visibility_seconds=settings.queue_visibility_seconds,
        )
        for name in (UPLOAD_EVENTS, ACCOUNT_EVENTS)
    ]
    try:
        async with asyncio.TaskGroup() as group:
            for consumer in consumers:
                group.create_task(consumer.run_forever())
            if settings.sweep_interval_seconds > 0:
                group.create_task(
                    sweeper.run_forever(blocking, objects, settings.sweep_interval_seconds, queues[UPLOAD_EVENTS])
                )
    finally:
        await extraction.aclose()
        log.info("workers stopped after %d messages", sum(consumer.handled for consumer in consumers))
