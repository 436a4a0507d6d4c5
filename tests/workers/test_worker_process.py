"""Workers as their own processes: two API processes and `docstore worker` over a real Redis,
sharing one data folder and so one search index, which exactly one of them writes.

The stack has its own table prefix (`proc`), so the session's in-process workers, which consume
the `test-*` queues, never take its messages.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import plain_http
from tests.client import Api, User, post_form, sample
from tests.serving import Served, docstore, free_port, on_aws, start
from tests.subscriptions.conftest import Socket, bearer, open_socket
from tests.subscriptions.test_redis import wait_for_redis_subscribers
from tests.workers import files

PREFIX = "proc"


def environment(aws_endpoint: str, redis_url: str, **extra: str) -> dict[str, str]:
    return on_aws(aws_endpoint, PREFIX, DOCSTORE_PUBSUB_URL=redis_url, **extra)


class Stack:
    def __init__(self, aws_endpoint: str, redis_url: str, folder: Path) -> None:
        self.aws_endpoint = aws_endpoint
        self.redis_url = redis_url
        self.folder = folder
        self.apis: list[str] = []
        self.processes: list[Served] = []
        # One machine, one data folder: every process reads its search index, one of them writes it.
        self.data_dir = folder / "data"
        self.workers: list[Served] = []

    def env(self, **extra: str) -> dict[str, str]:
        return environment(self.aws_endpoint, self.redis_url, **extra)

    def serve(self) -> str:
        served = start("serve", env=self.env(), data_dir=self.data_dir)
        self.processes.append(served)
        self.apis.append(served.url)
        return served.url

    def worker(self, *options: str) -> Served:
        env = self.env(
            DOCSTORE_QUEUE_WAIT_SECONDS="1",
            DOCSTORE_QUEUE_VISIBILITY_SECONDS="4",
            DOCSTORE_EXTRACTION_PROCESSES="1",
        )
        process = start("worker", *options, env=env, data_dir=self.data_dir)
        self.processes.append(process)
        self.workers.append(process)
        return process


@pytest.fixture(scope="module")
def stack(aws_endpoint: str, redis_url: str, target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("stack")
    init = docstore("init", env=environment(aws_endpoint, redis_url))
    assert init.returncode == 0, init.stderr
    stack = Stack(aws_endpoint, redis_url, folder)
    try:
        stack.serve()
        stack.serve()
        yield stack
    finally:
        for process in stack.processes:
            process.end()


def subscribed(url: str, user: User) -> contextlib.AbstractContextManager[Socket]:
    @contextlib.contextmanager
    def opened() -> Iterator[Socket]:
        with open_socket(url.replace("http://", "ws://", 1) + "/graphql") as socket:
            socket.init(bearer(user))
            assert socket.receive() == {"type": "connection_ack"}
            socket.subscribe("docs", "DocumentEvents")
            yield socket

    return opened()


def events_until(socket: Socket, last: str) -> list[dict[str, Any]]:
    """documentEvents payloads, up to and including the first of type ``last``."""
    seen = []
    while True:
        message = socket.receive()
        assert message["type"] == "next", message
        payload = message["payload"]["data"]["documentEvents"]
        seen.append(payload)
        if payload["__typename"] == last:
            return seen


def wait_for_subscribers(redis_url: str, account_id: str, count: int) -> None:
    wait_for_redis_subscribers(redis_url, f"account:{account_id}", count)


def test_upload_through_one_api_process_is_announced_on_both_by_the_worker(stack: Stack) -> None:
    worker = stack.worker()
    first, second = Api(stack.apis[0]), Api(stack.apis[1])
    user = first.sign_up()
    with subscribed(stack.apis[0], user) as one, subscribed(stack.apis[1], user) as two:
        wait_for_subscribers(stack.redis_url, user.id, 2)
        content = sample("text/plain", "processed by a worker process")
        form = second.request_upload(user, size=len(content))
        post_form(form, content)
        assert second.complete(user, form["documentId"])["status"] == "PROCESSING"

        seen = [events_until(socket, "DocumentReady") for socket in (one, two)]

    expected = ["UploadStarted", "ProcessingStarted", "DocumentReady"]
    for events in seen:
        assert [event["__typename"] for event in events] == expected
        assert {event["documentId"] for event in events} == {form["documentId"]}
    assert seen[0] == seen[1]
    assert first.settled(user, form["documentId"])["status"] == "READY"
    assert worker.process.poll() is None


def test_worker_killed_mid_job_loses_nothing_and_counts_once(stack: Stack, target, tmp_path: Path) -> None:
    api = Api(stack.apis[0])
    user = api.sign_up(plan="PREMIUM")
    pdf = files.pdf_file(tmp_path / "long.pdf", *(f"Page {n} of the long report" for n in range(1, 401))).read_bytes()
    with subscribed(stack.apis[1], user) as socket:
        wait_for_subscribers(stack.redis_url, user.id, 1)
        doomed = stack.worker()
        document = api.submit(user, pdf, filename="long.pdf", contentType="application/pdf")
        progress = events_until(socket, "ExtractionProgress")
        doomed.kill()  # mid-extraction: its message is neither finished nor deleted
        assert [event["__typename"] for event in progress[-2:]] == ["ProcessingStarted", "ExtractionProgress"]

        stack.worker()  # takes the message once its visibility timeout has passed
        ready = events_until(socket, "DocumentReady")

    assert ready[-1]["documentId"] == document["id"]
    final = api.settled(user, document["id"])
    assert (final["status"], final["size"]) == ("READY", len(pdf))
    assert api.usage(user) == {
        "usedBytes": len(pdf),
        "reservedBytes": 0,
        "limitBytes": 20 * 1024**3,
        "documentCount": 1,
    }
    # The stack's only PREMIUM document: counted exactly once although two workers handled it.
    counted = counter(target, "plan:PREMIUM")
    assert (counted["documents"], counted["bytes"]) == (1, len(pdf))


def counter(target, name: str) -> dict[str, int]:
    """One of the stack's dashboard counters, read straight from its table."""
    item = target.client("dynamodb").get_item(
        TableName=f"{PREFIX}-counters", Key={"name": {"S": name}}, ConsistentRead=True
    )["Item"]
    return {key: int(value["N"]) for key, value in item.items() if "N" in value}


