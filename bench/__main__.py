"""Every benchmark, one after another: ``make bench`` (``python -m bench``). Results go in
docs/BENCHMARKS.md; ``--quick`` is a short run that only checks the benchmarks work."""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from bench import (
    backend_calls,
    change_feed,
    checksums,
    commands,
    detection,
    documents_throughput,
    event_latency,
    extraction,
    moto_memory,
    moto_requests,
    observability,
    rejections,
    results,
    search,
    share_page,
    startup,
    sync,
    thumbnails,
    transactions,
    users,
    value_counter,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

T = TypeVar("T")


class Benchmark(Protocol):
    """Runs, printing progress, and returns its section of docs/BENCHMARKS.md (markdown)."""

    def __call__(self, *, quick: bool, command: str) -> str: ...


#: Every benchmark, by the name of its section.
BENCHMARKS: list[tuple[str, Benchmark]] = [
    ("documents_throughput", documents_throughput.run),
    ("extraction", extraction.run),
    ("detection", detection.run),
    ("event_latency", event_latency.run),
    ("search", search.run),
    ("observability", observability.run),
    ("transactions", transactions.run),
    ("moto_requests", moto_requests.run),
    ("moto_memory", moto_memory.run),
    ("backend_calls", backend_calls.run),
    ("users", users.run),
    ("startup", startup.run),
    ("rejections", rejections.run),
    ("value_counter", value_counter.run),
    ("commands", commands.run),
    ("checksums", checksums.run),
    ("change_feed", change_feed.run),
    ("sync", sync.run),
    ("share_page", share_page.run),
    ("thumbnails", thumbnails.run),
]


def numbers(kind: Callable[[str], T]) -> Callable[[str], list[T]]:
    """An option's value as a comma-separated list of numbers of ``kind``."""

    def parse(text: str) -> list[T]:
        try:
            return [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a short run to check the benchmarks work; writes no results"
    )
    parser.add_argument(
        "--only", choices=[name for name, _ in BENCHMARKS], help="run this benchmark alone (its section only)"
    )
    parser.add_argument(
        "--minutes", type=float, default=users.MINUTES, help="users: how long the human-paced phase runs"
    )
    parser.add_argument(
        "--capacity-seconds",
        type=float,
        default=users.CAPACITY_SECONDS,
        help="users: how long the closed-loop (saturation) phase runs",
    )
    parser.add_argument(
        "--before-code",
        type=Path,
        help="a checkout of an earlier commit, measured in the same run. rejections: the code before the "
        "request limits, measured first; commands: each docstore command also runs on it, alternating "
        "with this code; event_latency: each server runs on it first, then on this code",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="startup: fill the data folders under DIR and keep them; a later run with DIR reuses them",
    )
    parser.add_argument(
        "--sync-mib", type=int, default=sync.SIZE_MIB, help="sync: the size of the file uploaded, in MiB (default 1024)"
    )
    parser.add_argument(
        "--subscribers",
        type=numbers(int),
        action="extend",
        help="event_latency: subscribers in all, one run of the servers each (a list: 1000,5000; default 1000)",
    )
    parser.add_argument(
        "--rate",
        type=numbers(float),
        action="extend",
        help="event_latency: events a second, one phase each (may repeat, or a list: 20,100; the default)",
    )
    parser.add_argument(
        "--churn",
        type=numbers(float),
        action="extend",
        help="event_latency: clients a second that connect, subscribe, receive and leave during the phases, "
        "each rate measured with each (a list: 0,50; default 0)",
    )
    parser.add_argument(
        "--servers",
        type=int,
        default=event_latency.SERVERS,
        help="event_latency: API processes on one Redis, each account's subscribers spread over them (default 1)",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=event_latency.CLIENT_PROCESSES,
        help="event_latency: processes holding the benchmark's WebSocket clients (default 2)",
    )
    options = parser.parse_args(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    command = " ".join(["python -m bench", *args])
    for name, benchmark in BENCHMARKS:
        if options.only not in (None, name):
            continue
        if name == "users":
            benchmark = functools.partial(users.run, minutes=options.minutes, capacity_seconds=options.capacity_seconds)
        if name == "rejections" and options.before_code is not None:
            benchmark = functools.partial(rejections.run, before_code=options.before_code.resolve())
        if name == "startup" and options.keep is not None:
            benchmark = functools.partial(startup.run, keep=options.keep)
        if name == "sync":
            benchmark = functools.partial(sync.run, size_mib=options.sync_mib)
        if name == "event_latency":
            benchmark = functools.partial(
                event_latency.run,
                subscribers=options.subscribers or event_latency.SUBSCRIBERS,
                rates=options.rate or event_latency.RATES,
                churn=options.churn or event_latency.CHURN,
                servers=options.servers,
                client_processes=options.client_processes,
                before_code=options.before_code,
            )
        if name == "commands":
            benchmark = functools.partial(commands.run, before_code=options.before_code)
        section = benchmark(quick=options.quick, command=command)
        print(section, flush=True)
        if options.quick:
            print(f"[{name}] quick run: {results.RESULTS.name} left as it was", flush=True)
        else:
            results.write_section(name, section)
            print(f"[{name}] written to {results.RESULTS}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
