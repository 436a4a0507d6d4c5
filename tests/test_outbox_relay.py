"""The outbox's delivery: sent at once after the commit, or by the relay once SQS takes messages again.

Each test sends to queues of its own (``outbox-test-*``), so the session's workers never take its
messages, and SQS refuses at the queue adapter's botocore client, as it would with SQS out of reach.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from ulid import ULID

from adapters.blocking import Blocking
from adapters.queue import DEAD_LETTER_REASON, QUEUES, SqsQueue
from models import accounts, uploads
from models.outbox import Pending
from runtime.outbox import Outbox, Relay
from tests.conftest import clear_outbox

pytestmark = pytest.mark.anyio


class Sqs:
    """Queues of the test's own, and SendMessage refused on them while ``refusing`` is set."""

    def __init__(self, target: Any) -> None:
        client = target.client("sqs")
        self.client = client
        self.queues = {
            name: SqsQueue(target, client.create_queue(QueueName=f"outbox-test-{name}")["QueueUrl"]) for name in QUEUES
        }
        for queue in self.queues.values():
            client.create_queue(QueueName=queue.url.rsplit("/", 1)[-1] + "-dlq")
            client.purge_queue(QueueUrl=queue.url)
            client.purge_queue(QueueUrl=f"{queue.url}-dlq")
            queue.client.meta.events.register("before-parameter-build.sqs.SendMessage", self._before_send)
        self.refusing = False
        self.refused = 0
        #: (body, DelaySeconds) of each SendMessage let through.
        self.sent: list[tuple[dict[str, Any], int]] = []

    def _before_send(self, params: dict[str, Any], **_: Any) -> None:
        if self.refusing:
            self.refused += 1
            raise EndpointConnectionError(endpoint_url="SQS, refusing in tests/workers/test_outbox.py")
        if not params["QueueUrl"].endswith("-dlq"):  # a move to a dead-letter queue is not a send
            self.sent.append((json.loads(params["MessageBody"]), params["DelaySeconds"]))

    def received(self, name: str) -> list[dict[str, Any]]:
        """Every message visible on queue ``name`` now."""
        messages = []
        while batch := self.queues[name].receive(10, 0, visibility_seconds=60):
            messages += [json.loads(message.body) for message in batch]
        return messages

    def dead_letters(self, name: str) -> list[tuple[str, str]]:
        """(body, reason) of every message on the dead-letter queue of queue ``name`` now."""
        url = f"{self.queues[name].url}-dlq"
        found = []
        while batch := self.client.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", []):
            for message in batch:
                found.append((message["Body"], message["MessageAttributes"][DEAD_LETTER_REASON]["StringValue"]))
                self.client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found


@pytest.fixture
def sqs(target) -> Sqs:
    clear_outbox()  # the relay sends whatever is there: only this test's messages
    return Sqs(target)


def new_account(messages: list[Pending]) -> accounts.Account:
    email = f"relay-{ULID()}@example.com".lower()
    return accounts.create(email=email, password_hash="x", plan="FREE", home_region="us-west-2", messages=messages)


def waiting_ids() -> list[str]:
    return sorted(item.id for item in Pending.scan(consistent_read=True))


async def until(check: Callable[[], bool]) -> None:
    """Until ``check()`` holds, 30 s at most (the relay works in a task of its own)."""
    for _ in range(600):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within 30 s")


def relay(sqs: Sqs, age_seconds: float = 0) -> Relay:
    return Relay(Blocking(4), sqs.queues, interval_seconds=0.05, age_seconds=age_seconds, backoff_seconds=0.2)


async def test_delivery_sends_each_message_at_once_and_removes_it(sqs: Sqs) -> None:
    messages: list[Pending] = []
    account = new_account(messages)
    deliveries = Outbox(Blocking(4), sqs.queues, remove_seconds=0)

    await deliveries.deliver(messages)
    await deliveries.aclose()

    assert sqs.received("account-events") == [{"type": "account.created", "account_id": account.id}]
    assert waiting_ids() == []