def test_processes_share_one_search_index_written_by_one_of_them(stack: Stack) -> None:
    stack.worker()
    first, second = Api(stack.apis[0]), Api(stack.apis[1])
    user = first.sign_up()
    name = f"shared{time.time_ns()}"
    document = first.upload(user, b"text", filename=f"{name}.txt", contentType="text/plain")
    assert document["status"] == "READY"

    for api in (first, second):
        deadline = time.monotonic() + 30
        while True:
            found = api.data("Search", {"query": name}, user.token)["search"]
            if [edge["node"]["document"]["id"] for edge in found["edges"]] == [document["id"]]:
                break
            assert time.monotonic() < deadline, f"{api.base_url} does not find the document"
            time.sleep(0.1)
    renamed = first.data("UpdateDocument", {"input": {"id": document["id"], "name": f"re{name}.txt"}}, user.token)[
        "updateDocument"
    ]
    assert renamed["name"] == f"re{name}.txt"
    deadline = time.monotonic() + 30
    while not second.data("Search", {"query": f"re{name}"}, user.token)["search"]["edges"]:
        assert time.monotonic() < deadline, "the rename did not reach the shared index"
        time.sleep(0.1)


def test_a_worker_serves_its_own_metrics_on_the_port_given(stack: Stack) -> None:
    for earlier in stack.workers:  # this worker alone takes the stack's messages, so its counts are exact
        earlier.end()
    port = free_port()
    worker = stack.worker("--metrics-port", str(port))
    api = Api(stack.apis[0])
    user = api.sign_up()

    document = api.upload(user, sample("text/plain", "counted by the worker that processed it"))
    metrics = scrape_until(f"http://127.0.0.1:{port}/metrics", worker)

    assert document["status"] == "READY"
    assert 'docstore_documents_processed_total{outcome="ready"} 1.0' in metrics
    assert 'docstore_queue_depth{queue="upload-events"}' in metrics
    assert 'docstore_queue_depth{queue="account-events"}' in metrics
    assert "docstore_graphql_requests_total{" not in metrics  # the API's count lives in the API processes


def scrape_until(url: str, worker: Served) -> str:
    """The worker's /metrics once it serves them (it starts listening as it starts)."""
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(httpx.TransportError):
            return plain_http.get(url, timeout=5).text
        assert worker.process.poll() is None, "the worker exited"
        assert time.monotonic() < deadline, "the worker never served its metrics"
        time.sleep(0.1)
