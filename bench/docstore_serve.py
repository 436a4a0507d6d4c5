"""``docstore serve`` as a user starts it, in a child process of its own, and what its whole process
tree holds: resident memory and CPU time summed over the server and every process under it (the
embedded AWS, extraction workers, whatever the server starts), read from Linux's ``/proc``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from types import TracebackType

#: The ``docstore`` command of the environment the benchmark runs in.
DOCSTORE = str(Path(sys.executable).with_name("docstore"))
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def clean_environment() -> dict[str, str]:
    """This process's environment without any ``DOCSTORE_*`` or ``AWS_*`` variable: the server runs
    on its defaults, the embedded AWS, and can never reach a real account. Only the sign-in rate
    limits are lifted: every simulated person signs up from 127.0.0.1."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DOCSTORE_", "AWS_"))}
    return {**env, "DOCSTORE_AUTH_ATTEMPTS_PER_IP": "1000000", "DOCSTORE_AUTH_ATTEMPTS_PER_EMAIL": "1000000"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class TreeSample:
    """The server's process tree at one instant."""

    processes: int
    #: Resident set sizes summed: pages shared between processes count once per process.
    rss: int
    #: Proportional set sizes summed (``smaps_rollup``): a shared page is split among its sharers.
    pss: int
    #: User plus system CPU seconds of the processes alive now.
    cpu: float
    #: The same, by role: "API and workers" (the `docstore serve` process), "embedded AWS", "other"
    #: (extraction and anything else it started).
    cpu_by_role: dict[str, float] = field(default_factory=dict)
    #: Resident set sizes by the same roles.
    rss_by_role: dict[str, int] = field(default_factory=dict)


class DocstoreServer:
    """``docstore serve --port P --data-dir DIR`` on 127.0.0.1, its output in ``log``."""

    def __init__(self, data_dir: Path, log: IO[bytes], env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        #: Added to its clean environment (``PYTHONPATH``: run another checkout's code).
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180) -> str:
        """Start it and wait until ``/healthz`` answers; the base URL."""
        command = [DOCSTORE, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        # A session of its own, so that stopping it can reach every process it started.
        self.process = subprocess.Popen(
            command, env={**clean_environment(), **self.env}, stdout=self._log, stderr=self._log, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self.url
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"docstore serve exited with code {self.process.returncode}; see its log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"docstore serve did not answer /healthz within {timeout:.0f} s")
            time.sleep(0.2)

    def sample(self) -> TreeSample:
        if self.process is None:
            raise RuntimeError("not started")
        pids = tree(self.process.pid)
        by_role: dict[str, float] = {}
        rss_by_role: dict[str, int] = {}
        for pid in pids:
            name = role(pid, self.process.pid)
            by_role[name] = by_role.get(name, 0.0) + cpu_seconds(pid)
            rss_by_role[name] = rss_by_role.get(name, 0) + rss(pid)
        return TreeSample(
            processes=len(pids),
            rss=sum(rss_by_role.values()),
            pss=sum(pss(pid) for pid in pids),
            cpu=sum(by_role.values()),
            cpu_by_role=by_role,
            rss_by_role=rss_by_role,
        )

    def stop(self, timeout: float = 60) -> int | None:
        """SIGINT, as Ctrl-C in its terminal; SIGKILL to its whole session if it has not stopped in ``timeout``.
        Its exit code, None if it had to be killed."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            return None

    def __enter__(self) -> DocstoreServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


ROLES = ("API and workers", "embedded AWS", "other")


def role(pid: int, server: int) -> str:
    """What a process of the server's tree is, for the CPU breakdown."""
    if pid == server:
        return ROLES[0]
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ROLES[2]
    return ROLES[1] if b"adapters.aws_process" in command else ROLES[2]


def tree(root: int) -> list[int]:
    """``root`` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, waiting = [], [root]
    while waiting:
        pid = waiting.pop()
        found.append(pid)
        waiting.extend(children.get(pid, []))
    return found


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (state first); empty if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    # The command name in parentheses may hold spaces; the fields follow its closing one.
    return text.rsplit(")", 1)[1].split()


def rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError):
        return 0


def pss(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    kib = next((line.split()[1] for line in rollup.splitlines() if line.startswith("Pss:")), "0")
    return int(kib) * 1024


def cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS if fields else 0.0
