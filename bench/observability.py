"""What metrics and logging cost a query: the same app with them off, with metrics only, and with
metrics, JSON logs and the access log, each in its own uvicorn process, loaded in turn in one run.

All three serve the same two operations for the same account from the same embedded AWS: ``query
Me`` (two DynamoDB reads, whose cost in moto sets the pace) and ``query Typename { __typename }``
(no I/O at all, so the fixed cost per request stands out). Every process logs at
INFO to a file through DocStore's handler (the request-id and redaction filters included): ``off``
in text with ``DOCSTORE_METRICS=false`` and ``DOCSTORE_ACCESS_LOG=false``, so it writes nothing per
request; ``metrics`` counts into Prometheus's registry but writes no access line; ``on`` is the
default, metrics and one JSON access line per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from adapters import logs
from bench.documents_throughput import PASSWORD, describe, graphql, operation, server_cpu
from bench.load import Target, Totals, measure
from bench.serving import ServedApp
from bench.stack import embedded_aws
from server import create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.applications import Starlette

    from settings import Settings

NAME = "observability"
CONCURRENCY = 8
ROUNDS = 3
#: The in-process comparison: blocks of requests a side, and requests a block.
BLOCKS = 12
PER_BLOCK = 300
#: The sides: label, settings changed, log format.
SIDES = (
    ("off", {"metrics_enabled": False, "access_log": False}, "text"),
    ("metrics", {"metrics_enabled": True, "access_log": False}, "text"),
    ("on", {"metrics_enabled": True, "access_log": True}, "json"),
)


def run(*, quick: bool, command: str) -> str:
    """Start the three servers, check each behaves as its settings say, then load them in turn."""
    seconds, warmup, rounds_run = (2.0, 0.5, 2) if quick else (6.0, 1.0, ROUNDS)
    started = datetime.now(UTC)
    with (
        tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp,
        embedded_aws(Path(tmp)) as (settings, _),
        served(settings, Path(tmp)) as servers,
    ):
        token = sign_up(servers[0][1].url)
        queries = [me(token), typename(token)]
        verify(servers, queries)
        before = {label: log.stat().st_size for label, _, log in servers}
        totals = asyncio.run(rounds(servers, queries, rounds=rounds_run, seconds=seconds, warmup=warmup))
        written = {label: log.stat().st_size - before[label] for label, _, log in servers}
        blocks = 4 if quick else BLOCKS
        direct = asyncio.run(in_process(settings, Path(tmp), typename(token), blocks=blocks))
    return section(totals, written, direct, started=started, command=command, seconds=seconds)


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


def logged_app(log_path: Path, log_format: str, settings: Settings) -> Starlette:
    """The app as ``docstore serve`` builds it, its process logging at INFO to ``log_path``."""
    root = logging.getLogger()
    root.addHandler(logs.handler(log_format, log_path.open("a", buffering=8192)))
    root.setLevel(logging.INFO)
    return create_app(settings)


@contextlib.contextmanager
def served(settings: Settings, folder: Path) -> Iterator[list[tuple[str, ServedApp, Path]]]:
    with contextlib.ExitStack() as stack:
        servers = []
        for label, changes, log_format in SIDES:
            log = folder / f"{label}.log"
            factory = functools.partial(logged_app, log, log_format)
            server = stack.enter_context(ServedApp(factory, settings.with_overrides(run_workers=False, **changes)))
            progress(f"{label}: server pid {server.process.pid} at {server.url}")
            servers.append((label, server, log))
        yield servers


def sign_up(url: str) -> str:
    with httpx.Client(base_url=url, timeout=60) as http:
        email = f"bench-obs-{os.getpid()}-{datetime.now(UTC):%H%M%S%f}@example.com"
        result = graphql(http, operation("SignUp"), {"input": {"email": email, "password": PASSWORD}})["signUp"]
    if result["__typename"] != "AuthPayload":
        raise RuntimeError(f"sign-up failed: {result}")
    token: str = result["token"]
    return token


def me(token: str) -> Target:
    return Target(
        label="Me",
        method="POST",
        path="/graphql",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=json.dumps({"query": operation("Me"), "operationName": "Me"}).encode(),
        answer_starts=b'{"data":{"me":{"id":',
    )


def typename(token: str) -> Target:
    return Target(
        label="Typename",
        method="POST",
        path="/graphql",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=json.dumps({"query": "query Typename { __typename }", "operationName": "Typename"}).encode(),
        answer_starts=b'{"data":{"__typename":"Query"}}',
    )


def verify(servers: list[tuple[str, ServedApp, Path]], queries: list[Target]) -> None:
    """Each side answers the queries the same, and measures and logs exactly as its settings say."""
    answers = set()
    for label, server, log in servers:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            size = log.stat().st_size
            for query in queries:
                answers.add((query.label, http.post(query.path, headers=query.headers, content=query.body).content))
            metrics = http.get("/metrics")
        counted = 'docstore_graphql_requests_total{operation="Me",outcome="ok",type="query"} 1.0' in metrics.text
        expected = {"off": (404, False), "metrics": (200, True), "on": (200, True)}[label]
        if (metrics.status_code, counted) != expected:
            raise RuntimeError(f"{label}: /metrics {metrics.status_code}, Me counted: {counted}; expected {expected}")
        progress(f"{label}: /metrics {metrics.status_code}, log grew {log.stat().st_size - size} bytes (buffered)")
    if len(answers) != len(queries):
        raise RuntimeError(f"the sides answer differently: {answers}")


async def rounds(
    servers: list[tuple[str, ServedApp, Path]], queries: list[Target], *, rounds: int, seconds: float, warmup: float
) -> dict[str, list[Totals]]:
    """Warm every side up, then ``rounds`` rounds: each query on all three sides, the order of the
    sides rotated each round. The totals by query, in the order of the sides."""
    totals = {query.label: [Totals(label) for label, _, _ in servers] for query in queries}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    clients = [httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) for _, server, _ in servers]
    try:
        for query in queries:
            for client, (label, server, _) in zip(clients, servers, strict=True):
                side = dataclasses.replace(query, label=label)
                await measure(client, side, concurrency=CONCURRENCY, seconds=warmup, server_cpu=server.cpu_seconds)
        progress(f"warmed up; {rounds} rounds of {seconds:g} s a side and query, {CONCURRENCY} clients")
        for number in range(rounds):
            shift = number % len(servers)
            for query in queries:
                for index in [*range(shift, len(servers)), *range(shift)]:
                    label, server, _ = servers[index]
                    side = dataclasses.replace(query, label=label)
                    sample = await measure(
                        clients[index], side, concurrency=CONCURRENCY, seconds=seconds, server_cpu=server.cpu_seconds
                    )
                    totals[query.label][index].samples.append(sample)
                    progress(f"round {number + 1} {query.label:>8} {describe(sample)}")
    finally:
        for client in clients:
            await client.aclose()
    return totals


async def in_process(settings: Settings, folder: Path, query: Target, *, blocks: int) -> dict[str, list[float]]:
    """The three apps called in this process through httpx's ASGI transport, one request at a time:
    no network, no uvicorn, no load pattern; only the app's own CPU. ``blocks`` blocks of
    ``PER_BLOCK`` requests a side, the sides rotated; CPU seconds per request of each block, by side."""
    root = logging.getLogger()
    handlers = []
    results: dict[str, list[float]] = {label: [] for label, _, _ in SIDES}
    async with contextlib.AsyncExitStack() as stack:
        apps = []
        for label, changes, log_format in SIDES:
            app = create_app(settings.with_overrides(run_workers=False, **changes))
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
            await stack.enter_async_context(client)
            handler = logs.handler(log_format, (folder / f"direct-{label}.log").open("a", buffering=8192))
            apps.append((label, client, handler))
        level, others = root.level, list(root.handlers)
        for other in others:  # the benchmark's own console handler: only the side's handler writes
            root.removeHandler(other)
        root.setLevel(logging.INFO)
        # httpx logs each of this process's client requests at INFO: not the server's cost.
        client_log = logging.getLogger("httpx")
        client_level = client_log.level
        client_log.setLevel(logging.WARNING)
        try:
            for number in range(blocks + 1):  # the first block warms up
                shift = number % len(apps)
                for label, client, handler in [*apps[shift:], *apps[:shift]]:
                    root.addHandler(handler)
                    handlers.append(handler)
                    started = time.process_time()
                    for _ in range(PER_BLOCK):
                        answer = await client.post(query.path, headers=query.headers, content=query.body)
                        if not answer.content.startswith(query.answer_starts):
                            raise RuntimeError(f"{label}: bad answer {answer.status_code}: {answer.text[:300]}")
                    spent = time.process_time() - started
                    root.removeHandler(handler)
                    if number > 0:
                        results[label].append(spent / PER_BLOCK)
            progress(
                "in-process "
                + ", ".join(f"{label} {1000 * statistics.median(values):.3f}" for label, values in results.items())
                + " ms CPU/request (medians)"
            )
        finally:
            root.setLevel(level)
            for other in others:
                root.addHandler(other)
            client_log.setLevel(client_level)
            for handler in handlers:
                root.removeHandler(handler)
                handler.close()
    return results


def section(
    totals: dict[str, list[Totals]],
    written: dict[str, int],
    direct: dict[str, list[float]],
    *,
    started: datetime,
    command: str,
    seconds: float,
) -> str:
    versions = ", ".join(
        f"{package} {metadata.version(package)}"
        for package in ("prometheus-client", "python-json-logger", "strawberry-graphql", "starlette", "uvicorn", "moto")
    )
    made_by = " (what `make bench` runs)" if command == "python -m bench" else ""
    served = {
        label: sum(sides[index].requests for sides in totals.values()) for index, (label, _, _) in enumerate(SIDES)
    }
    rounds_run = len(next(iter(totals.values()))[0].samples)
    lines = [
        "## What metrics and logging cost a query: `query Me` and `{ __typename }` with them on and off",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`{made_by}, on {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {versions}.",
        "",
        "Three uvicorn processes (uvloop, httptools) serve the same app from the same embedded AWS: `off` "
        "(`DOCSTORE_METRICS=false`, `DOCSTORE_ACCESS_LOG=false`, text logs), `metrics` (Prometheus metrics, "
        "no access line) and `on` (the default: metrics, and one JSON access line per request). Each logs at "
        "INFO to its own file through DocStore's handler with the request-id and redaction filters; the "
        "request-id middleware runs on every side. One account; `query Me` (two DynamoDB reads in moto) and "
        "`query Typename { __typename }` (no I/O). "
        f"{rounds_run} rounds of {seconds:g} s a side and query, {CONCURRENCY} concurrent keep-alive clients, "
        "the order of the sides rotated each round, after a warm-up. Log bytes per request: "
        + ", ".join(f"{label} {written[label] / served[label]:.0f}" for label in served)
        + ".",
        "",
        "| query | side | requests | requests/s | p50 ms | p99 ms | server CPU ms/request |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for query, sides in totals.items():
        lines += [
            f"| {query} | {side.label} | {side.requests} | {side.rate:.1f} | {1000 * side.percentile(50):.1f} | "
            f"{1000 * side.percentile(99):.1f} | {1000 * side.per_request(server_cpu):.3f} |"
            for side in sides
        ]
    lines.append("")
    for query, (off, metrics_only, on) in totals.items():
        cpu = [side.per_request(server_cpu) for side in (off, metrics_only, on)]
        per_round = [
            (n.server_cpu / n.requests) / (o.server_cpu / o.requests)
            for o, n in zip(off.samples, on.samples, strict=True)
        ]
        lines += [
            f"- `{query}`: **server CPU per request, on / off: {cpu[2] / cpu[0]:.3f}** "
            f"({1000 * (cpu[2] - cpu[0]):+.3f} ms; per round {', '.join(f'{r:.3f}' for r in per_round)}); "
            f"metrics only / off {cpu[1] / cpu[0]:.3f} ({1000 * (cpu[1] - cpu[0]):+.3f} ms). "
            f"Throughput on / off {on.rate / off.rate:.3f}, metrics only / off {metrics_only.rate / off.rate:.3f}.",
        ]
    medians = {label: statistics.median(values) for label, values in direct.items()}
    lines += [
        "",
        f"In this process, without uvicorn or a network: the three apps called through httpx's ASGI transport, "
        f"one `Typename` request at a time, {len(direct['off'])} blocks of {PER_BLOCK} requests a side, "
        "rotated, after a warm-up block; the process's CPU time per request, the median of the blocks:",
        "",
        "| side | CPU ms/request (median) | min | max |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {label} | {1000 * medians[label]:.3f} | {1000 * min(values):.3f} | {1000 * max(values):.3f} |"
            for label, values in direct.items()
        ),
        "",
        f"**In-process CPU per request, on / off: {medians['on'] / medians['off']:.3f}** "
        f"({1000 * (medians['on'] - medians['off']):+.3f} ms); metrics only / off "
        f"{medians['metrics'] / medians['off']:.3f} ({1000 * (medians['metrics'] - medians['off']):+.3f} ms).",
    ]
    return "\n".join(lines)
