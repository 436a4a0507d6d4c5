"""The consumer deletes a message only after its handler succeeded (in batches), runs each key once
where it remembers keys, and moves what no handler can act on to the dead-letter queue, once."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import anyio
import pytest

from adapters.blocking import Blocking
from adapters.messages import (
    AccountCreated,
    AccountUpdated,
    IndexDocument,
    PlanChanged,
    QueueMessage,
    UploadCompleted,
    on_queue,
)
from adapters.queue import ACCOUNT_EVENTS, DEAD_LETTER_REASON, SqsQueue
from models import idempotency
from workers.consumer import Consumer, UnknownMessage

#: The test queue stands for account-events: it carries account.created and account.updated.
KINDS = on_queue(ACCOUNT_EVENTS)


def new_queue(target, *, dead_letter: bool = True) -> SqsQueue:
    client = target.client("sqs")
    name = f"test-consumer-{uuid.uuid4().hex[:8]}"
    if dead_letter:
        client.create_queue(QueueName=f"{name}-dlq")
    url = client.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "1"})
    return SqsQueue(target, url["QueueUrl"])


@pytest.fixture
def queue(target) -> SqsQueue:
    return new_queue(target)


def consume(queue: SqsQueue, handle, wait_seconds: int = 2, *, remembers: bool = True) -> tuple[list[bool], Consumer]:
    """Receive once and process every message received, all at once."""

    async def run() -> tuple[list[bool], Consumer]:
        consumer = Consumer(
            queue, handle, Blocking(4), name="test", kinds=KINDS, wait_seconds=wait_seconds, remembers=remembers
        )
        messages = await consumer.blocking.run(queue.receive, 10, wait_seconds)
        return list(await asyncio.gather(*(consumer.process(message) for message in messages))), consumer

    return anyio.run(run)


def sqs_calls(queue: SqsQueue) -> list[str]:
    """The names of the SQS requests the queue's client makes from now on."""
    calls: list[str] = []
    queue.client.meta.events.register("before-call.sqs.*", lambda model, **_: calls.append(model.name))
    return calls


def dead_letters(queue: SqsQueue) -> list[tuple[str, str]]:
    """(body, reason) of every message on the queue's dead-letter queue now."""
    found = []
    while True:
        response = queue.client.receive_message(
            QueueUrl=f"{queue.url}-dlq", MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        )
        batch = response.get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append((message["Body"], message["MessageAttributes"][DEAD_LETTER_REASON]["StringValue"]))
            queue.client.delete_message(QueueUrl=f"{queue.url}-dlq", ReceiptHandle=message["ReceiptHandle"])


def created() -> AccountCreated:
    return AccountCreated(account_id=f"acct-{uuid.uuid4().hex}")


def test_handled_message_is_deleted_and_remembered(queue: SqsQueue) -> None:
    message = created()
    queue.send(message)
    seen: list[QueueMessage] = []

    async def handle(work: QueueMessage) -> None:
        seen.append(work)

    outcomes, consumer = consume(queue, handle)

    assert outcomes == [True]
    assert seen == [message]
    assert (consumer.handled, consumer.dead_lettered) == (1, 0)
    assert idempotency.seen(f"account.created:{message.account_id}")
    assert queue.receive(10, 2) == []


def test_repeat_of_a_handled_message_is_dropped_without_running(queue: SqsQueue) -> None:
    message = created()
    idempotency.remember(message.dedupe_key)
    queue.send(message)
    calls: list[QueueMessage] = []

    async def handle(work: QueueMessage) -> None:
        calls.append(work)

    outcomes, _ = consume(queue, handle)

    assert outcomes == [True]
    assert calls == []
    assert queue.receive(10, 2) == []


def test_failed_message_stays_and_comes_back(queue: SqsQueue) -> None:
    message = created()
    queue.send(message)

    async def handle(work: QueueMessage) -> None:
        raise RuntimeError("boom")

    outcomes, consumer = consume(queue, handle)

    assert outcomes == [False]
    assert (consumer.handled, consumer.dead_lettered) == (0, 0)
    assert not idempotency.seen(message.dedupe_key)
    (again,) = queue.receive(10, 5)  # back after the 1 s visibility timeout
    assert (json.loads(again.body), again.receive_count) == ({"type": "account.created", **_ids(message)}, 2)
    assert dead_letters(queue) == []


def _ids(message: AccountCreated) -> dict[str, str]:
    return {"account_id": message.account_id}


