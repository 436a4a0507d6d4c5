"""How long the API takes to turn away each kind of oversized request, and what that does to an
ordinary client meanwhile.

Each attack is sent with a new operation name every time, as an attacker would, so no cache of
parsed or validated queries holds it.

One ``docstore serve`` (embedded AWS, defaults). An ordinary client signs up and asks ``Me`` again
and again, one request at a time: first alone (the baseline), then while an attacker sends one kind
of oversized request after another, one at a time. For each kind: how long its answer took (p50,
p99), and the ordinary client's p50 and p99 during the attack against its p50 and p99 alone (the
ratios). Each attack is a request a few hundred bytes to 64 MB long that anyone can send, signed in
or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import multiprocessing
import re
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from bench.docstore_serve import DocstoreServer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

OPERATIONS = Path(__file__).resolve().parent.parent / "gql" / "operations"
PASSWORD = "bench horse battery staple"
#: Fragments each spreading the next twice: the query expands to 2**LEVELS fields.
LEVELS = 18


def exponential_fragments() -> dict[str, object]:
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(LEVELS))
    return {"query": f"query Bomb {{ ...F0 }} {fragments} fragment F{LEVELS} on Query {{ __typename }}"}


#: Items of the list attacks: 3.9 MB of JSON, just under the 4 MB body limit.
LIST_ITEMS = 1_300_000


def huge_list_variable() -> dict[str, object]:
    query = "mutation Tag($input: UpdateDocumentInput!) { updateDocument(input: $input) { __typename } }"
    tags = [""] * LIST_ITEMS
    return {"query": query, "variables": {"input": {"id": "01J0000000000000000000000", "tags": tags}}}


def empty_lists() -> dict[str, object]:
    """Each item a list of its own: the costliest JSON for ``json.loads`` to build, byte for byte."""
    return {"query": "query Lists { __typename }", "variables": {"lists": [[]] * LIST_ITEMS}}


def many_aliases() -> dict[str, object]:
    return {"query": "query Aliases { " + " ".join(f"a{i}:__typename" for i in range(1500)) + " }"}


def many_fields() -> dict[str, object]:
    return {"query": "query Fields { " + " ".join("me { id }" for _ in range(1200)) + " }"}


def deep_nesting() -> dict[str, object]:
    inner = "name"
    for _ in range(80):
        inner = f"ofType {{ {inner} }}"
    return {"query": f'query Deep {{ __type(name: "Query") {{ {inner} }} }}'}


def long_string() -> dict[str, object]:
    return {"query": 'query Long { search(query: "' + "a" * 990_000 + '") { __typename } }'}


KINDS: dict[str, Callable[[], dict[str, object]]] = {
    "exponential fragments (2^18)": exponential_fragments,
    "list variable of 1,300,000 (3.9 MB)": huge_list_variable,
    "1,300,000 empty lists (3.9 MB)": empty_lists,
    "1,500 aliases": many_aliases,
    "1,200 fields": many_fields,
    "nesting 81 deep": deep_nesting,
    "string literal of 990 KB": long_string,
}
HEADER = "Authorization header of 64 MB"
FRAME = "WebSocket frame of 10 MB"


COUNTER = itertools.count()
#: The open-loop attack rate: refusals a second, on a fixed schedule.
PACED_RATE = 20.0


@dataclass
class Outcome:
    attack: list[float] = field(default_factory=list)
    ordinary: list[float] = field(default_factory=list)
    answers: set[str] = field(default_factory=set)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(*, quick: bool, command: str, before_code: Path | None = None) -> str:
    """With ``before_code`` (a checkout of the code before the limits), its server is measured first,
    then this code's, in the same run."""
    seconds = 2.0 if quick else 8.0
    versions: dict[str, Path | None] = {"before": before_code} if before_code is not None else {}
    versions["after"] = None
    results: dict[str, dict[str, Outcome]] = {}
    for version, code in versions.items():
        print(f"[rejections] {version}", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-rejections-") as folder:
            log = Path(folder) / "server.log"
            # The ordinary client asks Me back to back, far more often than an account may
            # (DOCSTORE_REQUESTS_PER_ACCOUNT): that limit is off here, every other one at its default.
            env = {"DOCSTORE_REQUESTS_PER_ACCOUNT": "0"}
            if code is not None:
                env["PYTHONPATH"] = str(code)
            with log.open("wb") as output, DocstoreServer(Path(folder) / "data", output, env=env) as server:
                results[version] = asyncio.run(measure(server.url, seconds))
    return report(results, seconds, command)


async def measure(url: str, seconds: float) -> dict[str, Outcome]:
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        token = await sign_up(client)
        me = {"query": (OPERATIONS / "accounts" / "Me.graphql").read_text(), "operationName": "Me"}
        headers = {"authorization": f"Bearer {token}"}

        async def ordinary() -> None:
            answer = await client.post("/graphql", json=me, headers=headers)
            if answer.status_code != 200 or "errors" in answer.json():
                raise RuntimeError(f"Me failed: {answer.status_code} {answer.text[:200]}")

        results: dict[str, Outcome] = {}
        alone = Outcome()
        await loop_for(seconds, ordinary, alone.ordinary)
        results["alone"] = alone
        # The attacker runs in a process of its own: building and sending 64 MB in this one would
        # slow the ordinary client down by itself.
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            for kind, rate in [(kind, rate) for rate in (PACED_RATE, None) for kind in [*KINDS, HEADER, FRAME]]:
                attacking = asyncio.get_running_loop().run_in_executor(
                    pool, attack_for, kind, url, token, seconds, rate
                )
                outcome = Outcome()
                while not attacking.done():
                    start = time.perf_counter()
                    await ordinary()
                    outcome.ordinary.append(time.perf_counter() - start)
                outcome.attack, outcome.answers = await attacking
                label = kind if rate is None else f"{kind}, {rate:g}/s"
                results[label] = outcome
                progress(label, outcome)
    return results


def attack_for(kind: str, url: str, token: str, seconds: float, rate: float | None) -> tuple[list[float], set[str]]:
    """In the attacker's process: ``kind`` for ``seconds`` (at least three times), one request after
    another, or ``rate`` a second on a fixed schedule; how long each took and what the server answered."""
    return asyncio.run(attacking(kind, url, token, seconds, rate))


async def attacking(
    kind: str, url: str, token: str, seconds: float, rate: float | None
) -> tuple[list[float], set[str]]:
    times: list[float] = []
    answers: set[str] = set()
    # Built once: making 64 MB or a list of 250,000 is the attacker's time, not the server's.
    template = b""
    if kind in KINDS:
        request = KINDS[kind]()
        named = re.sub(r"^(query|mutation) (\w+)", r"\1 \2_N_", str(request["query"]), count=1)
        template = json.dumps({**request, "query": named}, separators=(",", ":")).encode()
    head = huge_head(url) if kind == HEADER else b""
    frame = big_frame() if kind == FRAME else b""

    async def attack() -> tuple[str, float]:
        if kind == HEADER:
            return await send_huge_header(url, head)
        if kind == FRAME:
            return await send_big_frame(url, token, frame)
        # A new operation name each time: parsed and validated anew, as an attacker sends it.
        body = template.replace(b"_N_", str(next(COUNTER)).encode(), 1)
        return await send_body(url, body)

    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline or len(times) < 3:
        if rate is not None:
            # Open loop: the n-th attack starts at n / rate, whenever the last one was answered.
            await asyncio.sleep(max(0.0, started + len(times) / rate - time.perf_counter()))
        answer, took = await attack()
        answers.add(answer)
        times.append(took)
    return times, answers


async def sign_up(client: httpx.AsyncClient) -> str:
    query = (OPERATIONS / "accounts" / "SignUp.graphql").read_text()
    variables = {"input": {"email": f"rejections-{time.time_ns()}@example.com", "password": PASSWORD}}
    answer = await client.post("/graphql", json={"query": query, "variables": variables})
    token: str = answer.json()["data"]["signUp"]["token"]
    return token


async def loop_for(seconds: float, call: Callable[[], Awaitable[None]], into: list[float]) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        await call()
        into.append(time.perf_counter() - start)


def progress(kind: str, outcome: Outcome) -> None:
    print(
        f"[rejections] {kind}: {len(outcome.attack)} sent, p99 {percentile(outcome.attack, 0.99) * 1000:.1f} ms; "
        f"ordinary p99 {percentile(outcome.ordinary, 0.99) * 1000:.1f} ms",
        flush=True,
    )


def summary(status: int, content_type: str, payload: bytes) -> str:
    if content_type.startswith("application/json"):
        errors = json.loads(payload).get("errors") or []
        if errors:
            extensions = errors[0].get("extensions") or {}
            if "limit" in extensions:
                return f"{status} {extensions['code']} {', '.join(e['extensions']['limit'] for e in errors)}"
            return f"{status} {extensions.get('code', 'no code')}: {errors[0]['message'][:80]}"
        return f"{status} answered"
    return f"{status} {payload[:60].decode(errors='replace')}"


async def send_body(url: str, body: bytes) -> tuple[str, float]:
    """POST ``body`` to /graphql as a client streams it (256 KB a write, on a connection of its own);
    how long until the server's whole answer came, while the rest may still be going out. (httpx
    reads an answer only once it has sent the whole body: its timing of a refusal made after the
    first 100 KB of 3.9 MB was its own sending, in Python, on the cores the server shares.)"""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = (
        b"POST /graphql HTTP/1.1\r\nhost: " + host.encode() + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    start = time.perf_counter()
    sending = asyncio.create_task(stream(writer, request))
    try:
        status = int((await reader.readline()).split()[1])
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        payload = await reader.readexactly(int(headers.get("content-length", "0")))
        answer = summary(status, headers.get("content-type", ""), payload)
    except (ConnectionError, IndexError, ValueError, asyncio.IncompleteReadError):
        answer = "connection ended without an answer"
    took = time.perf_counter() - start
    await stop_sending(sending, writer)
    return answer, took


async def stop_sending(sending: asyncio.Task[None], writer: asyncio.StreamWriter) -> None:
    """Once the answer came: what is left of the request stays unsent, and the connection ends."""
    sending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sending
    writer.close()


async def stream(writer: asyncio.StreamWriter, request: bytes) -> None:
    """Send ``request`` as a client streams it, 256 KB at a time; a reset ends it quietly."""
    with contextlib.suppress(ConnectionError):
        view = memoryview(request)
        for offset in range(0, len(view), 1 << 18):
            writer.write(view[offset : offset + (1 << 18)])
            await writer.drain()


def huge_head(url: str) -> bytes:
    host = url.removeprefix("http://").split(":")[0]
    body = b'{"query":"{ __typename }"}'
    return (
        b"POST /graphql HTTP/1.1\r\nhost: " + host.encode() + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nauthorization: Bearer " + b"a" * (64 << 20) + b"\r\n\r\n"
    ) + body


async def send_huge_header(url: str, request: bytes) -> tuple[str, float]:
    """The request with its 64 MB header; how long until the server's status line came (or it
    closed), while the rest is still being sent."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    start = time.perf_counter()

    sending = asyncio.create_task(stream(writer, request))
    try:
        status = (await reader.readline()).decode(errors="replace").strip() or "closed without an answer"
    except ConnectionError:
        status = "connection reset"
    took = time.perf_counter() - start
    await stop_sending(sending, writer)
    return status, took


def big_frame() -> bytes:
    """A ``subscribe`` message of 10 MB as one masked text frame, built once: making it (the JSON,
    the masking) is the attacker's time, not the server's. It goes out uncompressed, which
    permessage-deflate allows: with the client's deflate, 10 MB took most of the time measured."""
    padding = "a" * (10 << 20)
    name = f"Big{next(COUNTER)}"
    query = (
        f"subscription {name} {{ quotaEvents {{ __typename }} }} "
        f'query Pad {{ search(query: "{padding}") {{ __typename }} }}'
    )
    message = json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "operationName": name}})
    return Frame(Opcode.TEXT, message.encode()).serialize(mask=True)


