"""Creating the queues: their visibility timeout is the setting's, also when the setting changes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from adapters.aws import AwsTarget
from adapters.queue import MAX_RECEIVE_COUNT, QUEUES, ensure_queues


def attributes(sqs: Any, url: str) -> dict[str, str]:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_every_work_queue_takes_its_visibility_timeout_from_the_setting(target: AwsTarget) -> None:
    prefix = f"vis-{uuid.uuid4().hex[:8]}"
    sqs: Any = target.client("sqs")

    urls = ensure_queues(target, prefix, visibility_seconds=123)

    assert sorted(urls) == sorted(QUEUES)
    for name, url in urls.items():
        created = attributes(sqs, url)
        dead = attributes(sqs, sqs.get_queue_url(QueueName=f"{prefix}-{name}-dlq")["QueueUrl"])
        assert created["VisibilityTimeout"] == "123"
        assert json.loads(created["RedrivePolicy"]) == {
            "deadLetterTargetArn": dead["QueueArn"],
            "maxReceiveCount": MAX_RECEIVE_COUNT,
        }
        assert dead["VisibilityTimeout"] == "30"  # SQS's default: nothing takes messages from it


def test_a_changed_setting_changes_the_queues_that_exist_and_keeps_their_messages(target: AwsTarget) -> None:
    prefix = f"vis-{uuid.uuid4().hex[:8]}"
    sqs: Any = target.client("sqs")
    before = ensure_queues(target, prefix, visibility_seconds=300)
    sqs.send_message(QueueUrl=before[QUEUES[0]], MessageBody="waiting")

    after = ensure_queues(target, prefix, visibility_seconds=45)

    assert after == before
    assert {name: attributes(sqs, url)["VisibilityTimeout"] for name, url in after.items()} == dict.fromkeys(
        QUEUES, "45"
    )
    (message,) = sqs.receive_message(QueueUrl=after[QUEUES[0]], WaitTimeSeconds=0)["Messages"]
    assert message["Body"] == "waiting"


def test_the_same_setting_again_changes_nothing(target: AwsTarget) -> None:
    prefix = f"vis-{uuid.uuid4().hex[:8]}"
    sqs: Any = target.client("sqs")
    before = ensure_queues(target, prefix, visibility_seconds=60)
    shown = {name: attributes(sqs, url) for name, url in before.items()}

    assert ensure_queues(target, prefix, visibility_seconds=60) == before
    assert {name: attributes(sqs, url) for name, url in before.items()} == shown
