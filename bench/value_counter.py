"""How long counting a request body's JSON values takes, in-process: the part of refusing an
oversized body that is DocStore's own (``adapters.graphql_over_http.CountingBody``), with no
server, socket or other client around it.

Each body is fed as uvicorn feeds it, 64 KB chunks, to a ``CountingBody`` with the limit the
default settings give (``resolvers.limits.most_json_values``): the attack bodies of the rejections
benchmark up to their refusal, and a legitimate ``compareChecksums`` of 10,000 files to its end.
Then the same at several sizes of the counter's pieces, to show the one chosen
(``PIECE_BYTES``). Samples of the sizes alternate, so that a busy moment weighs on all alike.
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from adapters.graphql_over_http import PIECE_BYTES, CountingBody, RequestRefused, ValueCounter
from bench import rejections
from resolvers.limits import most_json_values
from settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import Message

NAME = "value_counter"
#: What uvicorn hands the application at a time.
CHUNK_BYTES = 64 << 10
SAMPLES = 60
QUICK_SAMPLES = 2
#: Piece sizes compared with the one chosen.
PIECE_SIZES = (1 << 10, 2 << 10, 4 << 10, 16 << 10)
FILES = 10_000


def ones() -> dict[str, object]:
    return {"query": "query Ones { __typename }", "variables": {"ones": [1] * rejections.LIST_ITEMS}}


def nested_objects() -> dict[str, object]:
    return {"query": "query Nested { __typename }", "variables": {"objects": [{"a": {"b": {}}}] * 200_000}}


def compare_checksums() -> dict[str, object]:
    files = [{"path": f"/a/b/file-{number}.pdf", "contentHash": f"{number:064x}"} for number in range(FILES)]
    query = "query CompareChecksums($input: CompareChecksumsInput!) { compareChecksums(input: $input) { state } }"
    return {"query": query, "variables": {"input": {"files": files}}}


BODIES: dict[str, Callable[[], dict[str, object]]] = {
    "list variable of 1,300,000 empty strings (3.9 MB)": rejections.huge_list_variable,
    "1,300,000 empty lists (3.9 MB)": rejections.empty_lists,
    "1,300,000 ones (2.6 MB)": ones,
    '200,000 {"a":{"b":{}}} (3.0 MB)': nested_objects,
    "string literal of 990 KB": rejections.long_string,
    f"compareChecksums of {FILES:,} files (1.1 MB)": compare_checksums,
}


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


def counted(body: bytes, most_values: int, piece_bytes: int) -> tuple[float, str]:
    """Seconds for a ``CountingBody`` to take ``body`` in chunks, and what it decided."""
    chunks = [body[start : start + CHUNK_BYTES] for start in range(0, len(body), CHUNK_BYTES)]

    async def feed() -> tuple[float, str]:
        left = iter(enumerate(chunks))

        async def receive() -> Message:
            number, chunk = next(left)
            return {"type": "http.request", "body": chunk, "more_body": number < len(chunks) - 1}

        counting = CountingBody(receive, most_values, lambda error: RequestRefused(400, error.msg))
        counting.counter = ValueCounter(most_values, piece_bytes=piece_bytes)
        start = time.perf_counter()
        try:
            while (await counting()).get("more_body"):
                pass
        except RequestRefused as refused:
            return time.perf_counter() - start, f"refused ({refused.reason}) at {counting.counter.values:,} values"
        return time.perf_counter() - start, f"counted: {counting.counter.values:,} values"

    return asyncio.run(feed())


def run(*, quick: bool, command: str) -> str:
    started = datetime.now(UTC)
    samples = QUICK_SAMPLES if quick else SAMPLES
    most_values = most_json_values(Settings.from_env({}))
    sizes = sorted({*PIECE_SIZES, PIECE_BYTES})
    rows, sweep = [], []
    for name, build in BODIES.items():
        body = json.dumps(build(), separators=(",", ":")).encode()
        times: dict[int, list[float]] = {size: [] for size in sizes}
        decided = ""
        for _ in range(samples):
            for size in sizes:
                seconds, outcome = counted(body, most_values, size)
                times[size].append(seconds * 1000)
                decided = outcome if size == PIECE_BYTES else decided
        chosen = times[PIECE_BYTES]
        progress(f"{name}: {decided}, p50 {statistics.median(chosen):.2f} ms")
        rows.append(
            f"| {name} | {decided} | {statistics.median(chosen):.2f} ms | {max(chosen):.2f} ms | {min(chosen):.2f} ms |"
        )
        sweep.append(f"| {name} | " + " | ".join(f"{statistics.median(times[size]):.2f} ms" for size in sizes) + " |")
    return "\n".join(
        [
            "## Counting a body's values",
            "",
            f"`{command}`: `CountingBody` in-process, no server, each body fed in {CHUNK_BYTES >> 10} KB chunks "
            f"(as uvicorn hands it over) with the default limit of {most_values:,} values, {samples} times each, "
            f"pieces of {PIECE_BYTES >> 10} KB (`PIECE_BYTES`). {platform.processor() or platform.machine()}, "
            f"Python {platform.python_version()}, {started:%Y-%m-%d %H:%M} UTC.",
            "",
            "| body | decided | p50 | worst | best |",
            "|---|---|---:|---:|---:|",
            *rows,
            "",
            "The p50 at each size of the counter's pieces, samples alternated:",
            "",
            "| body | " + " | ".join(f"{size >> 10} KB" for size in sizes) + " |",
            "|---|" + "---:|" * len(sizes),
            *sweep,
        ]
    )