async def send_big_frame(url: str, token: str, frame: bytes) -> tuple[str, float]:
    """``frame`` (10 MB) on a connection that has said ``connection_init``, then a ping: how long
    from the start of sending until the server answers either, or closes."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"], max_size=None, ping_interval=None) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        await socket.recv()
        start = time.perf_counter()
        socket.transport.write(frame)  # past the client's own framing: the bytes as built
        socket.transport.write(Frame(Opcode.TEXT, json.dumps({"type": "ping"}).encode()).serialize(mask=True))
        try:
            answer = json.loads(await asyncio.wait_for(socket.recv(), 120))
            said = "subscribed (pong)" if answer["type"] == "pong" else f"{answer['type']}: {answer.get('payload')}"
        except ConnectionClosed as closed:
            said = f"closed {closed.rcvd.code if closed.rcvd else 'without a code'}"
        return said[:80], time.perf_counter() - start


def report(results: dict[str, dict[str, Outcome]], seconds: float, command: str) -> str:
    lines = [
        "## Rejections",
        "",
        f"`{command}`: one `docstore serve` (embedded AWS, defaults but `DOCSTORE_REQUESTS_PER_ACCOUNT=0`) for each "
        "version of the code. An ordinary "
        f"client asks `Me` one request at a time, alone for {seconds:.0f} s, then during each attack: an "
        f"attacker in a process of its own sends that request for {seconds:.0f} s (at least 3 times), each with a "
        f"new operation name so that no cache holds it: first {PACED_RATE:g} a second on a fixed schedule (rows "
        f"`, {PACED_RATE:g}/s`: does a refusal hold anyone up?), then one after another (closed loop: the attacker "
        "takes all the CPU it can, on cores the server and the ordinary client share). Ratios are the ordinary "
        "client's latency during the attack over its latency alone, against the same server in the same run.",
    ]
    for version, found in results.items():
        alone = found["alone"].ordinary
        base50, base99 = statistics.median(alone), percentile(alone, 0.99)
        lines += [
            "",
            f"**{version}**: the ordinary client alone, {len(alone)} requests: p50 {base50 * 1000:.1f} ms, "
            f"p99 {base99 * 1000:.1f} ms.",
            "",
            "| attack | sent | answered with | attack p50 | attack p99 | ordinary p50 (ratio) | ordinary p99 (ratio) |",
            "|---|---:|---|---:|---:|---:|---:|",
        ]
        for kind, outcome in found.items():
            if kind == "alone":
                continue
            o50, o99 = statistics.median(outcome.ordinary), percentile(outcome.ordinary, 0.99)
            a50, a99 = statistics.median(outcome.attack), percentile(outcome.attack, 0.99)
            lines.append(
                f"| {kind} | {len(outcome.attack)} | {'; '.join(sorted(outcome.answers))} "
                f"| {a50 * 1000:.1f} ms | {a99 * 1000:.1f} ms "
                f"| {o50 * 1000:.1f} ms ({o50 / base50:.2f}×) | {o99 * 1000:.1f} ms ({o99 / base99:.2f}×) |"
            )
    return "\n".join(lines)
