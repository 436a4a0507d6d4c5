"""Logging: one JSON object a line (or plain text), each record with the id of the request it
belongs to, secrets scrubbed; and the ASGI middleware that gives every request its id and writes
one access line for it.

The request id comes from a sane ``X-Request-Id`` header (up to 64 letters, digits and dashes) or
is made up; the response carries it back in ``X-Request-Id``, the GraphQL context holds the same id
(``current_request_id``), and every record logged while the request is handled carries it as
``request_id``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from adapters.redaction import RedactFilter

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("docstore.access")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


@dataclass
class RequestLog:
    """What the log knows of the request being handled: its id and, once parsed, its operation."""

    id: str
    operation: str | None = None


_current: contextvars.ContextVar[RequestLog | None] = contextvars.ContextVar("docstore_request", default=None)


def current_request() -> RequestLog | None:
    """The request this code runs for (None outside of one)."""
    return _current.get()


def current_request_id() -> str | None:
    request = _current.get()
    return None if request is None else request.id


def request_id_from(header: str | None) -> str:
    """The client's ``X-Request-Id`` if it is sane, else a new one."""
    if header and len(header) <= 64 and header.isascii() and header.replace("-", "").isalnum():
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to a record logged inside a request (text logs show ``-`` outside)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _current.get()
        if request is not None and not hasattr(record, "request_id"):
            record.request_id = request.id
        return True


def handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """A stream handler (stderr by default) writing ``json`` or ``text`` records, request ids added
    and secrets scrubbed."""
    result = logging.StreamHandler(stream or sys.stderr)
    formatter: logging.Formatter
    if log_format == "json":
        formatter = JsonFormatter(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )
    else:
        formatter = logging.Formatter(TEXT_FORMAT, defaults={"request_id": "-"})
    result.setFormatter(formatter)
    result.addFilter(RequestIdFilter())
    result.addFilter(RedactFilter())
    return result


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Route every logger of the process through one :func:`handler` on the root logger."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(log_format))
    root.setLevel(level)
    # botocore says at INFO where it found credentials, once per client: noise in every command.
    logging.getLogger("botocore.credentials").setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)


#: A share link's page: its path is its token, a secret that never goes in a log line.
_SHARE_PATH = re.compile(r"^/s/[^/]*")


def logged_path(path: str) -> str:
    """``path`` as a log line shows it: a share link's token replaced."""
    return _SHARE_PATH.sub("/s/[REDACTED]", path)


class RequestLogging:
    """ASGI middleware: a request id for every HTTP request and WebSocket connection, echoed in
    ``X-Request-Id``, and, with ``access``, one log line per request (method, path without its
    query string, status, duration, GraphQL operation) and one per WebSocket open and close."""

    def __init__(self, app: ASGIApp, access: bool = True) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        header = next((value for name, value in scope.get("headers", []) if name == b"x-request-id"), b"")
        request = RequestLog(request_id_from(header.decode("latin-1")))
        echoed = (b"x-request-id", request.id.encode())
        token = _current.set(request)
        started = time.perf_counter()
        outcome: dict[str, Any] = {"status": 500 if scope["type"] == "http" else None}

        async def sending(message: Message) -> None:
            kind = message["type"]
            if kind in {"http.response.start", "websocket.accept"}:
                message["headers"] = [*message.get("headers", []), echoed]
                if kind == "http.response.start":
                    outcome["status"] = message["status"]
                elif self.access:
                    access_log.info("websocket open %s", logged_path(scope["path"]), extra=_fields(scope, request))
            elif kind == "websocket.close":
                outcome["status"] = message.get("code", 1000)
            await send(message)

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                outcome["status"] = message.get("code", 1000)
            return message

        try:
            await self.app(scope, receiving if scope["type"] == "websocket" else receive, sending)
        finally:
            if self.access:
                self._log(scope, request, outcome["status"], started)
            _current.reset(token)

    @staticmethod
    def _log(scope: Scope, request: RequestLog, status: int | None, started: float) -> None:
        milliseconds = round((time.perf_counter() - started) * 1000, 2)
        fields = _fields(scope, request) | {"status": status, "duration_ms": milliseconds}
        if scope["type"] == "http":
            operation = f" {request.operation}" if request.operation else ""
            access_log.info(
                "%s %s %s %.1f ms%s",
                scope["method"],
                logged_path(scope["path"]),
                status,
                milliseconds,
                operation,
                extra=fields,
            )
        else:
            access_log.info(
                "websocket closed %s %s after %.0f ms", logged_path(scope["path"]), status, milliseconds, extra=fields
            )


def _fields(scope: Scope, request: RequestLog) -> dict[str, Any]:
    return {
        "method": scope.get("method", "WEBSOCKET"),
        "path": logged_path(scope["path"]),
        "operation": request.operation,
    }
