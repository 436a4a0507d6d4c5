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

import uvicorn
from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from adapters import local_aws
from adapters.aws import AwsTarget
from adapters.blocking import Blocking
from adapters.mail import SesMailer
from adapters.pubsub import BroadcastPubSub
from adapters.queue import QUEUES, SqsQueue, ensure_queues
from adapters.s3 import S3ObjectStore
from models import tables
from resolvers.context import Context, Services, bearer_token
from schema.root import schema
from settings import Settings, SettingsError
from workers.runner import run_workers

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine, Sequence

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Receive, Scope, Send
    from starlette.websockets import WebSocket

log = logging.getLogger("docstore")


@dataclass
class ConnectionContext(Context):
    """A WebSocket connection's context: Strawberry stores the ``connection_init`` payload in it."""

    connection_params: dict[str, object] = field(default_factory=dict)


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with DocStore's context: the services and the bearer token."""

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        services: Services = request.app.state.services
        kind = Context if isinstance(response, StarletteResponse) else ConnectionContext
        context = kind(
            services=services,
            request=request,
            response=response if isinstance(response, StarletteResponse) else None,
            token=bearer_token(request.headers.get("authorization")),
        )
        incoming = request.headers.get("x-request-id", "")
        if incoming.isascii() and incoming.replace("-", "").isalnum() and len(incoming) <= 64:
            context.request_id = incoming
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """``connection_init`` must carry ``{"authorization": "Bearer <token>"}`` of a live session;
        the socket closes with 4403 otherwise. The account found is the connection's for its life."""
        params = context.connection_params if isinstance(context, ConnectionContext) else {}
        authorization = params.get("authorization")
        context.token = bearer_token(authorization if isinstance(authorization, str) else None)
        if await context.viewer() is None:
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


class NoEmbeddedAws(RuntimeError):
    """A command that joins a running embedded AWS found none on its data folder."""


def open_runtime(settings: Settings, *, attach: bool = False) -> Runtime:
    """Start the embedded AWS when asked for (or, with ``attach``, join the one a running server
    started on the same data folder), point the models at the AWS, build the services."""
    embedded = None
    endpoint = settings.aws_endpoint_url
    if settings.embedded and attach:
        endpoint = local_aws.running_endpoint(settings.data_dir)
        if endpoint is None:
            raise NoEmbeddedAws(
                f"no embedded AWS is running on the data folder {settings.data_dir}; start `docstore serve` "
                "first (it creates everything itself), or set DOCSTORE_AWS_MODE for another AWS"
            )
    elif settings.embedded:
        embedded = local_aws.EmbeddedAws(settings.data_dir)
        endpoint = embedded.start()
    try:
        target = AwsTarget.from_settings(settings, endpoint)
        tables.configure(target, settings.table_prefix)
        if embedded is not None:
            provision(settings, target)
        pubsub = BroadcastPubSub(settings.pubsub_url)
        services = Services(
            settings=settings,
            objects=S3ObjectStore(target, settings.bucket),
            blocking=Blocking(settings.blocking_threads),
            passwords=PasswordHasher(),
            publisher=pubsub,
            events=pubsub,
            queues={name: SqsQueue.named(target, f"{settings.table_prefix}-{name}") for name in QUEUES},
            mailer=SesMailer(target, settings.mail_from),
        )
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise
    return Runtime(services=services, target=target, embedded=embedded, pubsub=pubsub)


def start_workers(services: Services) -> Coroutine[Any, Any, None]:
    """The queue consumers, the pipeline and the sweeper, on this process's services."""
    return run_workers(
        services.settings,
        blocking=services.blocking,
        objects=services.objects,
        publisher=services.publisher,
        mailer=services.mailer,
        queues=services.queues,
    )


def create_app(settings: Settings, extra_routes: Sequence[Route] = ()) -> Starlette:
    """The ASGI application. Every resource opens and closes in its lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = await asyncio.to_thread(open_runtime, settings)
        try:
            await runtime.pubsub.connect()
        except BaseException:
            await asyncio.to_thread(runtime.close)
            raise
        app.state.services = runtime.services
        app.state.runtime = runtime
        working = None
        if settings.run_workers:
            working = asyncio.create_task(start_workers(runtime.services))
        log.info("DocStore serving GraphQL at /graphql (AWS: %s)", runtime.target.endpoint_url or "real AWS")
        try:
            yield
        finally:
            if working is not None:
                working.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await working
            await runtime.pubsub.disconnect()
            await asyncio.to_thread(runtime.close)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

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
        *extra_routes,
    ]
    middleware = [
        Middleware(BodyLimit, max_bytes=settings.max_request_bytes),
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type"],
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
    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", type=Path, help="write it to this file instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _command_line().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"docstore: {error}", file=sys.stderr)
        return 2
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
        return _worker(settings)
    settings = settings.with_overrides(
        host=args.host or settings.host, port=args.port if args.port is not None else settings.port
    )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info", lifespan="on")
    return 0


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


def _worker(settings: Settings) -> int:
    try:
        runtime = open_runtime(settings, attach=True)
    except NoEmbeddedAws as error:
        print(f"docstore: {error}", file=sys.stderr)
        return 1
    if settings.pubsub_url.startswith("memory://"):
        log.warning(
            "DOCSTORE_PUBSUB_URL is memory://: this worker's events reach no subscriber in another "
            "process; use redis:// to share events with API processes"
        )

    async def work() -> None:
        await runtime.pubsub.connect()
        try:
            await start_workers(runtime.services)
        finally:
            await runtime.pubsub.disconnect()

    log.info("docstore worker consuming %s", ", ".join(runtime.services.queues))
    try:
        asyncio.run(work())
    except KeyboardInterrupt:
        log.info("docstore worker stopped")
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
