"""The consumer deletes a message only after its handler succeeded (in batches), and runs each key
once where it remembers keys."""

from __future__ import annotations

import asyncio
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


def consume(queue: SqsQueue, handle, wait_seconds: int = 2, *, remembers: bool = True) -> tuple[list[bool], Consumer]:
    """Receive once and process every message received, all at once."""

    async def run() -> tuple[list[bool], Consumer]:
        consumer = Consumer(queue, handle, Blocking(4), name="test", wait_seconds=wait_seconds, remembers=remembers)
        messages = await consumer.blocking.run(queue.receive, 10, wait_seconds)
        return list(await asyncio.gather(*(consumer.process(message) for message in messages))), consumer

    return anyio.run(run)


def sqs_calls(queue: SqsQueue) -> list[str]:
    """The names of the SQS requests the queue's client makes from now on."""
    calls: list[str] = []
    queue.client.meta.events.register("before-call.sqs.*", lambda model, **_: calls.append(model.name))
    return calls


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


def test_handled_messages_are_deleted_in_one_batch(queue: SqsQueue) -> None:
    bodies = [{"type": "test.batch", "account_id": f"acct-{uuid.uuid4().hex}"} for _ in range(3)]
    for body in bodies:
        queue.send(body)
    received = queue.receive(10, 2)
    while len(received) < 3:
        received += queue.receive(10, 2)
    calls = sqs_calls(queue)

    async def run() -> list[bool]:
        consumer = Consumer(queue, _nothing, Blocking(4), name="test", remembers=False)
        return list(await asyncio.gather(*(consumer.process(message) for message in received)))

    assert anyio.run(run) == [True, True, True]
    assert calls == ["DeleteMessageBatch"]
    assert queue.receive(10, 2) == []


def test_message_whose_delete_fails_comes_back(queue: SqsQueue) -> None:
    body = {"type": "test.undeletable", "account_id": f"acct-{uuid.uuid4().hex}"}
    queue.send(body)
    (message,) = queue.receive(10, 2)
    stale = type(message)(message.id, "not-a-receipt-handle", message.body, message.receive_count)

    async def run() -> tuple[bool, int]:
        consumer = Consumer(queue, _nothing, Blocking(4), name="test", remembers=False)
        return await consumer.process(stale), consumer.handled

    assert anyio.run(run) == (False, 1)
    (again,) = queue.receive(10, 5)  # back after the 1 s visibility timeout
    assert (again.id, again.body, again.receive_count) == (message.id, body, 2)


def test_consumer_that_does_not_remember_runs_a_repeat_and_keeps_no_record(queue: SqsQueue) -> None:
    body = {"type": "test.forgetful", "account_id": f"acct-{uuid.uuid4().hex}"}
    calls: list[dict[str, Any]] = []

    async def handle(message: dict[str, Any]) -> None:
        calls.append(message)

    for _ in range(2):
        queue.send(body)
        outcomes, _ = consume(queue, handle, remembers=False)
        assert outcomes == [True]

    assert calls == [body, body]
    assert not idempotency.seen(message_key(body) or "")
    assert queue.receive(10, 2) == []


async def _nothing(message: dict[str, Any]) -> None:
    return None