CARRIED = "account.created, account.updated, digest.due"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            "not json",
            f"JSON is malformed: invalid character (byte 4) (expected a JSON object with a type of {CARRIED})",
        ),
        ("[1, 2]", f"Expected `object`, got `array` (expected a JSON object with a type of {CARRIED})"),
        (
            '{"type": "test.unknown", "account_id": "a"}',
            f"Invalid value 'test.unknown' - at `$.type` (expected a JSON object with a type of {CARRIED})",
        ),
        (  # a type DocStore knows, on a queue that does not carry it
            '{"type": "upload.completed", "account_id": "a", "document_id": "d"}',
            f"Invalid value 'upload.completed' - at `$.type` (expected a JSON object with a type of {CARRIED})",
        ),
        (
            '{"type": "account.created"}',
            f"Object missing required field `account_id` (expected a JSON object with a type of {CARRIED})",
        ),
        (
            '{"type": "account.created", "account_id": 7}',
            f"Expected `str`, got `int` - at `$.account_id` (expected a JSON object with a type of {CARRIED})",
        ),
        (
            '{"type": "account.updated", "account_id": ""}',
            f"Expected `str` of length >= 1 - at `$.account_id` (expected a JSON object with a type of {CARRIED})",
        ),
        (
            '{"type": "account.updated", "account_id": "a"}',
            f"Object missing required field `key` (expected a JSON object with a type of {CARRIED})",
        ),
    ],
)
def test_a_message_the_queue_does_not_carry_goes_to_the_dead_letter_queue_once(
    queue: SqsQueue, body: str, reason: str
) -> None:
    queue.client.send_message(QueueUrl=queue.url, MessageBody=body)
    calls: list[QueueMessage] = []

    async def handle(work: QueueMessage) -> None:
        calls.append(work)

    outcomes, consumer = consume(queue, handle)

    assert outcomes == [True]
    assert calls == []
    assert (consumer.handled, consumer.dead_lettered) == (0, 1)
    assert dead_letters(queue) == [(body, reason)]  # unchanged, with why
    assert queue.receive(10, 2) == []  # deleted: it does not come back after the 1 s visibility timeout


def test_a_message_its_handler_refuses_goes_to_the_dead_letter_queue(queue: SqsQueue) -> None:
    message = created()
    queue.send(message)

    async def handle(work: QueueMessage) -> None:
        raise UnknownMessage("no handler for this")

    outcomes, consumer = consume(queue, handle)

    assert outcomes == [True]
    assert (consumer.handled, consumer.dead_lettered) == (0, 1)
    assert not idempotency.seen(message.dedupe_key)
    assert dead_letters(queue) == [(json.dumps({"type": "account.created", **_ids(message)}), "no handler for this")]
    assert queue.receive(10, 2) == []


def test_a_message_that_cannot_reach_the_dead_letter_queue_stays_and_comes_back(target) -> None:
    queue = new_queue(target, dead_letter=False)  # its -dlq is missing: the move fails
    queue.client.send_message(QueueUrl=queue.url, MessageBody="not json")

    async def handle(work: QueueMessage) -> None:
        raise AssertionError("never handled")

    outcomes, consumer = consume(queue, handle)

    assert outcomes == [False]
    assert (consumer.handled, consumer.dead_lettered) == (0, 0)
    (again,) = queue.receive(10, 5)  # back after the 1 s visibility timeout: not lost
    assert (again.body, again.receive_count) == ("not json", 2)


@pytest.mark.parametrize(
    ("message", "key"),
    [
        (UploadCompleted(account_id="A", document_id="D"), "upload.completed:A:D"),
        (AccountCreated(account_id="A"), "account.created:A"),
        (AccountUpdated(account_id="A", key="2"), "account.updated:A:2"),
        (PlanChanged(account_id="A", key="2", after="D"), "plan.changed:A:2"),
        (IndexDocument(account_id="A", document_id="D", key="3"), "index.document:A:D:3"),
    ],
)
def test_the_dedupe_key_is_the_type_and_ids(message: QueueMessage, key: str) -> None:
    assert message.dedupe_key == key


def test_handled_messages_are_deleted_in_one_batch(queue: SqsQueue) -> None:
    for _ in range(3):
        queue.send(created())
    received = queue.receive(10, 2)
    while len(received) < 3:
        received += queue.receive(10, 2)
    calls = sqs_calls(queue)

    async def run() -> list[bool]:
        consumer = Consumer(queue, _nothing, Blocking(4), name="test", kinds=KINDS, remembers=False)
        return list(await asyncio.gather(*(consumer.process(message) for message in received)))

    assert anyio.run(run) == [True, True, True]
    assert calls == ["DeleteMessageBatch"]
    assert queue.receive(10, 2) == []


def test_message_whose_delete_fails_comes_back(queue: SqsQueue) -> None:
    queue.send(created())
    (message,) = queue.receive(10, 2)
    stale = type(message)(message.id, "not-a-receipt-handle", message.body, message.receive_count)

    async def run() -> tuple[bool, int]:
        consumer = Consumer(queue, _nothing, Blocking(4), name="test", kinds=KINDS, remembers=False)
        return await consumer.process(stale), consumer.handled

    assert anyio.run(run) == (False, 1)
    (again,) = queue.receive(10, 5)  # back after the 1 s visibility timeout
    assert (again.id, again.body, again.receive_count) == (message.id, message.body, 2)


def test_consumer_that_does_not_remember_runs_a_repeat_and_keeps_no_record(queue: SqsQueue) -> None:
    message = created()
    calls: list[QueueMessage] = []

    async def handle(work: QueueMessage) -> None:
        calls.append(work)

    for _ in range(2):
        queue.send(message)
        outcomes, _ = consume(queue, handle, remembers=False)
        assert outcomes == [True]

    assert calls == [message, message]
    assert not idempotency.seen(message.dedupe_key)
    assert queue.receive(10, 2) == []


async def _nothing(message: Any) -> None:
    return None
