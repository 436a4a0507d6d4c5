"""The DocStore application: ``create_app``, its lifespan, the GraphQL view, and the ``docstore`` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from access.context import Context, bearer_token
from adapters import local_aws, logs
from adapters.bounded_http import bounded_http
from adapters.graphql_over_http import GraphQLOverHTTP, RequestTooLarge, error_response, negotiate
from adapters.health import Readiness
from adapters.logs import RequestLogging, current_request_id
from adapters.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from adapters.transport_ws import TransportWsHandler
from resolvers.limits import most_json_values
from runtime.heap import HeapPolicy, settle_heap
from runtime.services import Runtime, Services, open_runtime
from schema.regions import HOME_ENDPOINT_HEADER, HOME_REGION_HEADER, WrongRegion
from schema.root import build_schema
from subscriptions import sharing

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from os import PathLike
    from pathlib import Path

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Receive, Scope, Send

    from settings import Settings

log = logging.getLogger("docstore")


@dataclass
class ConnectionContext(Context):
    """A WebSocket connection's context: Strawberry stores the ``connection_init`` payload in it."""

    connection_params: dict[str, object] = field(default_factory=dict)
    #: The account and the connection slot this connection holds (``services.connections``).
    slot: tuple[str, str] | None = None

    async def release_connection(self) -> None:
        """Give the connection's slot back; the handler calls this once the socket is done."""
        if self.slot is not None:
            account_id, slot = self.slot
            self.slot = None
            await self.services.connections.release(account_id, slot)


class WebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's, but closing a socket that DocStore already closed with its own code is a no-op."""

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().close(code, reason)


#: The close code for a token of another region's account (after HTTP's 421 Misdirected Request).
WRONG_REGION_CLOSE = 4421
#: The close code for an account holding its most connections already (after HTTP's 429).
TOO_MANY_CONNECTIONS_CLOSE = 4429


#: The built pages change with every build and name their assets by content: never cached.
PAGE_CACHE = "no-cache"
#: A built asset's name holds a hash of its content, so a name never changes meaning.
ASSET_CACHE = "public, max-age=31536000, immutable"


def not_built(web_dir: Path) -> Response:
    return PlainTextResponse(
        f"The web app is not built ({web_dir} has no pages): run `make serve`, which builds it with "
        "npm, or `make web`. The API answers at /graphql all the same.",
        status_code=503,
    )


def page(web_dir: Path, name: str) -> Response:
    """One of the built HTML pages, never cached (the assets it names are)."""
    path = web_dir / name
    if not path.is_file():
        return not_built(web_dir)
    return FileResponse(path, media_type="text/html", headers={"Cache-Control": PAGE_CACHE})


class WebAssets(StaticFiles):
    """The web app's content-hashed assets, cached for a year; 404 for anything else."""

    def __init__(self, directory: str | PathLike[str]) -> None:
        super().__init__(directory=directory, check_dir=False)

    async def check_config(self) -> None:
        try:
            await super().check_config()
        except RuntimeError:
            raise HTTPException(status_code=404) from None

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = ASSET_CACHE
        return response


