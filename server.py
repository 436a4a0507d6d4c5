"""The DocStore application: ``create_app``, its lifespan, the GraphQL view, and the ``docstore`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import prometheus_client
import uvicorn
from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from adapters import local_aws, logs
from adapters.aws import AwsTarget
from adapters.blocking import Blocking
from adapters.cache import ReadCache
from adapters.cloudwatch import CloudWatchReporter
from adapters.health import Readiness
from adapters.logs import RequestLogging, current_request_id
from adapters.mail import SesMailer
from adapters.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from adapters.metrics import Metrics
from adapters.pubsub import BroadcastPubSub
from adapters.queue import QUEUES, SqsQueue, ensure_queues
from adapters.s3 import S3ObjectStore
from adapters.search.base import IndexOutdated
from adapters.search.tantivy_index import TantivyIndex
from commands import admin, backup, reindex, restore
from models import tables
from resolvers.context import Context, Services, bearer_token
from schema.regions import HOME_ENDPOINT_HEADER, HOME_REGION_HEADER, WrongRegion
from schema.root import schema
from settings import Settings, SettingsError
from workers.runner import run_workers

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("docstore")


@dataclass
class ConnectionContext(Context):
    """A WebSocket connection's context: Strawberry stores the ``connection_init`` payload in it."""

    connection_params: dict[str, object] = field(default_factory=dict)


class WebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's, but closing a socket that DocStore already closed with its own code is a no-op."""

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().close(code, reason)


