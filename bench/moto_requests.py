"""What one request costs the embedded AWS: its CPU time, moto as released against moto with
DocStore's speedups (adapters/moto_speedups.py and adapters/moto_direct.py), in the same run.

Two embedded AWS processes (adapters/aws_process.py, durable, on waitress) run side by side, one
started with ``--moto-as-released``. Each gets the same data: a documents-like table (owner and
id, a local index by name) holding ``ITEMS`` items over ``OWNERS`` owners, and an SQS queue holding
``BACKLOG`` messages. Then each kind of request DocStore makes is sent ``ROUNDS`` times to one side
and then the other, alternating in blocks (ABBA), and the server's CPU time (user + system, from
``/proc``) is divided by the number of requests. CPU time, not latency: a shared machine slows both
alike, but a request's CPU stays what it is. Each figure is the median of the blocks.

The query rows are the "cost flat with size" figure: a query of one owner's 20 newest documents
costs the same CPU whatever the table holds, once the speedups read only that owner's partition.
So is the listing row: a bucket holds one object for every ``OBJECTS_PER_ITEM`` items of the table,
and one document's thumbnails are listed by their prefix, as the pipeline does after each document.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from tqdm import tqdm

from adapters import one_send
from adapters.local_aws import EmbeddedAws

if TYPE_CHECKING:
    from collections.abc import Callable

NAME = "moto_requests"
OWNERS = 100
#: Items in the table, by run kind.
SIZES = (1_000, 20_000)
QUICK_SIZES = (200, 1_000)
BACKLOG = 1_000
QUICK_BACKLOG = 100
#: Requests per block, and blocks per side (ABBA order).
BLOCK = 200
QUICK_BLOCK = 20
BLOCKS = 4
BLOCK_SECONDS = 3.0
MIN_BLOCK = 5
TICKS = os.sysconf("SC_CLK_TCK")
TABLE = "documents"
QUEUE = "uploads"
BUCKET = "documents"
#: The bucket holds one object per this many items of the table (S3 has no batch put to fill it faster).
OBJECTS_PER_ITEM = 4
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"


def progress(line: str) -> None:
    tqdm.write(f"[{NAME}] {line}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Side:
    name: str
    aws: EmbeddedAws
    dynamodb: Any
    sqs: Any
    s3: Any
    queue_url: str = ""
    objects: int = 0

    @property
    def pid(self) -> int:
        assert self.aws.pid is not None
        return self.aws.pid


def open_side(name: str, folder: Path, *, moto_as_released: bool) -> Side:
    aws = EmbeddedAws(folder, moto_as_released=moto_as_released)
    endpoint = aws.start()
    config = Config(region_name="us-east-1", max_pool_connections=4, retries={"mode": "standard"})
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key="secret", region_name="us-east-1"
    )
    return Side(
        name,
        aws,
        session.client("dynamodb", endpoint_url=endpoint, config=config),
        session.client("sqs", endpoint_url=endpoint, config=config),
        session.client("s3", endpoint_url=endpoint, config=config),
    )


def fill(side: Side, items: int, backlog: int) -> None:
    """The table with ``items`` documents (what is already there is kept) and the queue's backlog."""
    client = side.dynamodb
    if TABLE not in client.list_tables()["TableNames"]:
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "owner", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "owner", "AttributeType": "S"},
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": "name", "AttributeType": "S"},
            ],
            LocalSecondaryIndexes=[
                {
                    "IndexName": "by_name",
                    "KeySchema": [
                        {"AttributeName": "owner", "KeyType": "HASH"},
                        {"AttributeName": "name", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        side.queue_url = side.sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        for start in range(0, backlog, 10):
            entries = [{"Id": str(n), "MessageBody": f'{{"n": {start + n}}}'} for n in range(10)]
            side.sqs.send_message_batch(QueueUrl=side.queue_url, Entries=entries)
        side.s3.create_bucket(Bucket=BUCKET)
    for number in range(side.objects, items // OBJECTS_PER_ITEM):
        side.s3.put_object(Bucket=BUCKET, Key=thumbnail(number), Body=b"webp")
    side.objects = max(side.objects, items // OBJECTS_PER_ITEM)
    held = client.describe_table(TableName=TABLE)["Table"]["ItemCount"]
    for start in range(held, items, 25):
        requests = [{"PutRequest": {"Item": document(number)}} for number in range(start, min(start + 25, items))]
        client.batch_write_item(RequestItems={TABLE: requests})


def thumbnail(number: int) -> str:
    return f"thumbnails/owner-{number % OWNERS:03d}/doc-{number:08d}/{number:064x}/256.webp"


def document(number: int) -> dict[str, Any]:
    return {
        "owner": {"S": f"owner-{number % OWNERS:03d}"},
        "id": {"S": f"doc-{number:08d}"},
        "name": {"S": f"report {number * 7919 % 100_003:06d}.pdf"},
        "size": {"N": str(1000 + number)},
        "status": {"S": "READY"},
        "content_type": {"S": "application/pdf"},
        "tags": {"L": [{"S": "work"}, {"S": f"t{number % 13}"}]},
        "created_at": {"S": "2026-12-02T03:00:00+00:00"},
    }


def operations(side: Side, size: int) -> dict[str, Callable[[int], Any]]:
    """Each kind of request, as DocStore makes it; the argument picks one of the ``size`` documents."""
    client, sqs = side.dynamodb, side.sqs

    def key(number: int) -> dict[str, Any]:
        number %= size
        return {"owner": {"S": f"owner-{number % OWNERS:03d}"}, "id": {"S": f"doc-{number:08d}"}}

    def owner(number: int) -> dict[str, Any]:
        return {":o": {"S": f"owner-{number % OWNERS:03d}"}}

    return {
        "GetItem": lambda n: client.get_item(TableName=TABLE, Key=key(n), ConsistentRead=True),
        "UpdateItem (SET, ADD)": lambda n: client.update_item(
            TableName=TABLE,
            Key=key(n),
            UpdateExpression="SET #s = :s ADD #v :one",
            ExpressionAttributeNames={"#s": "status", "#v": "version"},
            ExpressionAttributeValues={":s": {"S": "READY"}, ":one": {"N": "1"}},
        ),
        "PutItem (condition)": lambda n: client.put_item(
            TableName=TABLE,
            Item={**document(n), "id": {"S": f"new-{n:08d}-{time.monotonic_ns()}"}},
            ConditionExpression="attribute_not_exists(id)",
        ),
        "TransactWriteItems (Put + Update)": lambda n: client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {**document(n), "id": {"S": f"tx-{n:08d}-{time.monotonic_ns()}"}},
                    }
                },
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key(n),
                        "UpdateExpression": "ADD #v :one",
                        "ExpressionAttributeNames": {"#v": "version"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        ),
        "Query (one owner's newest 20)": lambda n: client.query(
            TableName=TABLE,
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues=owner(n),
            ScanIndexForward=False,
            Limit=20,
        ),
        "Query, local index (by name, 20)": lambda n: client.query(
            TableName=TABLE,
            IndexName="by_name",
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues=owner(n),
            Limit=20,
        ),
        "SQS ReceiveMessage (10, from the backlog)": lambda n: sqs.receive_message(
            QueueUrl=side.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
        ),
        "SQS GetQueueAttributes (depth)": lambda n: sqs.get_queue_attributes(
            QueueUrl=side.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        ),
        "S3 ListObjectsV2 (one document's thumbnails)": lambda n: side.s3.list_objects_v2(
            Bucket=BUCKET, Prefix=thumbnail(n % max(side.objects, 1)).rsplit("/", 2)[0] + "/"
        ),
    }


def measure(sides: list[Side], size: int, block: int) -> dict[str, dict[str, float]]:
    """CPU ms per request: {operation: {side: median over blocks}}."""
    samples: dict[str, dict[str, list[float]]] = {}
    order = [sides[0], sides[1], sides[1], sides[0]] * (BLOCKS // 2)
    counter = 0
    for side in order:
        for operation, call in operations(side, size).items():
            before, began, sent = cpu_seconds(side.pid), time.monotonic(), 0
            # A block ends after `block` requests or BLOCK_SECONDS, whichever comes first (at least
            # MIN_BLOCK): moto as released takes a second per query at 20,000 items.
            while sent < block and (sent < MIN_BLOCK or time.monotonic() - began < BLOCK_SECONDS):
                call(counter)
                counter += 1
                sent += 1
            spent = cpu_seconds(side.pid) - before
            samples.setdefault(operation, {}).setdefault(side.name, []).append(1000 * spent / sent)
    return {
        op: {name: statistics.median(values) for name, values in by_side.items()} for op, by_side in samples.items()
    }


def run(*, quick: bool, command: str) -> str:
    sizes = QUICK_SIZES if quick else SIZES
    backlog = QUICK_BACKLOG if quick else BACKLOG
    block = QUICK_BLOCK if quick else BLOCK
    started = datetime.now(UTC)
    results: dict[int, dict[str, dict[str, float]]] = {}
    one_send.install()  # both sides get each request in one write, as DocStore's clients send it
    with tempfile.TemporaryDirectory(prefix="docstore-bench-moto-") as tmp:
        sides = [
            open_side("moto as released", Path(tmp) / "released", moto_as_released=True),
            open_side("with the speedups", Path(tmp) / "speedups", moto_as_released=False),
        ]
        try:
            for size in sizes:
                for side in sides:
                    progress(f"{side.name}: filling to {size:,} items")
                    fill(side, size, backlog)
                progress(f"{size:,} items: measuring")
                results[size] = measure(sides, size, block)
        finally:
            for side in sides:
                side.aws.stop()
    return section(results, sizes, backlog=backlog, block=block, started=started, command=command)


def section(
    results: dict[int, dict[str, dict[str, float]]],
    sizes: tuple[int, ...],
    *,
    backlog: int,
    block: int,
    started: datetime,
    command: str,
) -> str:
    released, fast = "moto as released", "with the speedups"
    lines = [
        "## What one request costs the embedded AWS: moto as released against DocStore's speedups",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`, on {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; moto {metadata.version('moto')}, waitress {metadata.version('waitress')}, "
        f"boto3 {metadata.version('boto3')}.",
        "",
        "Two embedded AWS processes side by side, one started with `--moto-as-released` (no "
        "`adapters/moto_speedups.py`, no `adapters/moto_direct.py`), each holding the same documents-like "
        "table (owner and id, a local "
        f"index by name, {OWNERS} owners), an SQS queue with {backlog:,} messages waiting and an S3 bucket "
        f"with one object for every {OBJECTS_PER_ITEM} items of the table. Each kind of "
        f"request is sent in blocks of {block} (or fewer, {BLOCK_SECONDS:.0f} s at most, at least {MIN_BLOCK}) to one "
        f"side and then the other (ABBA, {BLOCKS} blocks a side), "
        "and the server's CPU time over the block (user + system, from `/proc`) is divided by the requests: "
        "milliseconds of CPU per request, the median of the blocks. CPU time, not latency: it stays what it "
        "is on a busy machine. The requests are sent as DocStore's clients send them (boto3, head and body "
        "in one write: `adapters/one_send.py`), to both sides alike.",
        "",
        "| request | items in the table | moto as released (ms CPU) | with the speedups (ms CPU) "
        "| speedups / released |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for operation in results[sizes[0]]:
        for size in sizes:
            figures = results[size][operation]
            lines.append(
                f"| {operation} | {size:,} | {figures[released]:.2f} | {figures[fast]:.2f} | "
                f"**{figures[fast] / figures[released]:.2f}** |"
            )
    small, large = sizes[0], sizes[-1]
    lines += ["", f"Cost with {large:,} items divided by the cost with {small:,} (flat is 1.0):", ""]
    lines += ["| request | moto as released | with the speedups |", "| --- | ---: | ---: |"]
    for operation in results[small]:
        ratios = [results[large][operation][side] / results[small][operation][side] for side in (released, fast)]
        lines.append(f"| {operation} | {ratios[0]:.2f} | {ratios[1]:.2f} |")
    return "\n".join(lines)