class GraphQLView(GraphQLOverHTTP[Context, None]):
    """Strawberry's ASGI view, speaking GraphQL over HTTP and graphql-transport-ws to the letter,
    with DocStore's context: the services and the bearer token. A browser's GET gets GraphiQL,
    built from the project's own assets (web/graphiql.html), not Strawberry's page from a CDN."""

    # Strawberry types these attributes with its generic base; ASGI's own view ignores it the same way.
    websocket_adapter_class = WebSocketAdapter  # type: ignore[assignment]
    graphql_transport_ws_handler_class = TransportWsHandler[Context, None]

    def __init__(self, *args: Any, web_dir: Path, max_json_values: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.web_dir = web_dir
        self.max_json_values = max_json_values

    async def render_graphql_ide(self, request: Request) -> Response:
        return page(self.web_dir, "graphiql.html")

    def encode_json(self, data: object) -> str | bytes:
        """Strawberry's encoding, but a subscription event's ``next`` message takes its payload's
        JSON from ``subscriptions.sharing``: encoded once for every subscriber with that selection."""
        if isinstance(data, dict) and data.get("type") == "next":
            payload = data.get("payload")
            if isinstance(payload, dict) and payload.keys() == {"data"}:
                shared = sharing.SHARING.encoded(payload["data"])
                if shared is not None:
                    return f'{{"id":{json.dumps(data["id"])},"type":"next","payload":{{"data":{shared}}}}}'
        return super().encode_json(data)

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
        """``connection_init`` must carry ``{"authorization": "Bearer <token>"}`` of a live session
        (the key in any letter case: GraphiQL's Headers tab sends ``Authorization``);
        the socket closes with 4403 otherwise, and with 4421 for a token of another region's account
        (reason ``WRONG_REGION <homeRegion> <endpoint>``, at most the 123 bytes a close reason may
        hold). The account found is the connection's for its life. An account holding
        ``DOCSTORE_WS_CONNECTIONS_PER_ACCOUNT`` connections already (to any API process sharing
        the pub/sub Redis) is closed with 4429 and a reason naming that setting."""
        params = context.connection_params if isinstance(context, ConnectionContext) else {}
        authorization = next(
            (value for key, value in params.items() if isinstance(key, str) and key.lower() == "authorization"), None
        )
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
        if isinstance(context, ConnectionContext) and context.slot is None:
            slot = await context.services.connections.acquire(viewer.id)
            if slot is None:
                limit = context.services.connections.limit
                reason = f"At most {limit} connections an account (DOCSTORE_WS_CONNECTIONS_PER_ACCOUNT)."
                if isinstance(context.request, WebSocket):
                    await context.request.close(code=TOO_MANY_CONNECTIONS_CLOSE, reason=reason)
                raise ConnectionRejectionError()
            context.slot = (viewer.id, slot)
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
            media_type = negotiate(dict(scope.get("headers", [])).get(b"accept", b"").decode("latin-1"))
            message = str(RequestTooLarge(self.max_bytes))
            await error_response(413, message, media_type)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise RequestTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)


def server_options(settings: Settings) -> dict[str, Any]:
    """What ``uvicorn.Config`` needs besides the app to serve DocStore: the bounded request heads
    (431 over ``max_header_bytes`` or ``max_headers``) and WebSocket messages bounded as request
    bodies are (websockets closes with 1009 as soon as a frame says it is longer, before reading it)."""
    return {
        "http": bounded_http(settings.max_header_bytes, settings.max_headers),
        "ws_max_size": settings.max_request_bytes,
        "ws_per_message_deflate": settings.ws_deflate,
    }


def startup_line(settings: Settings, runtime: Runtime) -> str:
    """The one line that says where everything is."""
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    if runtime.embedded is not None:
        where = f"data kept in {settings.data_dir.resolve()} (embedded AWS at {runtime.target.endpoint_url})"
    else:
        where = f"AWS at {runtime.target.endpoint_url or 'the real AWS endpoints'}"
    return f"DocStore is running: open {base} (API and GraphiQL at {base}/graphql); {where}"


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
            from workers.runner import start_workers  # only where this process runs the workers

            working = asyncio.create_task(start_workers(runtime))
        reporting = None
        if runtime.reporter is not None:
            reporting = asyncio.create_task(runtime.reporter.run_forever(settings.cloudwatch_interval_seconds))
        settle_heap()
        heap = HeapPolicy(settings.heap_reclaim_percent) if settings.heap_reclaim_percent else None
        if heap is not None:
            heap.install()
        app.state.heap = heap
        log.info("%s", startup_line(settings, runtime))
        try:
            yield
        finally:
            if heap is not None:
                heap.uninstall()
            for task in (working, reporting):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            # What was sent leaves the outbox now; left there, the relay would send it again.
            await runtime.services.outbox.aclose()
            await runtime.pubsub.disconnect()
            await runtime.services.connections.close()
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
        build_schema(settings),
        graphql_ide="graphiql",
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        connection_init_wait_timeout=timedelta(seconds=3),
        max_subscriptions_per_connection=settings.ws_subscriptions_per_connection,
        web_dir=settings.web_dir,
        max_json_values=most_json_values(settings),
    )

    async def web_app(_: Request) -> Response:
        return page(settings.web_dir, "index.html")

    routes: list[BaseRoute] = [
        Route("/", web_app),
        Mount("/assets", app=WebAssets(settings.web_dir / "assets"), name="assets"),
        # Every method reaches the view, so a PUT is refused with a GraphQL response and `Allow`.
        Route("/graphql", view),
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


if __name__ == "__main__":
    from cli import main

    raise SystemExit(main())
