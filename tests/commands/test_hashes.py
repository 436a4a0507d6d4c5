"""``docstore backfill-hashes``, run as an operator runs it (a process of its own) on a deployment
of its own on the session's AWS: one ``hash.documents`` message per account, on the backfill queue."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from adapters.aws import AwsTarget
from tests.serving import ROOT, on_aws


def docstore(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_backfill_hashes_asks_the_workers_once_per_account(aws_endpoint: str, target: AwsTarget) -> None:
    prefix = f"hashes-{uuid.uuid4().hex[:8]}"
    env = on_aws(aws_endpoint, prefix)
    assert docstore(env, "init").returncode == 0  # its own tables and queues, which no worker reads
    dynamodb = target.client("dynamodb")
    for account_id in ("A1", "A2"):
        dynamodb.put_item(TableName=f"{prefix}-accounts", Item={"id": {"S": account_id}})

    done = docstore(env, "backfill-hashes")

    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "asked the workers to hash the documents without a content hash of 2 accounts "
        "(the backfill queue; `docstore stats` shows what waits there)\n"
    )
    sqs = target.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{prefix}-backfill")["QueueUrl"]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    bodies = sorted((json.loads(m["Body"]) for m in received), key=lambda body: body["account_id"])
    assert [{k: v for k, v in body.items() if k != "key"} for body in bodies] == [
        {"type": "hash.documents", "account_id": "A1"},
        {"type": "hash.documents", "account_id": "A2"},
    ]
    assert len({body["key"] for body in bodies}) == 2
