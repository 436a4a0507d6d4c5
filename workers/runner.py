"""Running the workers: the queue consumers, the search indexer, the backfill, the sweeper and
the outbox relay.

``docstore serve`` runs this inside the API process (the embedded default); ``docstore worker``
runs it alone, as many processes as the queues need.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from adapters import priority
from adapters.blocking import Blocking
from adapters.messages import on_queue
from adapters.queue import ACCOUNT_EVENTS, BACKFILL, SEARCH_INDEX, UPLOAD_EVENTS
from runtime.outbox import Outbox, Relay
from workers import sweeper
from workers.account_sync import AccountSync
from workers.backfill import Backfill
from workers.consumer import Consumer
from workers.extraction import Extraction
from workers.indexer import Commits, Indexer
from workers.pipeline import Pipeline

if TYPE_CHECKING:
    from collections.abc import Coroutine, Mapping

    from adapters.cache import ReadCache
    from adapters.mail import Mailer
    from adapters.metrics import Metrics
    from adapters.pubsub import Publisher
    from adapters.queue import Queue
    from adapters.s3 import ObjectStore
    from adapters.search.tantivy_index import TantivyIndex
    from runtime.services import Runtime
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
    search: TantivyIndex | None,
    metrics: Metrics | None = None,
    cache: ReadCache | None = None,
) -> None:
    """Consume every queue, sweep expired forms and relay what the outbox holds until cancelled;
    count extractions and finished documents in ``metrics``. The search-index queue is consumed
    only once this process holds the index's writer (see workers/indexer.py)."""
    # Everything started from here waits behind people's requests at the embedded AWS's DynamoDB.
    priority.background()
    seconds, memory = settings.extraction_seconds, settings.extraction_memory_mb * 1024**2
    extraction = Extraction(
        processes=settings.extraction_processes, seconds=seconds, memory_bytes=memory, log_format=settings.log_format
    )
    # The backfill extracts in a process of its own: an upload never waits for a free process behind it.
    backfill_extraction = Extraction(processes=1, seconds=seconds, memory_bytes=memory, log_format=settings.log_format)
    deliveries = Outbox(blocking, queues, settings.outbox_remove_seconds)
    relay = Relay(
        blocking,
        queues,
        interval_seconds=settings.outbox_relay_seconds,
        age_seconds=settings.outbox_age_seconds,
        backoff_seconds=settings.outbox_backoff_seconds,
    )
    commits = Commits()
    pipeline = build_pipeline(
        settings,
        blocking=blocking,
        objects=objects,
        publisher=publisher,
        mailer=mailer,
        queues=queues,
        search=search,
        extraction=extraction,
        outbox=deliveries,
        commits=commits,
        metrics=metrics,
        cache=cache,
    )
    backfill = build_backfill(
        blocking=blocking, objects=objects, extraction=backfill_extraction, pipeline=pipeline, queues=queues
    )
    consumers = [
        Consumer(
            queues[name],
            pipeline.handle,
            blocking,
            name=name,
            kinds=on_queue(name),
            concurrency=settings.worker_concurrency,
            wait_seconds=settings.queue_wait_seconds,
            visibility_seconds=settings.queue_visibility_seconds,
            # Every pipeline step is a conditional write: a redelivered message changes nothing.
            remembers=False,
        )
        for name in (UPLOAD_EVENTS, ACCOUNT_EVENTS)
    ]
    consumers.append(
        Consumer(
            queues[BACKFILL],
            backfill.handle,
            blocking,
            name=BACKFILL,
            kinds=on_queue(BACKFILL),
            concurrency=1,
            wait_seconds=settings.queue_wait_seconds,
            visibility_seconds=settings.queue_visibility_seconds,
        )
    )
    try:
        async with asyncio.TaskGroup() as group:
            for consumer in consumers:
                group.create_task(consumer.run_forever())
            group.create_task(relay.run_forever())
            if search is not None:
                indexer = build_indexer(settings, blocking=blocking, objects=objects, search=search, commits=commits)
                group.create_task(
                    indexer.run_forever(
                        queues[SEARCH_INDEX],
                        wait_seconds=settings.queue_wait_seconds,
                        visibility_seconds=settings.queue_visibility_seconds,
                    )
                )
            if settings.sweep_interval_seconds > 0:
                group.create_task(
                    sweeper.run_forever(
                        blocking,
                        objects,
                        settings.sweep_interval_seconds,
                        deliveries,
                        staging_days=settings.staging_days,
                    )
                )
    finally:
        await deliveries.aclose()
        await extraction.aclose()
        await backfill_extraction.aclose()
        log.info("workers stopped after %d messages", sum(consumer.handled for consumer in consumers))


def build_pipeline(
    settings: Settings,
    *,
    blocking: Blocking,
    objects: ObjectStore,
    publisher: Publisher,
    mailer: Mailer,
    queues: Mapping[str, Queue],
    search: TantivyIndex | None,
    extraction: Extraction,
    outbox: Outbox,
    commits: Commits,
    metrics: Metrics | None = None,
    cache: ReadCache | None = None,
) -> Pipeline:
    """The pipeline as the workers run it: READY waits for ``search`` (told through the
    search-index queue, and through ``commits`` when this process's indexer writes), accounts are
    replicated to the peer regions, and the messages of its changes leave through ``outbox``.
    The tests build theirs here too, so they take the branches production takes."""
    return Pipeline(
        blocking=blocking,
        objects=objects,
        publisher=publisher,
        extraction=extraction,
        mailer=mailer,
        index_queue=queues[SEARCH_INDEX],
        account_sync=AccountSync(blocking, settings.region, settings.peer_regions),
        metrics=metrics,
        search=search,
        cache=cache,
        outbox=outbox,
        index_commits=commits,
        thumbnail_sizes=(settings.thumbnail_small_px, settings.thumbnail_large_px),
        thumbnail_seconds=settings.thumbnail_seconds,
        digest_seconds=settings.digest_seconds,
    )


def build_backfill(
    *, blocking: Blocking, objects: ObjectStore, extraction: Extraction, pipeline: Pipeline, queues: Mapping[str, Queue]
) -> Backfill:
    """The backfill after an upgrade, on the pipeline's code, in its own extraction pool."""
    return Backfill(
        blocking=blocking,
        objects=objects,
        extraction=extraction,
        pipeline=pipeline,
        backfill_queue=queues[BACKFILL],
        index_queue=queues[SEARCH_INDEX],
    )


def build_indexer(
    settings: Settings, *, blocking: Blocking, objects: ObjectStore, search: TantivyIndex, commits: Commits
) -> Indexer:
    """The search index's single writer (it takes the writer lock in ``settings.search_dir``)."""
    return Indexer(blocking, objects, search, settings.search_dir, commits)


def start_workers(runtime: Runtime) -> Coroutine[Any, Any, None]:
    """The queue consumers, the pipeline, the indexer, the backfill and the sweeper, on this process's services."""
    services = runtime.services
    if runtime.search is None:
        raise ValueError("the workers need the search index: open the runtime with search=True")
    return run_workers(
        services.settings,
        # A pool of their own: sixteen uploads in the pipeline at once must not take every thread
        # the API's requests run their DynamoDB and S3 calls on.
        blocking=Blocking(services.settings.worker_concurrency),
        objects=services.objects,
        publisher=services.publisher,
        mailer=services.mailer,
        queues=services.queues,
        search=runtime.search,
        metrics=services.metrics,
        cache=services.cache,
    )
