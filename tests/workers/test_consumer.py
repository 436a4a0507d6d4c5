"""The consumer deletes a message only after its handler succeeded, and runs each key once."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import pytest

from adapters.blocking import Blocking
from adapters.queue import SqsQueue
from models import idempotency
from workers.consumer import Consumer, UnknownMessage, message_key


@pytest.fixture
def queue(target) -> SqsQueue:
    client = target.client("sqs")
    url = client.create_queue(QueueName=f"test-consumer-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "1"})
    return SqsQueue(target, url["QueueUrl"])


def consume(queue: SqsQueue, handle, wait_seconds: int = 2) -> tuple[list[bool], Consumer]:
    """Receive once and process every message received."""

    async def run() -> tuple[list[bool], Consumer]:
        consumer = Consumer(queue, handle, Blocking(4), name="test", wait_seconds=wait_seconds)
        messages = await consumer.blocking.run(queue.receive, 10, wait_seconds)
        return [await consumer.process(message) for message in messages], consumer

    return anyio.run(run)


def test_handled_message_is_deleted_and_remembered(queue: SqsQueue) -> None:
    body = {"type": "test.ok", "account_id": f"acct-{uuid.uuid4().hex}", "document_id": "doc"}
    queue.send(body)
    seen: list[dict[str, Any]] = []

    async def handle(message: dict[str, Any]) -> None:
        seen.append(message)

    outcomes, consumer = consume(queue, handle)

    assert outcomes == [True]
    assert seen == [body]
    assert consumer.handled == 1
    assert idempotency.seen(f"test.ok:{body['account_id']}:doc")
    assert queue.receive(10, 2) == []


def test_repeat_of_a_handled_message_is_dropped_without_running(queue: SqsQueue) -> None:
    body = {"type": "test.repeat", "account_id": f"acct-{uuid.uuid4().hex}"}
    idempotency.remember(message_key(body) or "")
    queue.send(body)
    calls: list[dict[str, Any]] = []

    async def handle(message: dict[str, Any]) -> None:
        calls.append(message)

    outcomes, _ = consume(queue, handle)

    assert outcomes == [True]
    assert calls == []
    assert queue.receive(10, 2) == []


def test_failed_message_stays_and_comes_back(queue: SqsQueue) -> None:
    body = {"type": "test.fail", "account_id": f"acct-{uuid.uuid4().hex}"}
    queue.send(body)

    async def handle(message: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    outcomes, consumer = consume(queue, handle)

    assert outcomes == [False]
    assert consumer.handled == 0
    assert not idempotency.seen(message_key(body) or "")
    (again,) = queue.receive(10, 5)  # back after the 1 s visibility timeout
    assert (again.body, again.receive_count) == (body, 2)


def test_unknown_message_is_dropped(queue: SqsQueue) -> None:
    queue.send({"type": "test.unknown", "account_id": "a"})

    async def handle(message: dict[str, Any]) -> None:
        raise UnknownMessage("no handler")

    outcomes, _ = consume(queue, handle)

    assert outcomes == [True]
    assert queue.receive(10, 2) == []


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"type": "upload.completed", "account_id": "A", "document_id": "D"}, "upload.completed:A:D"),
        ({"type": "account.created", "account_id": "A"}, "account.created:A"),
        ({"type": "plan.changed", "account_id": "A", "key": "2"}, "plan.changed:A:2"),
        ({"account_id": "A"}, None),
        ({"type": 3}, None),
    ],
)
def test_message_key_is_type_and_ids(body: dict[str, Any], key: str | None) -> None:
    assert message_key(body) == key
