"""Closed-loop HTTP load: a fixed number of clients, each sending its next request as soon as its
last one is answered, for a fixed time and at most a fixed number of requests."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

#: However fast the server, one phase never sends more than this.
MAX_REQUESTS = 200_000


@dataclass(frozen=True)
class Target:
    """One side of a comparison: a request, sent as is every time, and what a good answer starts with."""

    label: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None
    answer_starts: bytes = b""


@dataclass
class Sample:
    """What one phase of load on one target measured."""

    label: str
    seconds: float
    latencies: list[float]
    server_cpu: float
    client_cpu: float
    process_cpu: float

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class Totals:
    """Several samples of one target taken together."""

    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(sample.requests for sample in self.samples)

    @property
    def seconds(self) -> float:
        return sum(sample.seconds for sample in self.samples)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return percentile([latency for sample in self.samples for latency in sample.latencies], q)

    def per_request(self, cpu: Callable[[Sample], float]) -> float:
        """Seconds of ``cpu`` per request."""
        return sum(cpu(sample) for sample in self.samples) / self.requests

    def busy(self, cpu: Callable[[Sample], float]) -> float:
        """How many cores ``cpu`` kept busy on average."""
        return sum(cpu(sample) for sample in self.samples) / self.seconds


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` from 0 to 100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


async def measure(
    client: httpx.AsyncClient,
    target: Target,
    *,
    concurrency: int,
    seconds: float,
    server_cpu: Callable[[], float],
) -> Sample:
    """Load ``target`` with ``concurrency`` clients for ``seconds``; every answer must be a good one.

    CPU time is taken around the phase: the server's from ``server_cpu``, this thread's (the load
    generator's event loop) and this whole process's (which also runs whatever else shares it).
    """
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    sent = 0

    async def client_loop() -> None:
        nonlocal sent
        while sent < MAX_REQUESTS and time.perf_counter() < deadline:
            sent += 1
            start = time.perf_counter()
            response = await client.request(target.method, target.path, headers=target.headers, content=target.body)
            elapsed = time.perf_counter() - start
            if response.status_code != 200 or not response.content.startswith(target.answer_starts):
                raise RuntimeError(f"{target.label}: bad answer {response.status_code}: {response.text[:500]}")
            latencies.append(elapsed)

    server_before, thread_before, process_before = server_cpu(), time.thread_time(), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Sample(
        label=target.label,
        seconds=elapsed,
        latencies=latencies,
        server_cpu=server_cpu() - server_before,
        client_cpu=time.thread_time() - thread_before,
        process_cpu=time.process_time() - process_before,
    )
