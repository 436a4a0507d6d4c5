"""The embedded AWS, seen from DocStore: moto's server in a process of its own, state in the data folder.

:class:`EmbeddedAws` starts ``python -m adapters.aws_process`` (see there), waits for its endpoint,
and watches it: if it dies while DocStore runs, that is logged and ``on_exit`` is called (``docstore
serve`` then stops as a whole, so there is never an API without its AWS). Other ``docstore``
commands find a running one through ``aws-endpoint.json`` in the data folder (:func:`running_endpoint`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from adapters import malloc

if TYPE_CHECKING:
    from collections.abc import Callable

ENDPOINT_FILE = "aws-endpoint.json"
log = logging.getLogger(__name__)
#: The project's root, so that the child imports this checkout's ``adapters`` whatever its cwd.
ROOT = Path(__file__).resolve().parents[1]


class EmbeddedAwsError(RuntimeError):
    """The embedded AWS could not start; the message says why, for a person."""

    def __init__(self, message: str, kind: str = "start") -> None:
        super().__init__(message)
        self.kind = kind


class EmbeddedAws:
    """moto's server in a child process, keeping its state in ``data_dir``.

    ``start()`` returns its endpoint once it has loaded what the folder holds; ``stop()`` ends it
    cleanly (everything acknowledged is already on disk). The child also ends when this process
    does, however it ends: it watches its stdin, which only this process holds open.
    """

    #: The module the child runs (a benchmark runs it under tracemalloc: bench/moto_memory.py).
    module = "adapters.aws_process"

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        synchronous: str = "NORMAL",
        start_seconds: float = 120.0,
        on_exit: Callable[[int], None] | None = None,
        moto_as_released: bool = False,
        threads: int = 32,
        connections: int = 1000,
        people_burst: int = 1,
        malloc_arenas: int = 0,
    ) -> None:
        self.threads = threads
        #: People's DynamoDB requests served ahead of waiting background ones (``adapters.priority``).
        self.people_burst = people_burst
        #: The most malloc arenas the child makes (``adapters.malloc``); 0: glibc's default.
        self.malloc_arenas = malloc_arenas
        self.connections = connections
        self.data_dir = data_dir
        #: Without adapters/moto_speedups.py, moto_slim.py and moto_direct.py (benchmarks compare them).
        self.moto_as_released = moto_as_released
        self.host = host
        self.port = port
        self.synchronous = synchronous
        self.start_seconds = start_seconds
        self.on_exit = on_exit
        self.endpoint_url = ""
        self.ready: dict[str, Any] = {}
        self.exit_code: int | None = None
        #: The child ended while nobody was stopping it.
        self.crashed = False
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> str:
        """:meth:`launch`, then :meth:`wait`: the endpoint."""
        self.launch()
        return self.wait()

    def launch(self) -> None:
        """Start the child and return at once: it loads the data folder while the caller does its
        own start-up (``docstore serve`` imports the API meanwhile); :meth:`wait` for it after."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise EmbeddedAwsError(
                f"cannot create the data folder {self.data_dir}: {os.strerror(error.errno or 0)}", "folder"
            ) from None
        env = malloc.child_environment(self.malloc_arenas, os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        command = [
            sys.executable,
            "-m",
            self.module,
            "--data-dir",
            str(self.data_dir),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--synchronous",
            self.synchronous,
            "--threads",
            str(self.threads),
            "--connections",
            str(self.connections),
            "--people-burst",
            str(self.people_burst),
            *(["--moto-as-released"] if self.moto_as_released else []),
        ]
        # A session of its own: a Ctrl-C at the terminal reaches `docstore serve`, which then stops
        # this process in order, after the API and the workers are done with it.
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True
        )

    def wait(self) -> str:
        """The endpoint once the child has loaded the folder; EmbeddedAwsError (a sentence) if it cannot."""
        assert self._process is not None, "launch() first"
        line = self._first_line(self._process.stdout)
        try:
            answer = json.loads(line) if line else {}
        except ValueError:
            answer = {}
        if "endpoint_url" not in answer:
            code = self._process.wait(timeout=10) if line else self._end()
            message = answer.get("error") or f"the embedded AWS stopped while starting (exit code {code})"
            self._process = None
            raise EmbeddedAwsError(message, answer.get("kind", "start"))
        self.ready = answer
        self.endpoint_url = answer["endpoint_url"]
        self._watcher = threading.Thread(target=self._watch, name="embedded-aws-watch", daemon=True)
        self._watcher.start()
        log.info("embedded AWS (pid %s) listening on %s", self._process.pid, self.endpoint_url)
        return self.endpoint_url

    def _first_line(self, stream: IO[bytes] | None) -> bytes:
        """The child's ready line, or b"" if it says nothing within ``start_seconds``."""
        assert stream is not None
        box: list[bytes] = []
        reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
        reader.start()
        reader.join(self.start_seconds)
        return box[0] if box else b""

    def _end(self) -> int:
        assert self._process is not None
        self._process.kill()
        return self._process.wait()

    def _watch(self) -> None:
        process = self._process
        assert process is not None
        code = process.wait()
        self.exit_code = code
        if not self._stopping:
            self.crashed = True
            log.error(
                "the embedded AWS (pid %s) stopped unexpectedly with exit code %s; DocStore stops with it "
                "(its data is in %s, start it again with `docstore serve`)",
                process.pid,
                code,
                self.data_dir,
            )
            if self.on_exit is not None:
                self.on_exit(code)

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        self._stopping = True
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
        self._process = None


def running_endpoint(data_dir: Path) -> str | None:
    """The endpoint of an embedded AWS started by another process on this data folder, if any."""
    try:
        data = json.loads((data_dir / ENDPOINT_FILE).read_text())
    except (OSError, ValueError):
        return None
    endpoint = data.get("endpoint_url")
    pid = data.get("pid")
    if not isinstance(endpoint, str) or not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # left behind by a process that was killed
    except PermissionError:
        pass
    return endpoint
