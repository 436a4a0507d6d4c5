"""The embedded AWS: moto's server on 127.0.0.1, started in-process, found again by other commands."""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from werkzeug.serving import BaseWSGIServer

ENDPOINT_FILE = "aws-endpoint.json"
log = logging.getLogger(__name__)


class AtomicDynamoDB:
    """WSGI middleware: one DynamoDB request at a time.

    DynamoDB applies each conditional write and each transaction atomically; moto's backend has
    no locks, so two threads of its server can both pass a condition before either writes (seen
    as 6 of 20 concurrent 1 GiB reservations passing a 5 GiB quota). Serialising DynamoDB
    requests restores the guarantee the models rely on; S3 and SQS stay concurrent.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            # Drain the response inside the lock: the write is done only once it is produced.
            return list(self.app(environ, start_response))


class EmbeddedAws:
    """moto's server in a background thread of this process.

    Its state lives in memory: it is gone when the process stops. While it runs, the data folder
    holds ``aws-endpoint.json`` naming its endpoint, so ``docstore`` commands started beside the
    server (``init``, ``worker``, ...) reach the same AWS.
    """

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint_url = ""

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app = AtomicDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host!s}:{port}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        marker = self.data_dir / ENDPOINT_FILE
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"endpoint_url": self.endpoint_url, "pid": os.getpid()}))
        tmp.replace(marker)
        log.info("embedded AWS listening on %s", self.endpoint_url)
        return self.endpoint_url

    def stop(self) -> None:
        marker = self.data_dir / ENDPOINT_FILE
        try:
            if json.loads(marker.read_text()).get("pid") == os.getpid():
                marker.unlink()
        except (OSError, ValueError):
            pass
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


def running_endpoint(data_dir: Path) -> str | None:
    """The endpoint of an embedded AWS started by another process on this data folder, if any."""
    try:
        data = json.loads((data_dir / ENDPOINT_FILE).read_text())
    except (OSError, ValueError):
        return None
    endpoint = data.get("endpoint_url")
    return endpoint if isinstance(endpoint, str) else None
