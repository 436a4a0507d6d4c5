"""SQS queues: each work queue with a dead-letter queue behind it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.aws import AwsTarget

#: Work queues by purpose; each gets ``{prefix}-{name}`` and ``{prefix}-{name}-dlq``.
QUEUES = ("upload-events", "account-events")
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
