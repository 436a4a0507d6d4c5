"""The event benchmark's server: ``create_app`` served by one uvicorn process, with the garbage
collector watched (``gc.callbacks``) and read at ``GET /bench/gc``. For this benchmark only: the app
itself never hooks the collector.

Run as a script's text (``python -c``, see :func:`command`), not as a module of this package, so
that with ``PYTHONPATH=<another checkout>`` the server is that checkout's code: nothing of the
current checkout is imported. Its one argument is a JSON object of settings to override on the
defaults (paths as strings); it prints ``port <n>`` once it listens.
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import sys
import threading
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


def command(python: str) -> list[str]:
    """How to start this server with ``python``: the script's text, run as ``__main__``."""
    return [python, "-c", Path(__file__).read_text()]


@dataclass
class Collections:
    """Every generation-2 collection the process ran: its duration in ms and the objects it freed."""

    full: list[tuple[float, int]] = field(default_factory=list)
    started: float = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif info["generation"] == 2:
            self.full.append((1000 * (time.perf_counter() - self.started), info["collected"]))


#: A stall of the event loop worth noting, in seconds: a 10 ms tick that came this much late.
STALL_SECONDS = 0.02


async def watch_loop(stalls: list[float], tick: float = 0.01) -> None:
    """Append to ``stalls`` (ms) each time the event loop woke this tick more than
    :data:`STALL_SECONDS` late: how long everything on the loop waited (the bench does the same in
    its own process, to tell a server stall from a client one)."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + tick
        await asyncio.sleep(tick)
        late = loop.time() - due
        if late > STALL_SECONDS:
            stalls.append(1000 * late)


class StallSampler:
    """What the event loop's thread is running while the loop is stalled: a thread of its own
    reads the loop thread's stack (``sys._current_frames``) every :data:`SAMPLE_SECONDS` once the
    loop's heartbeat is more than :data:`SAMPLED_STALL_SECONDS` old, and counts each stack. A full
    collection holds the GIL throughout, so it shows in ``Collections``, not here."""

    def __init__(self) -> None:
        self.beat = time.perf_counter()
        self.stacks: Counter[str] = Counter()
        self.thread_id = threading.get_ident()  # started on the loop's thread

    async def heartbeat(self) -> None:
        while True:
            self.beat = time.perf_counter()
            await asyncio.sleep(SAMPLE_SECONDS)

    def start(self) -> None:
        threading.Thread(target=self._sample, name="stall sampler", daemon=True).start()

    def _sample(self) -> None:
        due = time.perf_counter() + SAMPLE_SECONDS
        while True:
            time.sleep(max(0.0, due - time.perf_counter()))
            now = time.perf_counter()
            late, due = now - due, now + SAMPLE_SECONDS
            if now - self.beat < SAMPLED_STALL_SECONDS:
                continue
            if late > SAMPLED_STALL_SECONDS:
                # This thread could not run either: C code held the GIL (a full collection shows in
                # Collections), or the process was not given a CPU (the bench's run-queue figure).
                self.stacks[UNSAMPLED] += round(late / SAMPLE_SECONDS)
            frame = sys._current_frames().get(self.thread_id)
            if frame is not None:
                self.stacks[" < ".join(describe(frame, STACK_FRAMES))] += 1

    def top(self, count: int) -> list[tuple[str, int]]:
        top = self.stacks.most_common(count)
        self.stacks.clear()
        return top


#: How often the sampler looks, and how old the loop's heartbeat must be for it to read the stack.
SAMPLE_SECONDS = 0.005
SAMPLED_STALL_SECONDS = 0.05
#: Counted instead of a stack for each sample the sampler missed while the loop was stalled.
UNSAMPLED = "(no stack: the sampler could not run either)"
#: The innermost frames of a sampled stack that are kept.
STACK_FRAMES = 14


def describe(frame: Any, depth: int) -> list[str]:
    """``file:line function`` of the innermost ``depth`` frames, innermost first."""
    frames: list[str] = []
    while frame is not None and len(frames) < depth:
        code = frame.f_code
        frames.append(f"{code.co_filename.rsplit('site-packages/', 1)[-1]}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back
    return frames


def census(top: int = 40) -> list[tuple[str, int]]:
    """The tracked objects by type, most numerous first (walks every object: slow on a big heap)."""
    counts = Counter(f"{type(each).__module__}.{type(each).__qualname__}" for each in gc.get_objects())
    return counts.most_common(top)


def grown(since: tracemalloc.Snapshot, top: int) -> list[dict[str, Any]]:
    """What was allocated since ``since`` and is still held, by the innermost frames of this
    project and of the libraries under it that allocated it, most bytes first."""
    now = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    rows = []
    for stat in now.compare_to(since, "traceback")[:top]:
        frames = [f"{frame.filename.rsplit('site-packages/', 1)[-1]}:{frame.lineno}" for frame in stat.traceback]
        rows.append({"bytes": stat.size_diff, "blocks": stat.count_diff, "where": frames[-6:]})
    return rows


def main(overrides: dict[str, Any]) -> None:
    import uvicorn
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from server import create_app, server_options
    from settings import Settings

    collections = Collections()
    gc.callbacks.insert(0, collections)  # first, so whatever else runs after a collection is counted in it

    async def report(request: Request) -> Response:
        if not watching:
            watching.append(asyncio.create_task(watch_loop(stalls)))
            sampler.thread_id = threading.get_ident()
            watching.append(asyncio.create_task(sampler.heartbeat()))
            sampler.start()
        body: dict[str, Any] = {
            "full": collections.full,
            "stalls": stalls,
            "counts": gc.get_count(),
            "thresholds": gc.get_threshold(),
            "frozen": gc.get_freeze_count(),
        }
        heap = getattr(request.app.state, "heap", None)  # runtime.heap.HeapPolicy, where the code has one
        if heap is not None:
            body["reclaims"] = heap.stats.reclaims
        if request.query_params.get("stacks"):  # what the loop ran while stalled since the last read
            body["stacks"] = sampler.top(int(request.query_params["stacks"]))
        if request.query_params.get("census"):
            body["census"] = census()
            body["tracked"] = len(gc.get_objects())
        trace = request.query_params.get("trace")
        if trace == "start":  # memory from now on, by where it was allocated (slows the server down)
            tracemalloc.start(int(request.query_params.get("frames", "12")))
            traced["since"] = tracemalloc.take_snapshot()
        elif trace == "top" and "since" in traced:
            body["grown"] = grown(traced["since"], int(request.query_params.get("top", "40")))
        return JSONResponse(body)

    traced: dict[str, tracemalloc.Snapshot] = {}
    stalls: list[float] = []
    watching: list[asyncio.Task[None]] = []
    sampler = StallSampler()

    values = {name: Path(value) if name.endswith("_dir") else value for name, value in overrides.items()}
    settings = Settings.from_env({}).with_overrides(**values)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"port {sock.getsockname()[1]}", flush=True)
    app = create_app(settings, extra_routes=[Route("/bench/gc", report)])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", **server_options(settings))
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
