"""``docstore`` commands beside a running server (issue 9, item 9: under a second when they have no
real work), against two baselines measured in the same run.

One ``docstore serve --data-dir DIR`` runs in a temporary folder, with two accounts signed up
through its API (one of them made ADMIN by ``docstore admin grant`` before timing). Then each
command below runs as a user runs it (the environment's ``docstore`` script, a new process each
time, no ``DOCSTORE_*`` or ``AWS_*`` variable), round after round so that the machine's load
drifts over all of them alike. Every run must end with the exit status and output expected of it,
or the benchmark stops: a command that fails fast is not a fast command.

The named baseline is ``python -c "import boto3"`` with the same interpreter: the least a command
that talks to AWS through boto3 pays. ``python -c "pass"`` (the interpreter alone) is shown too.
The goal is absolute, so seconds are given beside the ratio.

With ``--before-code DIR`` (a checkout of an earlier commit, e.g. ``git worktree add DIR COMMIT``),
each ``docstore`` command also runs on that code (``PYTHONPATH=DIR``, which Python searches before
the editable install), in the same rounds, for a before/after measured under the same load.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import httpx

from bench.docstore_serve import DOCSTORE, DocstoreServer, clean_environment

NAME = "commands"
ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "gql" / "operations"
ROUNDS = 7
QUICK_ROUNDS = 2
GOAL_SECONDS = 1.0
PASSWORD = "bench horse battery staple"
ADMIN = "bench-admin@example.com"
USER = "bench-user@example.com"
NOBODY = "bench-nobody@example.com"
BASELINE = "import boto3"


@dataclass(frozen=True)
class Command:
    """One command line to time: what it is called in the table, its arguments, the exit status
    and a piece of its standard output (or error) that show it did its job."""

    label: str
    argv: tuple[str, ...]
    status: int = 0
    says: str = ""
    #: Whether it talks to the running server's AWS (``--data-dir``).
    attached: bool = True
    #: Variables added to the clean environment (``PYTHONPATH`` of the code before).
    env: tuple[tuple[str, str], ...] = ()

    @property
    def docstore(self) -> bool:
        return self.argv[0] == DOCSTORE


BEFORE = " [before]"


def on_code_before(line: Command, code: Path) -> Command:
    """The same command run on the code in ``code``."""
    return replace(line, label=line.label + BEFORE, env=(("PYTHONPATH", str(code.resolve())),))


def commands(data_dir: Path) -> list[Command]:
    folder = ("--data-dir", str(data_dir))
    python = sys.executable
    return [
        Command('python -c "pass"', (python, "-c", "pass"), attached=False),
        Command(f'python -c "{BASELINE}"', (python, "-c", BASELINE), attached=False),
        Command("docstore --help", (DOCSTORE, "--help"), says="export-schema", attached=False),
        Command("docstore worker --help", (DOCSTORE, "worker", "--help"), says="--metrics-port", attached=False),
        Command("docstore admin --help", (DOCSTORE, "admin", "--help"), says="grant", attached=False),
        Command("docstore stats", (DOCSTORE, "stats", *folder), says="accounts             2"),
        Command("docstore stats --json", (DOCSTORE, "stats", "--json", *folder), says='"documentCount": 0'),
        Command(
            "docstore stats --recount (2 accounts, no documents)",
            (DOCSTORE, "stats", "--recount", *folder),
            says="no drift",
        ),
        Command(
            "docstore admin grant (already ADMIN)",
            (DOCSTORE, "admin", "grant", ADMIN, *folder),
            says=f"{ADMIN} is already ADMIN",
        ),
        Command(
            "docstore admin revoke (not ADMIN)",
            (DOCSTORE, "admin", "revoke", USER, *folder),
            says=f"{USER} is not ADMIN",
        ),
        Command(
            "docstore admin grant (no such account)",
            (DOCSTORE, "admin", "grant", NOBODY, *folder),
            status=1,
            says=f"no account has the email {NOBODY}",
        ),
        Command("docstore init (everything exists)", (DOCSTORE, "init", *folder), says="ready: bucket"),
        Command("docstore export-schema", (DOCSTORE, "export-schema"), says="type Query", attached=False),
    ]


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    #: User plus system CPU seconds of the command's process (and any it waited for).
    cpu: list[float] = field(default_factory=list)

    def p50(self) -> float:
        return statistics.median(self.wall)

    def cpu_p50(self) -> float:
        return statistics.median(self.cpu)

    def spread(self) -> str:
        return f"{min(self.wall):.2f}–{max(self.wall):.2f}"


def run(*, quick: bool, command: str, before_code: Path | None = None) -> str:
    started = datetime.now(UTC)
    rounds = QUICK_ROUNDS if quick else ROUNDS
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="docstore-bench-commands-") as tmp:
        data_dir = Path(tmp) / "data"
        with (Path(tmp) / "serve.log").open("wb") as log, DocstoreServer(data_dir, log) as server:
            progress(f"docstore serve answers at {server.url} (data folder {data_dir})")
            prepare(server.url, data_dir)
            lines = commands(data_dir)
            if before_code is not None:
                lines += [on_code_before(line, before_code) for line in lines if line.docstore]
            timings = {line.label: Timings() for line in lines}
            for number in range(rounds + 1):  # the first round warms the page cache and is not kept
                for line in lines if number % 2 == 0 else reversed(lines):
                    wall, cpu = time_one(line, cwd=Path(tmp))
                    if number > 0:
                        timings[line.label].wall.append(wall)
                        timings[line.label].cpu.append(cpu)
                progress(f"round {number}{' (warm-up)' if number == 0 else ''} done")
    load_after = os.getloadavg()
    return section(
        lines, timings, started=started, command=command, loads=(load_before, load_after), before_code=before_code
    )


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


def prepare(url: str, data_dir: Path) -> None:
    """Two accounts through the API; the first made ADMIN, so that granting it again changes nothing."""
    query = (OPERATIONS / "accounts" / "SignUp.graphql").read_text()
    with httpx.Client(base_url=url, timeout=60) as http:
        for email in (ADMIN, USER):
            answer = http.post(
                "/graphql", json={"query": query, "variables": {"input": {"email": email, "password": PASSWORD}}}
            )
            result = answer.json()["data"]["signUp"]
            if result["__typename"] != "AuthPayload":
                raise RuntimeError(f"sign-up of {email} failed: {result}")
    granted = subprocess.run(
        [DOCSTORE, "admin", "grant", ADMIN, "--data-dir", str(data_dir)],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if granted.returncode != 0:
        raise RuntimeError(f"docstore admin grant failed: {granted.stderr}")


def time_one(line: Command, cwd: Path) -> tuple[float, float]:
    """Run it once; its wall-clock and CPU seconds. Raises if it did not do what it should."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = clean_environment() | dict(line.env)
    done = subprocess.run(line.argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != line.status or line.says not in done.stdout + done.stderr:
        raise RuntimeError(
            f"`{line.label}` exited {done.returncode} (expected {line.status}) without saying {line.says!r}:\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def section(
    lines: list[Command],
    timings: dict[str, Timings],
    *,
    started: datetime,
    command: str,
    loads: tuple[tuple[float, float, float], tuple[float, float, float]],
    before_code: Path | None = None,
) -> str:
    base = timings[f'python -c "{BASELINE}"']
    versions = ", ".join(f"{package} {metadata.version(package)}" for package in ("boto3", "pynamodb"))
    now = [line for line in lines if not line.label.endswith(BEFORE)]
    rows = []
    for line in now:
        taken = timings[line.label]
        goal = ("yes" if taken.p50() < GOAL_SECONDS else "**no**") if line.docstore else ""
        rows.append(
            f"| {line.label} | {taken.p50():.2f} | {taken.spread()} | {taken.cpu_p50():.2f} "
            f"| {taken.p50() / base.p50():.2f} | {taken.cpu_p50() / base.cpu_p50():.2f} | {goal} |"
        )
    over = [line.label for line in now if line.docstore and timings[line.label].p50() >= GOAL_SECONDS]
    timed = sum(line.docstore for line in now)
    verdict = (
        f"**met** by all {timed} commands timed"
        if not over
        else f"**NOT met** by {len(over)} of {timed}: " + ", ".join(f"`{label}`" for label in over)
    )
    made_by = " (part of `make bench`)" if command == "python -m bench" else ""
    rounds = len(timings[lines[0].label].wall)
    text = [
        "## `docstore` commands beside a running server",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`{made_by}, on {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {versions}. Load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.1f}' for x in loads[0])} at the start and "
        f"{', '.join(f'{x:.1f}' for x in loads[1])} at the end: the machine is shared, and a command's "
        "wall clock grows with the load while its CPU time hardly moves.",
        "",
        "A `docstore serve --data-dir DIR` runs in a temporary folder with two accounts (one ADMIN), "
        f"no documents. Each command runs as a new process, {rounds} timed rounds after one warm-up, "
        "the commands in turn within a round (the order reversed every other round); "
        f"{sum(line.attached for line in now)} of them reach the server's embedded AWS through "
        "`--data-dir`, and every run is checked for its exit status and output. Seconds: wall clock "
        "p50 (and range), CPU (user + system) p50, and both as ratios to the named baseline, "
        f'`python -c "{BASELINE}"` ({base.p50():.2f} s wall, {base.cpu_p50():.2f} s CPU here).',
        "",
        "| command | wall p50 (s) | range (s) | CPU p50 (s) | wall / `import boto3` | CPU / `import boto3` | < 1 s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | :---: |",
        *rows,
        "",
        f"Goal (issue 9, item 9): commands with no real work answer in under {GOAL_SECONDS:.0f} s: {verdict}.",
    ]
    if before_code is not None:
        text += [
            "",
            f"Before and after in the same rounds: each `docstore` command also ran on the code of "
            f"commit `{commit_of(before_code)}` (`--before-code`).",
            "",
            "| command | wall before (s) | wall after (s) | after / before "
            "| CPU before (s) | CPU after (s) | after / before |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for line in now:
            if line.docstore:
                after, before = timings[line.label], timings[line.label + BEFORE]
                text.append(
                    f"| {line.label} | {before.p50():.2f} | {after.p50():.2f} | **{after.p50() / before.p50():.2f}** "
                    f"| {before.cpu_p50():.2f} | {after.cpu_p50():.2f} | {after.cpu_p50() / before.cpu_p50():.2f} |"
                )
    return "\n".join(text)


def commit_of(code: Path) -> str:
    """The commit checked out in ``code`` (short), or its path when it is not a git checkout."""
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code, capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else str(code)
