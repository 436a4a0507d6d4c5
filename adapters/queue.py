"""SQS queues: each work queue with a dead-letter queue behind it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from adapters.aws import AwsTarget

#: Work queues by purpose; each gets ``{prefix}-{name}`` and ``{prefix}-{name}-dlq``.
UPLOAD_EVENTS = "upload-events"
ACCOUNT_EVENTS = "account-events"
QUEUES = (UPLOAD_EVENTS, ACCOUNT_EVENTS)

#: Message types: the contract between the API, which sends them, and the workers.
UPLOAD_STARTED = "upload.started"  # on upload-events, delayed until the form has expired
UPLOAD_COMPLETED = "upload.completed"  # on upload-events
DOCUMENT_DELETED = "document.deleted"  # on upload-events: re-check the account's quota level
ACCOUNT_CREATED = "account.created"  # on account-events
MAX_RECEIVE_COUNT = 5


def ensure_queues(target: AwsTarget, prefix: str) -> dict[str, str]:
    """Create the work queues and their dead-letter queues if missing; their URLs by name."""
    client: Any = target.client("sqs")
    urls = {}
    for name in QUEUES:
        dead = client.create_queue(QueueName=f"{prefix}-{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})
        dead_arn = client.get_queue_attributes(QueueUrl=dead["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)})
        queue = client.create_queue(
            QueueName=f"{prefix}-{name}",
            Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "300"},
        )
        urls[name] = queue["QueueUrl"]
    return urls


@dataclass(frozen=True)
class Message:
    """One received message: its body, and what deleting it takes."""

    id: str
    receipt: str
    body: dict[str, Any]
    receive_count: int


class Queue(Protocol):
    """A work queue. Every method is blocking; call it through ``Blocking.run``.

    Delivery is at least once: a message comes back after its visibility timeout unless deleted,
    and moves to the dead-letter queue after ``MAX_RECEIVE_COUNT`` receives.
    """

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        """Enqueue a JSON body, visible after ``delay_seconds`` (at most 900)."""
        ...

    def receive(
        self, max_messages: int = 10, wait_seconds: int = 5, visibility_seconds: int | None = None
    ) -> list[Message]:
        """Up to ``max_messages``, waiting up to ``wait_seconds`` for the first (long polling);
        each stays invisible to other consumers for ``visibility_seconds`` (the queue's default
        when None) and comes back after that unless deleted."""
        ...

    def delete(self, message: Message) -> None: ...

    def depth(self) -> int:
        """Messages waiting (approximate, as SQS reports it)."""
        ...


class SqsQueue:
    """:class:`Queue` on one SQS queue."""

    def __init__(self, target: AwsTarget, url: str) -> None:
        self.client: Any = target.client("sqs")
        self.url = url

    @classmethod
    def named(cls, target: AwsTarget, name: str) -> SqsQueue:
        client: Any = target.client("sqs")
        return cls(target, client.get_queue_url(QueueName=name)["QueueUrl"])

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        self.client.send_message(
            QueueUrl=self.url, MessageBody=json.dumps(body), DelaySeconds=max(0, min(delay_seconds, 900))
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
        messages = []
        for raw in response.get("Messages", []):
            try:
                body = json.loads(raw["Body"])
            except ValueError:
                body = {"type": "malformed", "raw": raw["Body"][:200]}
            messages.append(
                Message(
                    id=raw["MessageId"],
                    receipt=raw["ReceiptHandle"],
                    body=body if isinstance(body, dict) else {"type": "malformed"},
                    receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
                )
            )
        return messages

    def delete(self, message: Message) -> None:
        self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt)

    def depth(self) -> int:
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])
