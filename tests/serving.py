"""`docstore` run as a user runs it, in subprocesses: the one harness of every test that starts a
real server (or worker) process.

``start`` runs a docstore command (``serve``, ``worker``, or the same command line through a
wrapper module such as ``tests.refusing_sqs``) with the settings given as environment variables,
waits until it answers its health endpoint, and writes what it prints to a log file. ``Served``
stops it as Ctrl-C does, ends it, or kills it with SIGKILL; every process still running is listed
by ``running()``, and tests/conftest.py adds the end of each one's log to the report of a test
that fails, so a failure shows what the server said.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from tests import plain_http

ROOT = Path(__file__).resolve().parents[1]
#: Where a process's output goes when its caller names no file (one folder per test session).
LOGS = Path(tempfile.mkdtemp(prefix="docstore-test-logs-"))
#: How much of a log a failing test's report shows.
LOG_TAIL_LINES = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DOCSTORE_", "AWS_"))}
    # Every test signs up from 127.0.0.1: no sign-in rate limits unless a test sets them.
    env.update(DOCSTORE_AUTH_ATTEMPTS_PER_IP="1000000", DOCSTORE_AUTH_ATTEMPTS_PER_EMAIL="1000000")
    env.update(extra)
    return env


def on_aws(aws_endpoint: str, prefix: str, *, region: str = "us-west-2", **extra: str) -> dict[str, str]:
    """The environment of a docstore process on an AWS endpoint (the session's embedded AWS): its
    tables, bucket and queues named with ``prefix``, no sweeper pass for an hour, and ``extra``."""
    return clean_env(
        DOCSTORE_AWS_MODE="endpoint",
        DOCSTORE_AWS_ENDPOINT_URL=aws_endpoint,
        DOCSTORE_TABLE_PREFIX=prefix,
        DOCSTORE_SWEEP_INTERVAL_SECONDS="3600",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=region,
        **extra,
    )


def descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(child) for child in children.read_text().split()] if children.exists() else []
    return found + [grandchild for child in found for grandchild in descendants(child)]


def docstore(*args: str, timeout: float = 60, env: dict[str, str] | None = None, **extra: str):
    """Run the docstore command to its end, as a user would from the project folder: ``env`` as
    it is, or a clean environment with ``extra`` settings."""
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        env=env if env is not None else clean_env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Served:
    """A docstore process ``start`` started: its URL ("" for one that serves no HTTP) and its log."""

    process: subprocess.Popen[str]
    url: str
    log: Path
    command: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def said(self) -> str:
        """Everything it printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.said().splitlines()[-lines:])

    def stop(self) -> str:
        """Stop it as Ctrl-C does, and check it exits 0; what it printed."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)
        _RUNNING.pop(self.pid, None)
        said = self.said()
        assert self.process.returncode == 0, said
        return said

    def end(self) -> None:
        """Terminate it (SIGTERM, then SIGKILL after 20 s): for a teardown, whatever state it is in."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        _RUNNING.pop(self.pid, None)

    def kill(self) -> None:
        """``kill -9``: no chance to clean up."""
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=60)
        _RUNNING.pop(self.pid, None)


_RUNNING: dict[int, Served] = {}


def running() -> list[Served]:
    """The processes ``start`` started that are still running."""
    for pid in [pid for pid, served in _RUNNING.items() if served.process.poll() is not None]:
        _RUNNING.pop(pid)
    return list(_RUNNING.values())


def start(
    *args: str,
    env: dict[str, str] | None = None,
    data_dir: Path | None = None,
    port: int | None = None,
    module: str = "server",
    output: IO[str] | None = None,
    health: str | None = "/healthz",
    timeout: float = 60,
) -> Served:
    """``python -m {module} {args}`` (the docstore command line) in the project folder, once it
    answers ``health`` (None: once started).

    ``env``: its whole environment (``clean_env(...)`` when not given); ``data_dir`` adds
    ``--data-dir``; a ``serve`` command gets ``--port`` (``port``, or a free one). What it prints
    goes to ``output`` (a file) or to a log file of its own, never to a pipe that could fill up.
    """
    command = list(args)
    url = ""
    if command and command[0] == "serve":
        port = port or free_port()
        command += ["--port", str(port)]
        url = f"http://127.0.0.1:{port}"
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    own_log = output is None
    stream = output if output is not None else tempfile.NamedTemporaryFile("w", dir=LOGS, suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", module, *command],
        cwd=ROOT,
        env=env if env is not None else clean_env(),
        stdout=stream,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if own_log:
        stream.close()  # the child holds its own copy
    served = Served(process, url, Path(stream.name), " ".join([module, *command]))
    _RUNNING[process.pid] = served
    if url and health is not None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.TransportError):
                if plain_http.get(f"{url}{health}", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                served.end()
                raise RuntimeError(f"{served.command} did not start:\n{served.said()}")
            time.sleep(0.1)
    return served


def serve(
    data_dir: Path, port: int | None = None, output: IO[str] | None = None, **env: str
) -> tuple[str, subprocess.Popen[str]]:
    """``docstore serve`` on ``data_dir`` with the settings ``env``, text logs by default, once it
    answers /healthz: its URL and process (``start``, for the tests that hold the process)."""
    served = start(
        "serve", env=clean_env(**{"DOCSTORE_LOG_FORMAT": "text", **env}), data_dir=data_dir, port=port, output=output
    )
    return served.url, served.process


def stop(process: subprocess.Popen[str]) -> str:
    """Stop a server ``start`` started as Ctrl-C does; what it printed."""
    served = _RUNNING.get(process.pid)
    if served is None:
        raise ValueError(f"process {process.pid} was not started by tests.serving.start, or has stopped")
    return served.stop()
