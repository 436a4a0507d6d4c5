"""An app served by a real uvicorn in a child process, so the load generator never shares its GIL."""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import uvicorn

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection
    from types import TracebackType

    from starlette.types import ASGIApp

    from settings import Settings


class ServedApp:
    """``factory(settings)`` served on 127.0.0.1 by one uvicorn process (uvloop and httptools when
    installed, as ``docstore serve`` has them), with the CPU time that process has used."""

    def __init__(self, factory: Callable[[Settings], ASGIApp], settings: Settings) -> None:
        context = multiprocessing.get_context("spawn")
        self._port, port_writer = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_serve, args=(factory, settings, port_writer), name="bench-server", daemon=True
        )
        self.url = ""

    def start(self, timeout: float = 60) -> str:
        """Start the process and wait until ``/healthz`` answers (the lifespan has run); the base URL."""
        self.process.start()
        if not self._port.poll(timeout):
            raise RuntimeError("the benchmark server did not report its port")
        self.url = f"http://127.0.0.1:{self._port.recv()}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self.url
            except httpx.TransportError:
                pass
            if not self.process.is_alive():
                raise RuntimeError(f"the benchmark server exited with code {self.process.exitcode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the benchmark server did not become healthy")
            time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the server process so far (Linux ``/proc``; NaN elsewhere)."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return float("nan")
        # The command name in parentheses may hold spaces; the counters follow its closing one.
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()  # uvicorn shuts down gracefully on SIGTERM, lifespan included
            self.process.join(timeout=15)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)

    def __enter__(self) -> ServedApp:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _serve(factory: Callable[[Settings], ASGIApp], settings: Settings, port_writer: Connection) -> None:
    # Bound before uvicorn starts, so the port is known at once; connections are refused until
    # uvicorn listens, which it does only after the lifespan has opened everything.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port_writer.send(sock.getsockname()[1])
    port_writer.close()
    from server import server_options

    options = server_options(settings)
    config = uvicorn.Config(factory(settings), log_level="warning", access_log=False, lifespan="on", **options)
    uvicorn.Server(config).run(sockets=[sock])