async def test_a_message_sqs_refuses_stays_until_the_relay_sends_it(sqs: Sqs) -> None:
    messages: list[Pending] = []
    account = new_account(messages)
    deliveries = Outbox(Blocking(4), sqs.queues, remove_seconds=0)
    sqs.refusing = True

    await deliveries.deliver(messages)  # the sign-up answers all the same
    await deliveries.aclose()
    assert waiting_ids() == [messages[0].id]
    with pytest.raises(EndpointConnectionError):
        await relay(sqs).run_once()
    assert waiting_ids() == [messages[0].id]

    sqs.refusing = False
    assert await relay(sqs).run_once() == 1

    assert sqs.received("account-events") == [{"type": "account.created", "account_id": account.id}]
    assert waiting_ids() == []
    assert sqs.refused == 2
    assert sqs.sent == [({"type": "account.created", "account_id": account.id}, 0)]


async def test_the_relay_leaves_messages_younger_than_its_age_to_the_fast_path(sqs: Sqs) -> None:
    messages: list[Pending] = []
    new_account(messages)

    assert await relay(sqs, age_seconds=60).run_once() == 0

    assert waiting_ids() == [messages[0].id]
    assert sqs.received("account-events") == []


async def test_the_relay_sends_a_delayed_message_with_what_is_left_of_its_delay(sqs: Sqs) -> None:
    messages: list[Pending] = []
    account = new_account([])
    clear_outbox()  # the account's own message: only the upload's is left to send
    document = uploads.start(
        account,
        document_id=str(ULID()),
        name="notes.txt",
        content_type="text/plain",
        size=11,
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
        messages=messages,
    )

    # The fast path never sent it; the relay finds it 100 s after the form was handed out.
    sent = await relay(sqs).run_once(now=messages[0].created_at + timedelta(seconds=100))

    body = {"type": "upload.started", "account_id": account.id, "document_id": document.document_id}
    assert sent == 1
    assert sqs.sent == [(body, 90 + 30 + 1 - 100)]
    assert waiting_ids() == []


async def test_the_relay_keeps_trying_while_sqs_refuses_and_sends_once_it_takes(sqs: Sqs) -> None:
    messages: list[Pending] = []
    account = new_account(messages)
    sqs.refusing = True
    running = asyncio.create_task(relay(sqs).run_forever())
    try:
        await until(lambda: sqs.refused >= 3)  # three refusals in a row: retried, never given up
        assert waiting_ids() == [messages[0].id]

        sqs.refusing = False
        await until(lambda: not waiting_ids())
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    assert sqs.received("account-events") == [{"type": "account.created", "account_id": account.id}]


async def test_the_relay_moves_a_message_its_queue_does_not_carry_to_the_dead_letter_queue(sqs: Sqs) -> None:
    messages: list[Pending] = []
    account = new_account(messages)
    broken = '{"type": "account.created"}'  # no account: no worker could act on it
    Pending(id=str(ULID()), queue="account-events", body=broken, created_at=messages[0].created_at).save()

    assert await relay(sqs).run_once() == 2
    assert await relay(sqs).run_once() == 0  # nothing left to try again

    assert sqs.received("account-events") == [{"type": "account.created", "account_id": account.id}]
    assert sqs.dead_letters("account-events") == [
        (
            broken,
            "Object missing required field `account_id` "
            "(expected a JSON object with a type of account.created, account.updated, digest.due)",
        )
    ]
    assert waiting_ids() == []


async def test_discarded_messages_are_removed_unsent(sqs: Sqs) -> None:
    messages: list[Pending] = []
    new_account(messages)
    deliveries = Outbox(Blocking(4), sqs.queues, remove_seconds=0)

    deliveries.discard(messages)
    await deliveries.aclose()

    assert waiting_ids() == []
    assert sqs.received("account-events") == []
