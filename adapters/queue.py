"""SQS queues: each work queue with a dead-letter queue behind it."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

if TYPE_CHECKING:
    from adapters.aws import AwsTarget

#: Work queues by purpose; each gets ``{prefix}-{name}`` and ``{prefix}-{name}-dlq``.
UPLOAD_EVENTS = "upload-events"
ACCOUNT_EVENTS = "account-events"
#: Changes for the search index, consumed by the one process that holds the index's writer.
SEARCH_INDEX = "search-index"
#: Work that may wait: extracting the documents of an account that moved to PREMIUM. Its own
#: queue, consumer and extraction process, so a new upload never waits behind it.
BACKFILL = "backfill"
QUEUES = (UPLOAD_EVENTS, ACCOUNT_EVENTS, SEARCH_INDEX, BACKFILL)
#: What goes on each queue: one class per kind of message, in ``adapters.messages``.
MAX_RECEIVE_COUNT = 5
#: The message attribute that says why a message was sent to a dead-letter queue.
DEAD_LETTER_REASON = "DocStoreReason"


def ensure_queues(target: AwsTarget, prefix: str, *, visibility_seconds: int) -> dict[str, str]:
    """Create the work queues and their dead-letter queues if missing; their URLs by name.

    ``visibility_seconds`` (``DOCSTORE_QUEUE_VISIBILITY_SECONDS``) is each work queue's default
    visibility timeout; a queue created with another value takes the new one."""
    client: Any = target.client("sqs")
    urls = {}
    for name in QUEUES:
        dead = client.create_queue(QueueName=f"{prefix}-{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})
        dead_arn = client.get_queue_attributes(QueueUrl=dead["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)})
        attributes = {"RedrivePolicy": redrive, "VisibilityTimeout": str(visibility_seconds)}
        try:
            urls[name] = client.create_queue(QueueName=f"{prefix}-{name}", Attributes=attributes)["QueueUrl"]
        except client.exceptions.QueueNameExists:
            # SQS refuses to create a queue that exists with other attributes: the setting changed.
            urls[name] = client.get_queue_url(QueueName=f"{prefix}-{name}")["QueueUrl"]
            client.set_queue_attributes(QueueUrl=urls[name], Attributes=attributes)
    return urls


@dataclass(frozen=True)
class Message:
    """One received message: its body as SQS holds it (JSON text, read by ``adapters.messages``),
    and what deleting it takes."""

    id: str
    receipt: str
    body: str
    receive_count: int


class Queue(Protocol):
    """A work queue. Every method is blocking; call it through ``Blocking.run``.

    Delivery is at least once: a message comes back after its visibility timeout unless deleted,
    and moves to the dead-letter queue after ``MAX_RECEIVE_COUNT`` receives, or at once with
    :meth:`dead_letter`.
    """

    @property
    def url(self) -> str:
        """Where the queue is (its SQS URL): what readiness checks ask about."""
        ...

    def send(self, message: msgspec.Struct, delay_seconds: int = 0) -> None:
        """Enqueue a message of ``adapters.messages`` as JSON, visible after ``delay_seconds`` (at most 900)."""
        ...

    def dead_letter(self, body: str, reason: str) -> None:
        """Put ``body`` (a received message's, unchanged) on the queue's dead-letter queue, with
        ``reason`` in its ``DocStoreReason`` attribute; the caller then deletes the original."""
        ...

    def receive(
        self, max_messages: int = 10, wait_seconds: int = 5, visibility_seconds: int | None = None
    ) -> list[Message]:
        """Up to ``max_messages``, waiting up to ``wait_seconds`` for the first (long polling);
        each stays invisible to other consumers for ``visibility_seconds`` (the queue's default
        when None) and comes back after that unless deleted."""
        ...

    def delete(self, message: Message) -> None: ...

    def delete_many(self, messages: list[Message]) -> list[bool]:
        """Delete up to ten messages in one request; whether each one was deleted."""
        ...

    def depth(self) -> int:
        """Messages waiting (approximate, as SQS reports it)."""
        ...

    def dead_letter_depth(self) -> int:
        """Messages in the queue's dead-letter queue (approximate)."""
        ...


class SqsQueue:
    """:class:`Queue` on one SQS queue, known by its URL or by its name.

    Its client is built, and a name looked up, on first use: a process opens every queue, but a
    command such as ``docstore admin`` uses none of them, and ``docstore stats`` only their depth.
    """

    def __init__(self, target: AwsTarget, url: str | None = None, *, name: str | None = None) -> None:
        if (url is None) == (name is None):
            raise ValueError("a queue is given by its URL or by its name: exactly one of the two")
        self._target = target
        self._name = name
        if url is not None:
            self.url = url

    @classmethod
    def named(cls, target: AwsTarget, name: str) -> SqsQueue:
        """The queue called ``name``; its URL is asked for at first use (an error then if it is missing)."""
        return cls(target, name=name)

    @functools.cached_property
    def client(self) -> Any:
        return self._target.client("sqs")

    @functools.cached_property
    def url(self) -> str:
        url: str = self.client.get_queue_url(QueueName=self._name)["QueueUrl"]
        return url

    def send(self, message: msgspec.Struct, delay_seconds: int = 0) -> None:
        # json.dumps of the builtins: the very text the dict bodies of before were sent as.
        body = json.dumps(msgspec.to_builtins(message))
        self.client.send_message(QueueUrl=self.url, MessageBody=body, DelaySeconds=max(0, min(delay_seconds, 900)))

    def dead_letter(self, body: str, reason: str) -> None:
        self.client.send_message(
            QueueUrl=self._dead_letter_url,
            MessageBody=body,
            MessageAttributes={DEAD_LETTER_REASON: {"DataType": "String", "StringValue": reason[:1000] or "-"}},
        )

    def receive(
        self, max_messages: int = 10, wait_seconds: int = 5, visibility_seconds: int | None = None
    ) -> list[Message]:
        options: dict[str, Any] = {} if visibility_seconds is None else {"VisibilityTimeout": visibility_seconds}
        response = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
            **options,
        )
        return [
            Message(
                id=raw["MessageId"],
                receipt=raw["ReceiptHandle"],
                body=raw["Body"],
                receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
            )
            for raw in response.get("Messages", [])
        ]

    def delete(self, message: Message) -> None:
        self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt)

    def delete_many(self, messages: list[Message]) -> list[bool]:
        if not messages:
            return []
        # Ids by position: the same message may be in the batch twice (received again meanwhile).
        entries = [{"Id": str(position), "ReceiptHandle": message.receipt} for position, message in enumerate(messages)]
        response = self.client.delete_message_batch(QueueUrl=self.url, Entries=entries)
        failed = {int(entry["Id"]) for entry in response.get("Failed", [])}
        return [position not in failed for position in range(len(messages))]

    def depth(self) -> int:
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def dead_letter_depth(self) -> int:
        attributes = self.client.get_queue_attributes(
            QueueUrl=self._dead_letter_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    @property
    def _dead_letter_url(self) -> str:
        # A queue's URL ends with its name, and its dead-letter queue is named `<name>-dlq`.
        return f"{self.url}-dlq"
