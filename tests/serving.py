"""`docstore` run as a user runs it, in subprocesses: shared by the tests that start real servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[1]


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


def descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(child) for child in children.read_text().split()] if children.exists() else []
    return found + [grandchild for child in found for grandchild in descendants(child)]


def docstore(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the docstore command to its end, as a user would from the project folder."""
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def serve(
    data_dir: Path, port: int | None = None, output: IO[str] | None = None, **env: str
) -> tuple[str, subprocess.Popen[str]]:
    """``docstore serve`` on ``data_dir``, once it answers /healthz: its URL and process.

    What it prints goes to ``output`` (a file), or to a pipe the caller reads when it stops: a
    server that logs a lot must write to a file, or it blocks once the pipe is full.
    """
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=clean_env(**{"DOCSTORE_LOG_FORMAT": "text", **env}),
        stdout=output if output is not None else subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            said = process.communicate()[0] if output is None else "(see its output file)"
            raise RuntimeError(f"docstore serve did not start:\n{said}")
        time.sleep(0.1)
    return url, process


def stop(process: subprocess.Popen[str]) -> str:
    """Stop a server as Ctrl-C does; what it printed."""
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    return output
