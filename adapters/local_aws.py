"""The embedded AWS: moto's server on 127.0.0.1, started in-process, found again by other commands."""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING

from moto.server import ThreadedMotoServer

if TYPE_CHECKING:
    from pathlib import Path

ENDPOINT_FILE = "aws-endpoint.json"
log = logging.getLogger(__name__)


class EmbeddedAws:
    """moto's server in a background thread of this process.

    Its state lives in memory: it is gone when the process stops. While it runs, the data folder
    holds ``aws-endpoint.json`` naming its endpoint, so ``docstore`` commands started beside the
    server (``init``, ``worker``, ...) reach the same AWS.
    """

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.data_dir = data_dir
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.endpoint_url = ""

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
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
        self._server.stop()


def running_endpoint(data_dir: Path) -> str | None:
    """The endpoint of an embedded AWS started by another process on this data folder, if any."""
    try:
        data = json.loads((data_dir / ENDPOINT_FILE).read_text())
    except (OSError, ValueError):
        return None
    endpoint = data.get("endpoint_url")
    return endpoint if isinstance(endpoint, str) else None