#: The close code for a token of another region's account (after HTTP's 421 Misdirected Request).
WRONG_REGION_CLOSE = 4421


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with DocStore's context: the services and the bearer token."""

    websocket_adapter_class = WebSocketAdapter

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        services: Services = request.app.state.services
        kind = Context if isinstance(response, StarletteResponse) else ConnectionContext
        context = kind(
            services=services,
            request=request,
            response=response if isinstance(response, StarletteResponse) else None,
            token=bearer_token(request.headers.get("authorization")),
        )
        # The id RequestLogging gave the request: the one in its log lines and X-Request-Id.
        context.request_id = current_request_id() or logs.request_id_from(request.headers.get("x-request-id"))
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """``connection_init`` must carry ``{"authorization": "Bearer <token>"}`` of a live session;
        the socket closes with 4403 otherwise, and with 4421 for a token of another region's account
        (reason ``WRONG_REGION <homeRegion> <endpoint>``, at most the 123 bytes a close reason may
        hold). The account found is the connection's for its life."""
        params = context.connection_params if isinstance(context, ConnectionContext) else {}
        authorization = params.get("authorization")
        context.token = bearer_token(authorization if isinstance(authorization, str) else None)
        try:
            viewer = await context.viewer()
        except WrongRegion as wrong:
            reason = f"WRONG_REGION {wrong.home_region} {wrong.endpoint}"
            if len(reason.encode()) > 123:
                reason = f"WRONG_REGION {wrong.home_region}"
            if isinstance(context.request, WebSocket):
                await context.request.close(code=WRONG_REGION_CLOSE, reason=reason)
            raise ConnectionRejectionError() from None
        if viewer is None:
            raise ConnectionRejectionError()
        return UnsetType()  # acknowledge with no payload


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 before the GraphQL view reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await PlainTextResponse("Request body too large.", status_code=413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise ValueError("request body too large")
            return message

        await self.app(scope, limited, send)


@dataclass
class Runtime:
    """Everything a process opens: the AWS it talks to and the services built on it."""

    services: Services
    target: AwsTarget
    embedded: local_aws.EmbeddedAws | None
    pubsub: BroadcastPubSub
    search: TantivyIndex
    reporter: CloudWatchReporter | None = None

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def provision(settings: Settings, target: AwsTarget) -> list[str]:
    """Create the tables, bucket and queues that are missing; what was created, for the log."""
    created = tables.create_tables()
    S3ObjectStore(target, settings.bucket).ensure_bucket(settings.cors_origins)
    created.append(f"bucket {settings.bucket}")
    created.extend(f"queue {url.rsplit('/', 1)[-1]}" for url in ensure_queues(target, settings.table_prefix).values())
    if settings.aws_mode != "aws":
        # On real SES verifying a sender is a step of its own: SES emails the address a link.
        SesMailer(target, settings.mail_from).verify_sender()
        created.append(f"mail sender {settings.mail_from}")
    return created


def open_search(settings: Settings) -> TantivyIndex:
    """The search index in the data folder. One an older DocStore built (another schema) is set
    aside for an empty one: search finds nothing until `docstore reindex` fills it."""
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


def start_embedded_aws(settings: Settings, on_exit: Callable[[int], None] | None = None) -> local_aws.EmbeddedAws:
    """The embedded AWS process on the data folder (raises EmbeddedAwsError, with a sentence, if it cannot)."""
    embedded = local_aws.EmbeddedAws(settings.data_dir, synchronous=settings.embedded_sync, on_exit=on_exit)
    embedded.start()
    return embedded


def open_runtime(settings: Settings, *, attach: bool = False, embedded: local_aws.EmbeddedAws | None = None) -> Runtime:
    """Start the embedded AWS when asked for (or use the one given, or, with ``attach``, join the one
    a running server started on the same data folder), point the models at the AWS, build the services."""
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
        if embedded is not None:
            provision(settings, target)
        cache = ReadCache(seconds=settings.cache_seconds, entries=settings.cache_entries)
        pubsub = BroadcastPubSub(settings.pubsub_url, cache=cache)
        search = open_search(settings)
        queues = {name: SqsQueue.named(target, f"{settings.table_prefix}-{name}") for name in QUEUES}
        metrics = Metrics(window=settings.cloudwatch_namespace is not None) if settings.metrics_enabled else None
        if metrics is not None:
            metrics.watch_queues(queues)
        services = Services(
            settings=settings,
            objects=S3ObjectStore(target, settings.bucket),
            blocking=Blocking(settings.blocking_threads),
            passwords=PasswordHasher(),
            publisher=pubsub,
            events=pubsub,
            queues=dict(queues),
            mailer=SesMailer(target, settings.mail_from),
            search=search,
            metrics=metrics,
            cache=cache,
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
        search=search,
        reporter=reporter,
    )


def startup_line(settings: Settings, runtime: Runtime) -> str:
    """The one line that says where everything is."""
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    if runtime.embedded is not None:
        where = f"data kept in {settings.data_dir.resolve()} (embedded AWS at {runtime.target.endpoint_url})"
    else:
        where = f"AWS at {runtime.target.endpoint_url or 'the real AWS endpoints'}"
    return f"DocStore is running: API {base}/graphql, GraphiQL {base}/graphql in a browser; {where}"


def readiness_of(runtime: Runtime) -> Readiness:
    """The ``/readyz`` checks of an API process (only it serves them): blocking, it builds clients."""
    settings = runtime.services.settings
    return Readiness(
        runtime.target,
        table=settings.table_name("accounts"),
        bucket=settings.bucket,
        queue_urls={name: queue.url for name, queue in runtime.services.queues.items()},
        pubsub=runtime.pubsub,
    )


def start_workers(runtime: Runtime) -> Coroutine[Any, Any, None]:
    """The queue consumers, the pipeline, the indexer, the backfill and the sweeper, on this process's services."""
    services = runtime.services
    return run_workers(
        services.settings,
        blocking=services.blocking,
        objects=services.objects,
        publisher=services.publisher,
        mailer=services.mailer,
        queues=services.queues,
        search=runtime.search,
        metrics=services.metrics,
        cache=services.cache,
    )


def create_app(
    settings: Settings, extra_routes: Sequence[Route] = (), embedded: local_aws.EmbeddedAws | None = None
) -> Starlette:
    """The ASGI application. Every resource opens and closes in its lifespan; ``embedded`` is an
    embedded AWS already started (by ``docstore serve``), which the app then owns."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = await asyncio.to_thread(open_runtime, settings, embedded=embedded)
        try:
            await runtime.pubsub.connect()
        except BaseException:
            await asyncio.to_thread(runtime.close)
            raise
        app.state.services = runtime.services
        app.state.runtime = runtime
        app.state.readiness = await asyncio.to_thread(readiness_of, runtime)
        working = None
        if settings.run_workers:
            working = asyncio.create_task(start_workers(runtime))
        reporting = None
        if runtime.reporter is not None:
            reporting = asyncio.create_task(runtime.reporter.run_forever(settings.cloudwatch_interval_seconds))
        log.info("%s", startup_line(settings, runtime))
        try:
            yield
        finally:
            for task in (working, reporting):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await runtime.pubsub.disconnect()
            await asyncio.to_thread(runtime.close)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        readiness: Readiness = request.app.state.readiness
        ready, checks = await readiness.check()
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503)

    async def metrics(request: Request) -> Response:
        services: Services = request.app.state.services
        if services.metrics is None:
            return PlainTextResponse("Metrics are off (DOCSTORE_METRICS=false).", status_code=404)
        body = await services.blocking.run(services.metrics.exposition)
        return StarletteResponse(body, media_type=METRICS_CONTENT_TYPE)

    view = GraphQLView(
        schema,
        graphql_ide="graphiql",
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        connection_init_wait_timeout=timedelta(seconds=3),
    )
    routes: list[BaseRoute] = [
        Route("/graphql", view, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", view),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *extra_routes,
    ]
    middleware = [
        Middleware(RequestLogging, access=settings.access_log),
        Middleware(BodyLimit, max_bytes=settings.max_request_bytes),
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id", HOME_ENDPOINT_HEADER, HOME_REGION_HEADER],
        ),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def _command_line() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docstore", description="DocStore: a document store behind GraphQL.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (and, by default, the embedded AWS)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--data-dir", type=Path, help="the data folder (default ./docstore-data)")
    init = commands.add_parser("init", help="create the tables, bucket and queues where they are missing")
    init.add_argument("--data-dir", type=Path, help="the data folder of a running embedded server")
    worker = commands.add_parser("worker", help="consume the queues (processing, quota, sweeping) without the API")
    worker.add_argument("--data-dir", type=Path, help="the data folder of a running embedded server")
    worker.add_argument("--metrics-port", type=int, help="serve this worker's /metrics on 127.0.0.1:PORT")
    reindex = commands.add_parser(
        "reindex", help="rebuild the search index from the records and extracted texts (search keeps answering)"
    )
    reindex.add_argument("--data-dir", type=Path, help="the data folder of a running embedded server")
    saving = commands.add_parser("backup", help="export accounts, documents, files and counters into a new folder")
    saving.add_argument("dir", type=Path, help="the folder to create (it must not exist, or be empty)")
    saving.add_argument("--data-dir", type=Path, help="the embedded data folder (its server may be running)")
    loading = commands.add_parser("restore", help="load a backup into an empty deployment, then rebuild search")
    loading.add_argument("dir", type=Path, help="the folder `docstore backup` wrote")
    loading.add_argument("--data-dir", type=Path, help="the embedded data folder (its server may be running)")
    loading.add_argument("--force", action="store_true", help="restore even into a deployment holding data")
    admin = commands.add_parser("admin", help="grant or revoke the ADMIN role (the dashboard)")
    actions = admin.add_subparsers(dest="action", required=True)
    for action in ("grant", "revoke"):
        change = actions.add_parser(action, help=f"{action} ADMIN for the account with this email")
        change.add_argument("email")
        change.add_argument("--data-dir", type=Path, help="the data folder of a running embedded server")
    stats = commands.add_parser("stats", help="print the dashboard's figures from the counters")
    stats.add_argument("--recount", action="store_true", help="recount from the tables and repair drift")
    stats.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
    stats.add_argument("--data-dir", type=Path, help="the data folder of a running embedded server")
    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", type=Path, help="write it to this file instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _command_line().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"docstore: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format)
    if getattr(args, "data_dir", None):
        settings = settings.with_overrides(data_dir=args.data_dir)
    if args.command == "export-schema":
        sdl = str(schema) + "\n"
        if args.output:
            args.output.write_text(sdl)
        else:
            sys.stdout.write(sdl)
        return 0
    if args.command == "init":
        return _init(settings)
    if args.command == "worker":
        return _worker(settings, args.metrics_port)
    if args.command == "reindex":
        return _reindex(settings)
    if args.command == "backup":
        return backup.run(settings, args.dir, lambda: _reached(settings, provisioned=False))
    if args.command == "restore":
        return restore.run(settings, args.dir, lambda: _reached(settings, provisioned=True), force=args.force)
    if args.command in ("admin", "stats"):
        return _administer(settings, args)
    settings = settings.with_overrides(
        host=args.host or settings.host, port=args.port if args.port is not None else settings.port
    )
    return _serve(settings)


def _serve(settings: Settings) -> int:
    """``docstore serve``: the embedded AWS first (a busy or unwritable data folder is a sentence and
    exit 1, before anything listens), then the API; if the AWS dies, the API stops too (exit 1)."""
    server: uvicorn.Server | None = None

    def aws_ended(_: int) -> None:
        if server is not None:
            server.should_exit = True

    embedded = None
    if settings.embedded:
        try:
            embedded = start_embedded_aws(settings, on_exit=aws_ended)
        except local_aws.EmbeddedAwsError as error:
            print(f"docstore: {error}", file=sys.stderr)
            return 1
    try:
        # log_config None: uvicorn's records go through our handler; the access log is RequestLogging's.
        config = uvicorn.Config(
            create_app(settings, embedded=embedded),
            host=settings.host,
            port=settings.port,
            log_level="info",
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        if embedded is not None and embedded.crashed:
            return 1
        with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl-C is a clean stop
            server.run()
    finally:
        if embedded is not None:
            crashed = embedded.crashed
            embedded.stop()
    return 1 if embedded is not None and crashed else 0


def _init(settings: Settings) -> int:
    endpoint = settings.aws_endpoint_url
    if settings.embedded:
        endpoint = local_aws.running_endpoint(settings.data_dir)
        if endpoint is None:
            print(
                "docstore: no embedded AWS is running on this data folder; `docstore serve` creates "
                "everything itself. Set DOCSTORE_AWS_MODE=aws to initialise real AWS.",
                file=sys.stderr,
            )
            return 1
    target = AwsTarget.from_settings(settings, endpoint)
    tables.configure(target, settings.table_prefix)
    for name in provision(settings, target):
        print(f"ready: {name}")
    return 0


def _attached(settings: Settings) -> Runtime | None:
    """The runtime of a command that joins a running server's AWS; None (said on stderr) if none runs."""
    try:
        return open_runtime(settings, attach=True)
    except NoEmbeddedAws as error:
        print(f"docstore: {error}", file=sys.stderr)
        return None


def _administer(settings: Settings, args: argparse.Namespace) -> int:
    """``docstore admin grant|revoke EMAIL`` and ``docstore stats [--recount]``, against the AWS of
    a running embedded server (through its data folder) or the configured one."""
    runtime = _attached(settings)
    if runtime is None:
        return 1
    try:
        if args.command == "admin":
            return admin.change_role(runtime.services, args.action, args.email)
        return admin.stats(runtime.services, recount=args.recount, as_json=args.json)
    finally:
        runtime.close()


def _worker(settings: Settings, metrics_port: int | None = None) -> int:
    if metrics_port is not None and not settings.metrics_enabled:
        print("docstore: --metrics-port needs metrics on (DOCSTORE_METRICS=true)", file=sys.stderr)
        return 2
    runtime = _attached(settings)
    if runtime is None:
        return 1
    if metrics_port is not None and runtime.services.metrics is not None:
        prometheus_client.start_http_server(metrics_port, addr="127.0.0.1", registry=runtime.services.metrics.registry)
        log.info("docstore worker metrics at http://127.0.0.1:%d/metrics", metrics_port)
    if settings.pubsub_url.startswith("memory://"):
        log.warning(
            "DOCSTORE_PUBSUB_URL is memory://: this worker's events reach no subscriber in another "
            "process; use redis:// to share events with API processes"
        )

    async def work() -> None:
        await runtime.pubsub.connect()
        reporting = None
        if runtime.reporter is not None:
            reporting = asyncio.create_task(runtime.reporter.run_forever(settings.cloudwatch_interval_seconds))
        try:
            await start_workers(runtime)
        finally:
            if reporting is not None:
                reporting.cancel()
            await runtime.pubsub.disconnect()

    log.info("docstore worker consuming %s", ", ".join(runtime.services.queues))
    try:
        asyncio.run(work())
    except KeyboardInterrupt:
        log.info("docstore worker stopped")
    finally:
        runtime.close()
    return 0


def _reindex(settings: Settings) -> int:
    runtime = _attached(settings)
    if runtime is None:
        return 1
    try:
        return reindex.run(settings, runtime.services)
    finally:
        runtime.close()


@contextlib.contextmanager
def _reached(settings: Settings, *, provisioned: bool) -> Iterator[Services | None]:
    """The services of ``backup`` and ``restore``: those of a running server's embedded AWS, of
    one started on the data folder for the command when no server runs (stopped at the end), or
    of the configured AWS. ``provisioned``: create the tables, bucket and queues that are missing."""
    if settings.embedded and local_aws.running_endpoint(settings.data_dir) is None:
        runtime: Runtime | None = open_runtime(settings)  # starts and provisions
    else:
        runtime = _attached(settings)
        if runtime is not None and provisioned:
            try:
                provision(settings, runtime.target)
            except BaseException:
                runtime.close()
                raise
    try:
        yield None if runtime is None else runtime.services
    finally:
        if runtime is not None:
            runtime.close()


if __name__ == "__main__":
    raise SystemExit(main())
