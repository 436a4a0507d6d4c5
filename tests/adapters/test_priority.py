"""People before background work at the embedded AWS's DynamoDB (adapters/priority.py): the lock's
order, the mark a background request carries, and the workers marking everything they start."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pynamodb.connection import Connection

from adapters import moto_state, priority
from adapters.aws import AwsTarget
from adapters.aws_process import Durable
from adapters.blocking import Blocking
from adapters.mail import SesMailer
from adapters.pubsub import BroadcastPubSub
from adapters.queue import ACCOUNT_EVENTS, BACKFILL, SEARCH_INDEX, UPLOAD_EVENTS, Message
from settings import EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY, Settings
from workers.runner import run_workers


def queue_up(lock: priority.TurnLock, order: list[str], name: str, *, background: bool) -> threading.Thread:
    """A thread that waits for ``lock`` as ``name``; returns once it is queued."""
    before = sum(lock.waiting())

    def take() -> None:
        with lock.turn(background=background):
            order.append(name)

    thread = threading.Thread(target=take)
    thread.start()
    deadline = time.monotonic() + 10
    while sum(lock.waiting()) == before:  # queued before the next one starts
        assert time.monotonic() < deadline, f"{name} never queued"
        time.sleep(0.001)
    return thread


def run_in_order(lock: priority.TurnLock, arrivals: list[tuple[str, bool]]) -> list[str]:
    """Hold ``lock`` while the arrivals queue up one by one, then release it: the order served."""
    order: list[str] = []
    lock.acquire(background=False)
    threads = [queue_up(lock, order, name, background=background) for name, background in arrivals]
    assert order == []  # nobody got in while it was held
    lock.release()
    for thread in threads:
        thread.join(10)
    assert lock.waiting() == (0, 0)
    assert not lock._held
    return order


def test_waiters_of_one_kind_get_the_lock_in_the_order_they_asked() -> None:
    people = [(f"p{n}", False) for n in range(8)]
    assert run_in_order(priority.TurnLock(4), people) == [f"p{n}" for n in range(8)]
    later = [(f"b{n}", True) for n in range(8)]
    assert run_in_order(priority.TurnLock(4), later) == [f"b{n}" for n in range(8)]


def test_people_go_before_background_requests_that_asked_first() -> None:
    arrivals = [("b0", True), ("b1", True), ("p0", False), ("p1", False)]
    assert run_in_order(priority.TurnLock(4), arrivals) == ["p0", "p1", "b0", "b1"]


def test_a_background_request_gets_a_turn_after_each_burst_of_people() -> None:
    arrivals = [("b0", True), ("b1", True)] + [(f"p{n}", False) for n in range(10)]
    assert run_in_order(priority.TurnLock(4), arrivals) == [
        *["p0", "p1", "p2", "p3"],
        "b0",
        *["p4", "p5", "p6", "p7"],
        "b1",
        *["p8", "p9"],
    ]
    # A burst of 1 alternates while both kinds wait.
    assert run_in_order(priority.TurnLock(1), arrivals[:5]) == ["p0", "b0", "p1", "b1", "p2"]


def test_the_lock_is_free_again_after_each_use_and_after_an_error() -> None:
    lock = priority.TurnLock(4)
    for background in (False, True, False):
        with lock.turn(background=background):
            assert lock._held
    with contextlib.suppress(ValueError), lock.turn(background=True):
        raise ValueError("inside")
    assert not lock._held
    assert run_in_order(lock, [("p0", False), ("b0", True)]) == ["p0", "b0"]


class _Recorder(BaseHTTPRequestHandler):
    """A DynamoDB stand-in on 127.0.0.1 that answers every request with no tables and keeps the
    priority header each request came with."""

    seen: list[str | None]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).seen.append(self.headers.get(priority.HEADER))
        body = json.dumps({"TableNames": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@contextlib.contextmanager
def recording_endpoint() -> Iterator[tuple[str, list[str | None]]]:
    seen: list[str | None] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_background_dynamodb_requests_to_the_embedded_aws_say_so_and_no_others() -> None:
    with recording_endpoint() as (embedded_url, embedded), recording_endpoint() as (other_url, other):
        embedded_client = AwsTarget("us-east-1", embedded_url, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY, 4).client(
            "dynamodb"
        )
        other_client = AwsTarget("us-east-1", other_url, "AKIDOTHER", "other-secret", 4).client("dynamodb")
        pynamodb = Connection(region="us-east-1", host=embedded_url)  # PynamoDB's own botocore session

        embedded_client.list_tables()
        pynamodb.list_tables()
        other_client.list_tables()
        with priority.as_background():
            embedded_client.list_tables()
            pynamodb.list_tables()
            other_client.list_tables()  # not the embedded AWS: AWS never sees the header
        embedded_client.list_tables()

    assert embedded == [None, None, priority.BACKGROUND, priority.BACKGROUND, None]
    assert other == [None, None]
    assert priority.is_background() is False


def test_durable_serves_waiting_people_before_waiting_background_requests(tmp_path: Path) -> None:
    """The embedded AWS's WSGI layer reads the header: with DynamoDB busy, a person's GetItem that
    arrived last is served before the two background ones that arrived first."""
    busy, release = threading.Event(), threading.Event()
    served: list[str] = []

    def moto(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        name = environ["HTTP_X_NAME"]
        if name == "first":
            busy.set()
            release.wait(10)
        served.append(name)
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0")])
        return [b"{}"]

    class Loaded:
        done = True

    state = moto_state.StateFile(tmp_path / "state.sqlite3", synchronous="NORMAL")
    durable = Durable(moto, state, moto_state.SqsMirror(), Loaded(), people_burst=4)  # type: ignore[arg-type]

    def request(name: str, *, background: bool) -> None:
        environ = {
            "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.GetItem",
            "HTTP_X_NAME": name,
            "REQUEST_METHOD": "POST",
            "CONTENT_LENGTH": "2",
            "wsgi.input": io.BytesIO(b"{}"),
        }
        if background:
            environ[priority.ENVIRON_KEY] = priority.BACKGROUND
        assert durable(environ, lambda *_: None) == [b"{}"]

    try:
        first = threading.Thread(target=request, args=("first",), kwargs={"background": True})
        first.start()
        assert busy.wait(10)
        threads = []
        for name, background in (("worker 1", True), ("worker 2", True), ("person", False)):
            before = sum(durable.dynamodb.waiting())
            threads.append(threading.Thread(target=request, args=(name,), kwargs={"background": background}))
            threads[-1].start()
            deadline = time.monotonic() + 10
            while sum(durable.dynamodb.waiting()) == before:
                assert time.monotonic() < deadline
                time.sleep(0.001)
        release.set()
        for thread in [first, *threads]:
            thread.join(10)
    finally:
        release.set()
        durable.journal.close()
        state.close()
    assert served == ["first", "person", "worker 1", "worker 2"]


class _Idle:
    """An SQS queue stand-in with nothing to deliver, noting whether each call came marked."""

    url = "http://127.0.0.1/queue"

    def __init__(self, calls: list[bool]) -> None:
        self.calls = calls

    def receive(
        self, max_messages: int = 10, wait_seconds: int = 5, visibility_seconds: int | None = None
    ) -> list[Message]:
        self.calls.append(priority.is_background())
        time.sleep(0.01)
        return []

    def send(self, *_: Any, **__: Any) -> None:
        self.calls.append(priority.is_background())


def test_the_workers_mark_what_they_start_and_leave_the_caller_unmarked(
    settings: Settings, target: AwsTarget, store: Any, own_tables: str
) -> None:
    calls: list[bool] = []
    queues: dict[str, Any] = {name: _Idle(calls) for name in (UPLOAD_EVENTS, ACCOUNT_EVENTS, BACKFILL, SEARCH_INDEX)}
    quiet = settings.with_overrides(sweep_interval_seconds=0, extraction_processes=1)

    async def run() -> None:
        workers = asyncio.create_task(
            run_workers(
                quiet,
                blocking=Blocking(4),
                objects=store,
                publisher=BroadcastPubSub("memory://"),
                mailer=SesMailer(target, "noreply@example.com"),
                queues=queues,
                search=None,
            )
        )
        deadline = time.monotonic() + 30
        while len(calls) < 6 and not workers.done():
            assert time.monotonic() < deadline, "the consumers never asked for messages"
            await asyncio.sleep(0.01)
        assert priority.is_background() is False  # the caller's context is its own
        workers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await workers

    asyncio.run(run())
    assert len(calls) >= 6
    assert set(calls) == {True}
