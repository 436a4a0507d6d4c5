"""What a DocStore process opens: the AWS it talks to, and the services built on it.

The API (``server.py``), the workers and the ``docstore`` commands (``cli.py``) all open their
runtime here. Importing this module stays cheap (no GraphQL, no web server), so that commands
started beside a running server answer at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters import local_aws
from adapters.aws import AwsTarget
from models import changes, keys, path_backfill, retries, tables

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from argon2 import PasswordHasher

    from adapters.blocking import Blocking
    from adapters.cache import ReadCache
    from adapters.cloudwatch import CloudWatchReporter
    from adapters.connection_slots import ConnectionSlots
    from adapters.hashing import Hashing
    from adapters.mail import Mailer
    from adapters.metrics import Metrics
    from adapters.pubsub import BroadcastPubSub, EventSource, Publisher
    from adapters.queue import Queue
    from adapters.ratelimits import AuthLimits, RequestLimits, SharePasswordLimits
    from adapters.s3 import ObjectStore
    from adapters.search.base import SearchBackend
    from adapters.search.tantivy_index import TantivyIndex
    from models.outbox import Pending
    from runtime.outbox import Outbox
    from settings import Settings

log = logging.getLogger("docstore")


@dataclass(frozen=True)
class Services:
    """Opened once in the lifespan and shared by every request."""

    settings: Settings
    objects: ObjectStore
    blocking: Blocking
    passwords: PasswordHasher
    publisher: Publisher
    events: EventSource
    queues: dict[str, Queue]
    mailer: Mailer
    #: The password hashing pool, the sign-in attempt counts and the WebSocket connection counts.
    hashing: Hashing
    auth_limits: AuthLimits
    request_limits: RequestLimits
    connections: ConnectionSlots
    #: Sends the messages a change put in the outbox once it has committed (``runtime.outbox``).
    outbox: Outbox
    #: The search index this process reads (None where search is not set up: some tests).
    search: SearchBackend | None = None
    #: This process's metrics; None when ``DOCSTORE_METRICS`` is off (nothing is counted).
    metrics: Metrics | None = None
    #: Sessions and accounts read in the last few seconds (``adapters.cache``); None: none kept.
    cache: ReadCache | None = None
    #: Wrong share-link passwords per client IP and per link (``services.share_links``).
    share_limits: SharePasswordLimits | None = None
    #: The key share links' tokens are derived from (``DOCSTORE_SHARE_SECRET``, else kept in the
    #: data folder); empty: this process makes no links.
    share_secret: bytes = b""

    async def deliver(self, messages: Iterable[Pending]) -> None:
        """Hand work to the workers: send the messages a committed change put in the outbox. One
        SQS refuses stays in the outbox, and the relay sends it later; this never raises for it."""
        await self.outbox.deliver(messages)


@dataclass
class Runtime:
    """Everything a process opens: the AWS it talks to and the services built on it."""

    services: Services
    target: AwsTarget
    embedded: local_aws.EmbeddedAws | None
    pubsub: BroadcastPubSub
    #: The search index; None in a runtime opened without it (``open_runtime(search=False)``).
    search: TantivyIndex | None
    reporter: CloudWatchReporter | None = None

    def close(self) -> None:
        self.services.hashing.close()
        if self.embedded is not None:
            self.embedded.stop()


def provision(settings: Settings, target: AwsTarget, *, every_path: bool = False) -> list[str]:
    """Create the tables, bucket and queues that are missing, and give the documents stored before
    paths their paths (once; every time with ``every_path``); what was done, for the log."""
    from adapters.mail import SesMailer
    from adapters.queue import ensure_queues
    from adapters.s3 import S3ObjectStore

    created = tables.create_tables()
    if placed := path_backfill.once(again=every_path):
        created.append(f"paths for {placed} documents stored before paths")
    S3ObjectStore(target, settings.bucket).ensure_bucket(
        settings.cors_origins,
        expiring_prefix=keys.STAGING_PREFIX,
        expiry_days=settings.staging_days,
        abort_multipart_days=-(-settings.multipart_upload_seconds // 86400),  # whole days, rounded up
    )
    created.append(f"bucket {settings.bucket}")
    created.extend(
        f"queue {url.rsplit('/', 1)[-1]}"
        for url in ensure_queues(
            target, settings.table_prefix, visibility_seconds=settings.queue_visibility_seconds
        ).values()
    )
    if settings.aws_mode != "aws":
        # On real SES verifying a sender is a step of its own: SES emails the address a link.
        SesMailer(target, settings.mail_from).verify_sender()
        created.append(f"mail sender {settings.mail_from}")
    return created


def open_search(settings: Settings) -> TantivyIndex:
    """The search index in the data folder. One an older DocStore built (another schema) is set
    aside for an empty one: search finds nothing until `docstore reindex` fills it."""
    from adapters.search.base import IndexOutdated
    from adapters.search.tantivy_index import TantivyIndex

    try:
        return TantivyIndex.open(settings.search_dir)
    except IndexOutdated as error:
        log.error("%s; starting with an empty index until then", error)
        generation, writer = TantivyIndex.new_generation(settings.search_dir)
        writer.commit()
        writer.close()
        TantivyIndex.promote(settings.search_dir, generation)
        return TantivyIndex.open(settings.search_dir)


class NoEmbeddedAws(RuntimeError):
    """A command that joins a running embedded AWS found none on its data folder."""


def embedded_aws(settings: Settings, on_exit: Callable[[int], None] | None = None) -> local_aws.EmbeddedAws:
    """The embedded AWS of the data folder, not started yet."""
    return local_aws.EmbeddedAws(
        settings.data_dir,
        synchronous=settings.embedded_sync,
        on_exit=on_exit,
        threads=settings.embedded_threads,
        connections=settings.embedded_connections,
        people_burst=settings.embedded_people_burst,
        malloc_arenas=settings.malloc_arenas,
    )


def start_embedded_aws(settings: Settings, on_exit: Callable[[int], None] | None = None) -> local_aws.EmbeddedAws:
    """The embedded AWS process on the data folder (raises EmbeddedAwsError, with a sentence, if it cannot)."""
    embedded = embedded_aws(settings, on_exit)
    embedded.start()
    return embedded


def open_runtime(
    settings: Settings,
    *,
    attach: bool = False,
    embedded: local_aws.EmbeddedAws | None = None,
    search: bool = True,
) -> Runtime:
    """Start the embedded AWS when asked for (or use the one given, or, with ``attach``, join the one
    a running server started on the same data folder), point the models at the AWS, build the services.

    Building them costs no request: each AWS client is built, and each queue's URL asked for, when
    it is first used. ``search`` False: no search index (for commands that never search, such as
    ``docstore stats``; opening it loads tantivy)."""
    from argon2 import PasswordHasher

    from adapters.blocking import Blocking
    from adapters.cache import ReadCache
    from adapters.cloudwatch import CloudWatchReporter
    from adapters.connection_slots import connection_slots
    from adapters.hashing import Hashing
    from adapters.kept_secret import kept_secret
    from adapters.mail import SesMailer
    from adapters.pubsub import BroadcastPubSub
    from adapters.queue import QUEUES, SqsQueue
    from adapters.ratelimits import AuthLimits, RequestLimits, SharePasswordLimits
    from adapters.s3 import S3ObjectStore
    from runtime.outbox import Outbox

    endpoint = settings.aws_endpoint_url
    if embedded is not None:
        endpoint = embedded.endpoint_url
    elif settings.embedded and attach:
        endpoint = local_aws.running_endpoint(settings.data_dir)
        if endpoint is None:
            raise NoEmbeddedAws(
                f"no embedded AWS is running on the data folder {settings.data_dir}; start `docstore serve` "
                "first (it creates everything itself), or set DOCSTORE_AWS_MODE for another AWS"
            )
    elif settings.embedded:
        embedded = start_embedded_aws(settings)
        endpoint = embedded.endpoint_url
    try:
        target = AwsTarget.from_settings(settings, endpoint)
        tables.configure(target, settings.table_prefix)
        retries.configure(
            plan_race_attempts=settings.plan_race_attempts, quota_level_attempts=settings.quota_level_attempts
        )
        changes.configure(retention_days=settings.change_retention_days)
        if embedded is not None:
            provision(settings, target)
        cache = ReadCache(seconds=settings.cache_seconds, entries=settings.cache_entries)
        pubsub = BroadcastPubSub(settings.pubsub_url, cache=cache)
        index = open_search(settings) if search else None
        queues = {name: SqsQueue.named(target, f"{settings.table_prefix}-{name}") for name in QUEUES}
        metrics = None
        if settings.metrics_enabled:
            from adapters.metrics import Metrics  # prometheus_client: only where something is counted

            metrics = Metrics(window=settings.cloudwatch_namespace is not None)
            metrics.watch_queues(queues)
        blocking = Blocking(settings.blocking_threads)
        redis_pool = {
            "redis_connections": settings.redis_connections,
            "redis_wait_seconds": settings.redis_wait_seconds,
        }
        services = Services(
            settings=settings,
            objects=S3ObjectStore(target, settings.bucket),
            blocking=blocking,
            passwords=PasswordHasher(),
            publisher=pubsub,
            events=pubsub,
            queues=dict(queues),
            mailer=SesMailer(target, settings.mail_from),
            search=index,
            metrics=metrics,
            cache=cache,
            hashing=Hashing(settings.hashing_threads, settings.hashing_queue),
            auth_limits=AuthLimits(
                settings.pubsub_url,
                per_ip=settings.auth_attempts_per_ip,
                per_email=settings.auth_attempts_per_email,
                window_seconds=settings.auth_window_seconds,
                **redis_pool,
            ),
            request_limits=RequestLimits(
                settings.pubsub_url, settings.requests_per_account, settings.requests_window_seconds, **redis_pool
            ),
            connections=connection_slots(settings.pubsub_url, settings.ws_connections_per_account, **redis_pool),
            outbox=Outbox(blocking, queues, settings.outbox_remove_seconds),
            share_limits=SharePasswordLimits(
                settings.pubsub_url,
                per_ip=settings.share_password_attempts_per_ip,
                per_link=settings.share_password_attempts_per_link,
                window_seconds=settings.share_password_window_seconds,
                **redis_pool,
            ),
            share_secret=settings.share_secret.encode() or kept_secret(settings.data_dir / "share-secret"),
        )
        reporter = None
        if metrics is not None and settings.cloudwatch_namespace:
            reporter = CloudWatchReporter(target, settings.cloudwatch_namespace, metrics)
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise
    return Runtime(
        services=services,
        target=target,
        embedded=embedded,
        pubsub=pubsub,
        search=index,
        reporter=reporter,
    )
