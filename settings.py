"""One typed settings object, read once from ``DOCSTORE_*`` environment variables."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Credentials the embedded AWS accepts; never used against real AWS.
EMBEDDED_ACCESS_KEY = "docstore-embedded"
EMBEDDED_SECRET_KEY = "docstore-embedded-secret"
#: What a region name may look like (``us-west-2``); tokens carry it, so it is checked.
REGION_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
#: The change feed keeps changes at least this many days (issue 13): a sync client away for less
#: than a month goes on from its cursor rather than comparing everything.
MIN_CHANGE_RETENTION_DAYS = 30
#: Where `make` builds the web app and GraphiQL (web/, built by Vite into web/dist).
WEB_DIST = Path(__file__).resolve().parent / "web" / "dist"


class SettingsError(ValueError):
    """A ``DOCSTORE_*`` variable has a value DocStore cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything DocStore reads from its environment.

    ``aws_mode`` is ``embedded`` (moto's server started in-process, the default), ``endpoint``
    (an AWS-compatible endpoint named by ``aws_endpoint_url``) or ``aws`` (the usual boto3
    credential chain and regional endpoints).
    """

    region: str = "us-west-2"
    aws_mode: str = "embedded"
    aws_endpoint_url: str | None = None
    table_prefix: str = "docstore"
    bucket_name: str | None = None
    data_dir: Path = Path("docstore-data")
    host: str = "127.0.0.1"
    port: int = 8000
    upload_form_seconds: int = 90
    download_url_seconds: int = 300
    session_seconds: int = 7 * 24 * 3600
    sweep_interval_seconds: float = 30.0
    sweep_grace_seconds: int = 30
    #: Days after which a file an upload form posted (its staging object) is deleted, whatever
    #: became of the upload: the bucket's lifecycle rule on S3, the sweeper everywhere.
    staging_days: int = 1
    #: Multipart uploads (requestMultipartUpload): the part size the service asks for (S3 takes
    #: at least 5 MiB for every part but the last), how many parts one signUploadParts call
    #: signs, how long a signed part URL is valid, and how long an upload may stay incomplete
    #: before the sweeper (and the bucket's lifecycle rule, in whole days) aborts it.
    multipart_part_bytes: int = 16 * 1024 * 1024
    multipart_sign_max_parts: int = 100
    multipart_part_url_seconds: int = 900
    multipart_upload_seconds: int = 24 * 3600
    #: The longest document path, in bytes of UTF-8, and the most segments it may have.
    path_max_bytes: int = 1024
    #: How many versions of a document each plan keeps, the current one included
    #: (``models.versions``): a new version past it deletes the oldest, freeing its bytes. At
    #: least 2: the previous version is served while a new one is processed.
    versions_free: int = 10
    versions_premium: int = 100
    path_max_depth: int = 32
    #: The most files one compareChecksums call takes, and the most documents it reads under its
    #: prefix (so the most comparisons it answers is twice this).
    compare_max_files: int = 10_000
    blocking_threads: int = 32
    redirect_origins: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ("*",)
    #: The largest HTTP request body, and the largest WebSocket message: room for a compareChecksums
    #: of ``compare_max_files`` files with paths of up to about 300 bytes.
    max_request_bytes: int = 4_000_000
    pubsub_url: str = "memory://"
    #: Run the queue consumers inside ``docstore serve`` (the embedded default), or leave the
    #: queues to ``docstore worker`` processes.
    run_workers: bool = True
    mail_from: str = "no-reply@docstore.example"
    #: Extraction processes (text and thumbnails) per worker. Under the 100-person load two were
    #: busy most of the time with thumbnails alone, and files queued for them (docs/BENCHMARKS.md).
    extraction_processes: int = 3
    extraction_seconds: int = 60
    extraction_memory_mb: int = 1024
    #: The longer side of a document's two WebP thumbnails (``Document.thumbnailUrl``), in pixels,
    #: and the wall-clock limit of making them (in the extraction processes, under their memory limit).
    thumbnail_small_px: int = 256
    thumbnail_large_px: int = 1024
    thumbnail_seconds: int = 20
    queue_wait_seconds: int = 5
    #: Messages one queue consumer handles at once. Each mostly waits on DynamoDB, S3 and SQS
    #: (extraction has its own bounded pool), so more than the cores keeps the pipeline moving:
    #: under the 100-person load, 16 at once took 2 s a document and left uploads queued for
    #: 10 s or more; 48 kept up but slowed the API (p99 1.5 s); 32 kept up too (docs/BENCHMARKS.md).
    worker_concurrency: int = 32
    #: How long a received message stays hidden from other workers; a worker that dies mid-job
    #: leaves it to come back after this. Longer than the extraction limit.
    queue_visibility_seconds: int = 300
    #: The API's public base URL, which other regions send this region's clients to; empty:
    #: ``http://{host}:{port}``.
    public_url: str = ""
    #: The built web app and GraphiQL that `docstore serve` serves at ``/`` and ``/graphql``.
    web_dir: Path = WEB_DIST
    #: Every region DocStore runs in, with its API's public base URL (``DOCSTORE_REGIONS``).
    #: Empty, or only this region: single-region mode, nothing is replicated.
    regions: tuple[tuple[str, str], ...] = ()

    @property
    def endpoint(self) -> str:
        """This region's public API base URL."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def region_endpoints(self) -> dict[str, str]:
        """Each configured region's public API base URL, this region's included."""
        endpoints = dict(self.regions)
        endpoints.setdefault(self.region, self.endpoint)
        return endpoints

    @property
    def peer_regions(self) -> tuple[str, ...]:
        """The other regions, which hold replicas of this region's accounts."""
        return tuple(region for region in self.region_endpoints if region != self.region)

    #: How the embedded AWS commits its state file: NORMAL survives DocStore being killed at any
    #: instant; FULL also survives the machine losing power, at an fsync a write.
    embedded_sync: str = "NORMAL"
    #: Requests the embedded AWS serves at once (waitress's threads; DynamoDB's still run one at a
    #: time), and the client connections it keeps open.
    embedded_threads: int = 32
    embedded_connections: int = 1000
    #: Requests of the API the embedded AWS's DynamoDB serves ahead of waiting background ones (the
    #: workers') before it lets one background request through (``adapters.priority``): 1 alternates.
    embedded_people_burst: int = 1
    #: The most malloc arenas each DocStore process (the API, a worker, the embedded AWS) makes
    #: (``adapters.malloc``); 0 leaves glibc's default of eight per core.
    malloc_arenas: int = 2

    #: Count requests, subscriptions, queue depth and extractions for ``/metrics`` (and CloudWatch).
    metrics_enabled: bool = True
    #: ``json`` (one JSON object a line, the default) or ``text`` (for people at a terminal).
    log_format: str = "json"
    #: One log line per HTTP request and per WebSocket connection.
    access_log: bool = True
    #: Send metrics to CloudWatch (PutMetricData) under this namespace; None sends nothing.
    cloudwatch_namespace: str | None = None
    cloudwatch_interval_seconds: float = 60.0
    #: How often ``docstore backup`` starts its export again when accounts or counters moved
    #: during it, before it refuses.
    backup_attempts: int = 3
    #: How long a process keeps a session and an account it read (0: no read cache), and how many.
    cache_seconds: int = 30
    cache_entries: int = 10_000
    #: What one GraphQL operation may hold, checked before it runs (resolvers/limits.py).
    max_query_bytes: int = 32_768
    max_query_tokens: int = 2_000
    max_query_depth: int = 20
    max_query_fields: int = 500
    max_query_aliases: int = 30
    max_query_directives: int = 50
    max_query_cost: int = 10_000
    max_query_repeats: int = 10
    #: An operation that declares a compareChecksums input may hold 3 values a file on top
    #: (``resolvers.limits.Limits.variables_of``).
    max_variable_values: int = 1_000
    #: compareChecksums fields in one operation (aliases included): each may read 10,000 documents.
    max_compares_per_operation: int = 1
    #: Operations kept parsed and validated: at most this many bytes (each charged for its parsed
    #: document) and this many entries.
    query_cache_bytes: int = 32_000_000
    query_cache_entries: int = 1_000
    #: The request line and headers of one HTTP request (or WebSocket handshake): bytes, and headers.
    max_header_bytes: int = 16_384
    max_headers: int = 100
    #: Password hashes (argon2id, 64 MiB each) run in their own pool of this many threads; this
    #: many more callers may wait for it, and the rest are refused with RateLimitedError.
    hashing_threads: int = 2
    hashing_queue: int = 16
    #: signIn and signUp attempts together, per client IP and per email, in a moving window.
    auth_attempts_per_ip: int = 10
    auth_attempts_per_email: int = 5
    auth_window_seconds: int = 60
    #: GraphQL operations one signed-in account may send (HTTP requests and WebSocket subscribes
    #: together, from every session and process) in a sliding window; 0 counts none.
    requests_per_account: int = 1200
    requests_window_seconds: int = 60
    #: Connections a pool to Redis for counts (attempts, requests, WebSocket connections) holds at
    #: most, and how long a command waits for a free one (``adapters.redis_pool``).
    redis_connections: int = 32
    redis_wait_seconds: int = 10
    #: WebSocket connections one account may hold open (in one API process), and the
    #: subscriptions one connection may run at once.
    ws_connections_per_account: int = 10
    ws_subscriptions_per_connection: int = 20
    #: Offer WebSocket per-message deflate (RFC 7692) to clients that ask for it: each connection
    #: then keeps a compressor and a decompressor for its whole life.
    ws_deflate: bool = False
    #: The API process freezes what survives each full garbage collection, so the next walks only
    #: what survived since (``runtime.heap``); once the frozen objects have grown by this percentage
    #: since the last reclaim, it unfreezes and collects them once, freeing what cycles among them
    #: held. 0: the collector as Python ships it (only start-up is frozen).
    heap_reclaim_percent: int = 100
    #: The outbox (models/outbox.py): sent messages gather this long before one BatchWriteItem
    #: removes them; the relay looks every ``outbox_relay_seconds`` for messages older than
    #: ``outbox_age_seconds`` and sends them, waiting up to ``outbox_backoff_seconds`` between
    #: attempts while SQS refuses.
    outbox_remove_seconds: int = 1
    outbox_relay_seconds: int = 5
    outbox_age_seconds: int = 15
    outbox_backoff_seconds: int = 60
    #: How often a write that lost a race to another change of the same account is tried, with
    #: exponential backoff and jitter, before it gives up (``models.retries``): a plan change
    #: racing the counting, deleting, reserving or completing of documents (then ``CONFLICT``),
    #: and workers moving the same quota level.
    plan_race_attempts: int = 10
    quota_level_attempts: int = 5
    #: How long the change feed keeps each change (``changes``, ``changeEvents``): a cursor whose
    #: next change is older answers ``CursorExpiredError``. DynamoDB's TTL removes older rows.
    #: At least ``MIN_CHANGE_RETENTION_DAYS``: what sync clients are promised to catch up in.
    change_retention_days: int = 30
    #: Followers' email digests (``services.follows``): at most one email per follower this often,
    #: listing the changes of the documents it follows since the last; at most 900 (SQS's longest
    #: delay, which schedules it).
    digest_seconds: int = 600
    #: Public share links (``createShareLink``, ``/s/{token}``): how many live links a document may
    #: hold, the longest and the default expiry, the largest ``maxDownloads``, how long the signed
    #: S3 URL a download redirects to is valid, and wrong passwords allowed per client IP and per
    #: link in a moving window before both are refused (429).
    share_links_per_document: int = 20
    share_max_expiry_seconds: int = 90 * 24 * 3600
    share_default_expiry_seconds: int = 7 * 24 * 3600
    share_max_downloads: int = 100_000
    share_download_url_seconds: int = 60
    share_password_attempts_per_ip: int = 5
    share_password_attempts_per_link: int = 50
    #: ``search(scope: SHARED | ALL)``: the newest documents shared with the searcher it searches.
    search_shared_documents: int = 1000
    share_password_window_seconds: int = 300
    #: The secret a link's token is derived from (an HMAC of the link's id), so the owner can read
    #: its URL again while only the token's hash is stored. Empty: a random one kept in the data
    #: folder (``share-secret``); set it, the same in every API process, where there are several.
    share_secret: str = ""

    @property
    def bucket(self) -> str:
        """The bucket for this region's documents: ``docstore-{region}`` unless named."""
        return self.bucket_name or f"docstore-{self.region}"

    @property
    def search_dir(self) -> Path:
        """Where the search index lives: ``search/`` in the data folder."""
        return self.data_dir / "search"

    @property
    def embedded(self) -> bool:
        return self.aws_mode == "embedded"

    def table_name(self, name: str) -> str:
        return f"{self.table_prefix}-{name}"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            return env.get(f"DOCSTORE_{name}", default).strip()

        def integer(name: str, default: int, low: int = 1) -> int:
            raw = get(name, str(default))
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"DOCSTORE_{name} must be a whole number, not {raw!r}") from None
            if value < low:
                raise SettingsError(f"DOCSTORE_{name} must be at least {low}")
            return value

        def flag(name: str, default: bool) -> bool:
            raw = get(name, "true" if default else "false").lower()
            if raw not in {"true", "false", "1", "0", "yes", "no"}:
                raise SettingsError(f"DOCSTORE_{name} must be true or false, not {raw!r}")
            return raw in {"true", "1", "yes"}

        def listing(name: str, default: str) -> tuple[str, ...]:
            return tuple(part.strip().rstrip("/") for part in get(name, default).split(",") if part.strip())

        endpoint = get("AWS_ENDPOINT_URL", "") or None
        mode = get("AWS_MODE", "endpoint" if endpoint else "embedded")
        if mode not in {"embedded", "endpoint", "aws"}:
            raise SettingsError("DOCSTORE_AWS_MODE must be embedded, endpoint or aws")
        if mode == "endpoint" and not endpoint:
            raise SettingsError("DOCSTORE_AWS_MODE=endpoint needs DOCSTORE_AWS_ENDPOINT_URL")
        pubsub_url = get("PUBSUB_URL", "memory://")
        if pubsub_url.partition("://")[0] not in {"memory", "redis", "rediss"}:
            raise SettingsError("DOCSTORE_PUBSUB_URL must be memory://, redis://HOST:PORT or rediss://HOST:PORT")
        region = get("REGION", "us-west-2")
        if not REGION_NAME.fullmatch(region) or len(region) > 40:
            raise SettingsError(f"DOCSTORE_REGION must be a region name like us-west-2, not {region!r}")
        public_url = get("PUBLIC_URL", "").rstrip("/")
        if public_url and not public_url.startswith(("http://", "https://")):
            raise SettingsError("DOCSTORE_PUBLIC_URL must start with http:// or https://")
        log_format = get("LOG_FORMAT", "json").lower()
        if log_format not in {"json", "text"}:
            raise SettingsError("DOCSTORE_LOG_FORMAT must be json or text")
        share_default = integer("SHARE_DEFAULT_EXPIRY_SECONDS", 7 * 24 * 3600)
        if share_default > integer("SHARE_MAX_EXPIRY_SECONDS", 90 * 24 * 3600):
            raise SettingsError("DOCSTORE_SHARE_DEFAULT_EXPIRY_SECONDS must not pass DOCSTORE_SHARE_MAX_EXPIRY_SECONDS")
        share_secret = get("SHARE_SECRET", "")
        if share_secret and len(share_secret) < 32:
            raise SettingsError("DOCSTORE_SHARE_SECRET must have at least 32 characters (say, `openssl rand -hex 32`)")
        embedded_sync = get("EMBEDDED_SYNC", "normal").upper()
        if embedded_sync not in {"NORMAL", "FULL"}:
            raise SettingsError("DOCSTORE_EMBEDDED_SYNC must be normal or full")
        small_px, large_px = integer("THUMBNAIL_SMALL_PX", 256, low=16), integer("THUMBNAIL_LARGE_PX", 1024, low=16)
        if small_px > large_px:
            raise SettingsError("DOCSTORE_THUMBNAIL_SMALL_PX must be at most DOCSTORE_THUMBNAIL_LARGE_PX")
        return cls(
            region=region,
            aws_mode=mode,
            aws_endpoint_url=endpoint,
            table_prefix=get("TABLE_PREFIX", "docstore"),
            bucket_name=get("BUCKET", "") or None,
            data_dir=Path(get("DATA_DIR", "docstore-data")),
            host=get("HOST", "127.0.0.1"),
            port=integer("PORT", 8000, low=0),
            upload_form_seconds=integer("UPLOAD_FORM_SECONDS", 90),
            download_url_seconds=integer("DOWNLOAD_URL_SECONDS", 300),
            session_seconds=integer("SESSION_SECONDS", 7 * 24 * 3600),
            sweep_interval_seconds=float(integer("SWEEP_INTERVAL_SECONDS", 30)),
            sweep_grace_seconds=integer("SWEEP_GRACE_SECONDS", 30, low=0),
            staging_days=integer("STAGING_DAYS", 1),
            multipart_part_bytes=integer("MULTIPART_PART_BYTES", 16 * 1024 * 1024, low=5 * 1024 * 1024),
            multipart_sign_max_parts=integer("MULTIPART_SIGN_MAX_PARTS", 100),
            multipart_part_url_seconds=integer("MULTIPART_PART_URL_SECONDS", 900),
            multipart_upload_seconds=integer("MULTIPART_UPLOAD_SECONDS", 24 * 3600),
            path_max_bytes=integer("PATH_MAX_BYTES", 1024, low=2),
            versions_free=integer("VERSIONS_FREE", 10, low=2),
            versions_premium=integer("VERSIONS_PREMIUM", 100, low=2),
            path_max_depth=integer("PATH_MAX_DEPTH", 32),
            compare_max_files=integer("COMPARE_MAX_FILES", 10_000),
            blocking_threads=integer("BLOCKING_THREADS", 32),
            redirect_origins=listing("REDIRECT_ORIGINS", ""),
            cors_origins=listing("CORS_ORIGINS", "*"),
            max_request_bytes=integer("MAX_REQUEST_BYTES", 4_000_000),
            pubsub_url=pubsub_url,
            run_workers=flag("RUN_WORKERS", mode == "embedded"),
            mail_from=get("MAIL_FROM", "no-reply@docstore.example"),
            extraction_processes=integer("EXTRACTION_PROCESSES", 3),
            extraction_seconds=integer("EXTRACTION_SECONDS", 60),
            extraction_memory_mb=integer("EXTRACTION_MEMORY_MB", 1024, low=64),
            thumbnail_small_px=small_px,
            thumbnail_large_px=large_px,
            thumbnail_seconds=integer("THUMBNAIL_SECONDS", 20),
            queue_wait_seconds=integer("QUEUE_WAIT_SECONDS", 5, low=0),
            worker_concurrency=integer("WORKER_CONCURRENCY", 32),
            queue_visibility_seconds=integer("QUEUE_VISIBILITY_SECONDS", 300),
            public_url=public_url,
            web_dir=Path(get("WEB_DIR", "") or WEB_DIST),
            regions=parse_regions(get("REGIONS", ""), region),
            metrics_enabled=flag("METRICS", True),
            log_format=log_format,
            access_log=flag("ACCESS_LOG", True),
            cloudwatch_namespace=get("CLOUDWATCH_NAMESPACE", "") or None,
            cloudwatch_interval_seconds=float(integer("CLOUDWATCH_INTERVAL_SECONDS", 60)),
            embedded_sync=embedded_sync,
            embedded_threads=integer("EMBEDDED_THREADS", 32),
            embedded_connections=integer("EMBEDDED_CONNECTIONS", 1000),
            embedded_people_burst=integer("EMBEDDED_PEOPLE_BURST", 1),
            malloc_arenas=integer("MALLOC_ARENAS", 2, low=0),
            backup_attempts=integer("BACKUP_ATTEMPTS", 3),
            cache_seconds=integer("CACHE_SECONDS", 30, low=0),
            cache_entries=integer("CACHE_ENTRIES", 10_000, low=0),
            max_query_bytes=integer("MAX_QUERY_BYTES", 32_768),
            max_query_tokens=integer("MAX_QUERY_TOKENS", 2_000),
            max_query_depth=integer("MAX_QUERY_DEPTH", 20),
            max_query_fields=integer("MAX_QUERY_FIELDS", 500),
            max_query_aliases=integer("MAX_QUERY_ALIASES", 30, low=0),
            max_query_directives=integer("MAX_QUERY_DIRECTIVES", 50, low=0),
            max_query_cost=integer("MAX_QUERY_COST", 10_000),
            max_query_repeats=integer("MAX_QUERY_REPEATS", 10),
            max_variable_values=integer("MAX_VARIABLE_VALUES", 1_000),
            max_compares_per_operation=integer("MAX_COMPARES_PER_OPERATION", 1),
            query_cache_bytes=integer("QUERY_CACHE_BYTES", 32_000_000, low=0),
            query_cache_entries=integer("QUERY_CACHE_ENTRIES", 1_000, low=0),
            max_header_bytes=integer("MAX_HEADER_BYTES", 16_384, low=1_024),
            max_headers=integer("MAX_HEADERS", 100, low=10),
            hashing_threads=integer("HASHING_THREADS", 2),
            hashing_queue=integer("HASHING_QUEUE", 16, low=0),
            auth_attempts_per_ip=integer("AUTH_ATTEMPTS_PER_IP", 10),
            auth_attempts_per_email=integer("AUTH_ATTEMPTS_PER_EMAIL", 5),
            auth_window_seconds=integer("AUTH_WINDOW_SECONDS", 60),
            requests_per_account=integer("REQUESTS_PER_ACCOUNT", 1200, low=0),
            requests_window_seconds=integer("REQUESTS_WINDOW_SECONDS", 60),
            redis_connections=integer("REDIS_CONNECTIONS", 32),
            redis_wait_seconds=integer("REDIS_WAIT_SECONDS", 10),
            ws_connections_per_account=integer("WS_CONNECTIONS_PER_ACCOUNT", 10),
            ws_subscriptions_per_connection=integer("WS_SUBSCRIPTIONS_PER_CONNECTION", 20),
            ws_deflate=flag("WS_DEFLATE", False),
            heap_reclaim_percent=integer("HEAP_RECLAIM_PERCENT", 100, low=0),
            outbox_remove_seconds=integer("OUTBOX_REMOVE_SECONDS", 1, low=0),
            outbox_relay_seconds=integer("OUTBOX_RELAY_SECONDS", 5),
            outbox_age_seconds=integer("OUTBOX_AGE_SECONDS", 15),
            outbox_backoff_seconds=integer("OUTBOX_BACKOFF_SECONDS", 60),
            plan_race_attempts=integer("PLAN_RACE_ATTEMPTS", 10),
            quota_level_attempts=integer("QUOTA_LEVEL_ATTEMPTS", 5),
            change_retention_days=integer("CHANGE_RETENTION_DAYS", 30, low=MIN_CHANGE_RETENTION_DAYS),
            digest_seconds=digest_seconds(integer("DIGEST_SECONDS", 600)),
            share_links_per_document=integer("SHARE_LINKS_PER_DOCUMENT", 20),
            share_max_expiry_seconds=integer("SHARE_MAX_EXPIRY_SECONDS", 90 * 24 * 3600),
            share_default_expiry_seconds=integer("SHARE_DEFAULT_EXPIRY_SECONDS", 7 * 24 * 3600),
            share_max_downloads=integer("SHARE_MAX_DOWNLOADS", 100_000),
            share_download_url_seconds=integer("SHARE_DOWNLOAD_URL_SECONDS", 60),
            share_password_attempts_per_ip=integer("SHARE_PASSWORD_ATTEMPTS_PER_IP", 5),
            share_password_attempts_per_link=integer("SHARE_PASSWORD_ATTEMPTS_PER_LINK", 50),
            search_shared_documents=integer("SEARCH_SHARED_DOCUMENTS", 1000),
            share_password_window_seconds=integer("SHARE_PASSWORD_WINDOW_SECONDS", 300),
            share_secret=get("SHARE_SECRET", ""),
        )


def digest_seconds(value: int) -> int:
    """``DOCSTORE_DIGEST_SECONDS``: a digest is scheduled as a delayed SQS message, 900 s at most."""
    if value > 900:
        raise SettingsError("DOCSTORE_DIGEST_SECONDS must be at most 900 (SQS's longest delay)")
    return value


def parse_regions(raw: str, own: str) -> tuple[tuple[str, str], ...]:
    """``DOCSTORE_REGIONS``: ``region=https://api-endpoint`` pairs, comma-separated, naming this region too."""
    pairs: list[tuple[str, str]] = []
    for part in (part.strip() for part in raw.split(",")):
        if not part:
            continue
        region, _, url = (piece.strip() for piece in part.partition("="))
        url = url.rstrip("/")
        if not REGION_NAME.fullmatch(region) or not url.startswith(("http://", "https://")):
            raise SettingsError(f"DOCSTORE_REGIONS: {part!r} is not region=http(s)://endpoint")
        if region in dict(pairs):
            raise SettingsError(f"DOCSTORE_REGIONS names {region} twice")
        pairs.append((region, url))
    if pairs and own not in dict(pairs):
        raise SettingsError(f"DOCSTORE_REGIONS must name this instance's region, {own}")
    return tuple(pairs)
