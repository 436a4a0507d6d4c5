"""DynamoDB and SQS requests handed straight to moto 5.2.5's response handlers, not through Flask.

moto's server is a Flask app per service behind a dispatcher (``moto.moto_server.werkzeug_app``).
Around each DynamoDB or SQS request, Flask's machinery cost 0.15 to 0.3 ms of CPU: a request
context, URL routing, Flask's request class (whose form parsing builds a new class every request
in debug mode, and moto's app runs in debug mode), the after-request hooks, flask-cors. A
``GetItem`` called in-process took 0.53 ms through the Flask app and 0.36 ms without it
(docs/BENCHMARKS.md, "What one request costs the embedded AWS", the hand note).

:class:`Direct` answers a request that moto's Flask app would route to the handler of its path
``/`` by calling that same handler (the callback Flask's view wraps, found in the app's own URL map)
with moto's request class built on the WSGI environ, exactly as ``convert_to_flask_response`` does,
and wraps the result in the same Flask ``Response`` with the header flask-cors adds to it. The
answer is the same, byte for byte and header for header (tests/adapters/test_moto_direct.py
compares both ways, request ids and SQS's made-up ids aside); what is skipped is Flask's work
around it. Only POSTs to ``/`` of the services in :data:`SERVICES` without an ``Origin`` header
(the requests DocStore makes: JSON protocol, a ``X-Amz-Target``) take this way; any other
request, and a request whose body moto's request class refuses (a werkzeug ``HTTPException``),
goes through Flask as before.

Like adapters/moto_speedups.py, this is written against one moto release and refuses any other
(pyproject.toml pins ``moto[server]==5.2.5``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import moto
from botocore.exceptions import ClientError
from flask import Response
from moto import settings as moto_settings
from moto.core.request import Request
from moto.moto_api import recorder
from werkzeug.exceptions import HTTPException

from adapters.moto_patches import MOTO_VERSION, UnsupportedMoto

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

#: The services whose requests may take the direct way (moto's Flask app's ``service``).
SERVICES = frozenset({"dynamodb", "sqs"})


class DirectRequest(Request):
    """moto's request as its Flask app's ``BackendRequest`` is, without Flask's request class: a
    request from a WSGI server (so moto leaves the ``Date`` header to the server)."""

    from_wsgi_server = True


class Direct:
    """WSGI app: moto's dispatcher (``dispatcher``), with the requests of :data:`SERVICES` to ``/``
    answered by their handler directly."""

    def __init__(self, dispatcher: Any) -> None:
        installed_version = getattr(moto, "__version__", "unknown")
        if installed_version != MOTO_VERSION:
            raise UnsupportedMoto(
                f"adapters/moto_direct.py is written for moto {MOTO_VERSION}, but moto {installed_version} "
                f"is installed: pin moto[server]=={MOTO_VERSION} (pyproject.toml) or port it."
            )
        self.dispatcher = dispatcher
        self._callbacks: dict[int, Callable[..., Any] | None] = {}
        self._lock = threading.Lock()
        #: What flask-cors adds to every answer to a request without an ``Origin`` header.
        self._cors = not moto_settings.DISABLE_GLOBAL_CORS
        #: Requests answered directly (for tests; not locked, so a count under concurrent requests may fall short).
        self.answered = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        callback = self._callback(environ)
        if callback is None:
            return self.dispatcher(environ, start_response)  # type: ignore[no-any-return]
        request = DirectRequest(environ)
        # What moto's convert_to_flask_response does around the handler, in its order.
        try:
            recorder._record_request(request)
            try:
                result = callback(request, request.raw_url, dict(request.headers))
            except ClientError as error:
                result = 400, {}, error.response["Error"]["Message"]
        except HTTPException:
            # Flask answers these (a body werkzeug refuses): the body is still there to read again.
            environ["wsgi.input"].seek(0)
            return self.dispatcher(environ, start_response)  # type: ignore[no-any-return]
        if len(result) == 3:
            status, headers, content = result
        else:
            status, headers, content = 200, {}, result
        response = Response(response=content, status=status, headers=headers)
        if self._cors and not response.headers.get("Access-Control-Allow-Origin"):
            response.headers.add("Access-Control-Allow-Origin", "*")
        self.answered += 1
        return response(environ, start_response)

    def _callback(self, environ: dict[str, Any]) -> Callable[..., Any] | None:
        """The handler moto's Flask app would call for this request, when it may be called directly."""
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO") != "/"
            or "HTTP_ORIGIN" in environ
            or not hasattr(environ.get("wsgi.input"), "seek")
        ):
            return None
        app = self.dispatcher.get_application(environ)
        key = id(app)
        try:
            return self._callbacks[key]
        except KeyError:
            pass
        found: Callable[..., Any] | None = None
        if getattr(app, "service", None) in SERVICES:
            endpoint, _ = app.url_map.bind("localhost").match("/", method="POST")
            found = getattr(app.view_functions[endpoint], "callback", None)
        with self._lock:
            self._callbacks[key] = found  # an app lives as long as the dispatcher (held by it)
        return found
