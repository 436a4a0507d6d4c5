"""The embedded AWS keeps its state in the data folder: across a stop, a restart and a kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from adapters import malloc
from adapters.local_aws import ROOT, EmbeddedAws, EmbeddedAwsError, running_endpoint
from runtime import services as runtime
from settings import Settings
from tests.adapters.test_malloc import thread_arenas


def clients(endpoint: str) -> tuple[Any, Any, Any, Any]:
    options = {
        "endpoint_url": endpoint,
        "region_name": "us-west-2",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return (
        boto3.client("dynamodb", **options),
        boto3.client("s3", **options),
        boto3.client("sqs", **options),
        boto3.client("ses", **options),
    )


def make_table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName="docs",
        KeySchema=[{"AttributeName": "owner", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "owner", "AttributeType": "S"},
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "email", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-email",
                "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def scan(dynamodb: Any) -> list[dict[str, Any]]:
    items = dynamodb.scan(TableName="docs", ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: (item["owner"]["S"], item["id"]["S"]))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "data"


def started(folder: Path) -> EmbeddedAws:
    aws = EmbeddedAws(folder)
    aws.start()
    return aws


def kill(aws: EmbeddedAws) -> None:
    assert aws.pid is not None
    os.kill(aws.pid, signal.SIGKILL)
    aws.stop()


def test_tables_items_and_indexes_come_back_after_a_restart(folder: Path) -> None:
    aws = started(folder)
    dynamodb, *_ = clients(aws.endpoint_url)
    make_table(dynamodb)
    dynamodb.put_item(TableName="docs", Item={"owner": {"S": "a"}, "id": {"S": "1"}, "email": {"S": "a@x"}})
    dynamodb.put_item(TableName="docs", Item={"owner": {"S": "a"}, "id": {"S": "2"}, "n": {"N": "1"}})
    dynamodb.update_item(
        TableName="docs",
        Key={"owner": {"S": "a"}, "id": {"S": "2"}},
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    dynamodb.put_item(TableName="docs", Item={"owner": {"S": "b"}, "id": {"S": "3"}})
    dynamodb.delete_item(TableName="docs", Key={"owner": {"S": "b"}, "id": {"S": "3"}})
    before = scan(dynamodb)
    aws.stop()

    aws = started(folder)
    dynamodb, *_ = clients(aws.endpoint_url)

    assert scan(dynamodb) == before
    assert before == [
        {"owner": {"S": "a"}, "id": {"S": "1"}, "email": {"S": "a@x"}},
        {"owner": {"S": "a"}, "id": {"S": "2"}, "n": {"N": "2"}},
    ]
    by_email = dynamodb.query(
        TableName="docs",
        IndexName="by-email",
        KeyConditionExpression="email = :e",
        ExpressionAttributeValues={":e": {"S": "a@x"}},
    )["Items"]
    assert [item["id"]["S"] for item in by_email] == ["1"]
    # Ready before the items: they load while the server answers (the scan above waited for them).
    assert aws.ready["loaded"]["tables"] == 1
    aws.stop()


def test_objects_keep_their_bytes_on_disk_and_deleted_ones_leave_nothing(folder: Path) -> None:
    aws = started(folder)
    _, s3, *_ = clients(aws.endpoint_url)
    s3.create_bucket(Bucket="kept", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    big = os.urandom(3 * 1024 * 1024)
    s3.put_object(Bucket="kept", Key="a/big.bin", Body=big)
    s3.put_object(Bucket="kept", Key="b.txt", Body=b"first")
    s3.put_object(Bucket="kept", Key="b.txt", Body=b"second")
    s3.put_object(Bucket="kept", Key="gone.txt", Body=b"soon gone")
    s3.delete_object(Bucket="kept", Key="gone.txt")
    s3.put_object(Bucket="kept", Key="a/small.txt", Body=b"small")
    assert [entry["Key"] for entry in s3.list_objects_v2(Bucket="kept", Prefix="a/")["Contents"]] == [
        "a/big.bin",
        "a/small.txt",
    ]  # a listing by prefix before the kill: the server's sorted names of the bucket are made
    s3.delete_object(Bucket="kept", Key="a/small.txt")
    blobs = sorted(path.read_bytes() for path in (folder / "aws" / "blobs").rglob("*") if path.is_file())
    kill(aws)

    aws = started(folder)
    _, s3, *_ = clients(aws.endpoint_url)

    assert blobs == sorted([big, b"second"])
    assert s3.get_object(Bucket="kept", Key="a/big.bin")["Body"].read() == big
    assert s3.get_object(Bucket="kept", Key="b.txt")["Body"].read() == b"second"
    listed = s3.list_objects_v2(Bucket="kept")["Contents"]
    assert [(entry["Key"], entry["Size"]) for entry in listed] == [("a/big.bin", len(big)), ("b.txt", 6)]
    # By prefix, from the names of the loaded bucket: the key deleted before the kill is not among them.
    assert [entry["Key"] for entry in s3.list_objects_v2(Bucket="kept", Prefix="a/")["Contents"]] == ["a/big.bin"]
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket="kept", Key="gone.txt")
    assert missing.value.response["Error"]["Code"] == "404"
    aws.stop()


def test_a_server_side_copy_and_the_lifecycle_rules_survive_a_kill(folder: Path) -> None:
    # What completeUpload and provisioning do: copy a posted file out of staging, then delete it.
    aws = started(folder)
    _, s3, *_ = clients(aws.endpoint_url)
    s3.create_bucket(Bucket="kept", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    rule = {"ID": "staging", "Filter": {"Prefix": "staging/"}, "Status": "Enabled", "Expiration": {"Days": 1}}
    s3.put_bucket_lifecycle_configuration(Bucket="kept", LifecycleConfiguration={"Rules": [rule]})
    s3.put_object(Bucket="kept", Key="staging/a", Body=b"posted", ContentType="text/plain", Metadata={"tags": "x"})
    s3.copy_object(Bucket="kept", Key="a/1/original", CopySource={"Bucket": "kept", "Key": "staging/a"})
    s3.delete_object(Bucket="kept", Key="staging/a")
    kill(aws)

    aws = started(folder)
    _, s3, *_ = clients(aws.endpoint_url)

    copied = s3.get_object(Bucket="kept", Key="a/1/original")
    assert (copied["Body"].read(), copied["ContentType"], copied["Metadata"]) == (
        b"posted",
        "text/plain",
        {"tags": "x"},
    )
    assert [entry["Key"] for entry in s3.list_objects_v2(Bucket="kept")["Contents"]] == ["a/1/original"]
    assert s3.get_bucket_lifecycle_configuration(Bucket="kept")["Rules"] == [rule]
    aws.stop()


def test_delayed_and_in_flight_messages_survive_a_kill(folder: Path) -> None:
    aws = started(folder)
    _, _, sqs, _ = clients(aws.endpoint_url)
    url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    taken = sqs.receive_message(QueueUrl=url, VisibilityTimeout=2)["Messages"]
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=2)
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    done = sqs.send_message(QueueUrl=url, MessageBody="done")
    received = {}
    while done["MessageId"] not in received:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        ):
            received[message["MessageId"]] = message
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received.pop(done["MessageId"])["ReceiptHandle"])
    kill(aws)

    aws = started(folder)
    _, _, sqs, _ = clients(aws.endpoint_url)
    url = sqs.get_queue_url(QueueName="work")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "30"
    }
    bodies: list[str] = []
    deadline = time.monotonic() + 30
    while len(bodies) < 2 and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(message["Body"])
            assert message["Body"] != "waiting" or message["MessageId"] in received

    # The message taken before the kill comes back when its visibility ends, the delayed one when
    # its delay does; the one received for 60 s stays hidden, and the deleted one is gone.
    assert sorted(bodies) == ["delayed", "in flight"]
    assert taken[0]["Body"] == "in flight"
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "3"
    aws.stop()


def test_messages_deleted_in_a_batch_stay_deleted_after_a_kill(folder: Path) -> None:
    aws = started(folder)
    _, _, sqs, _ = clients(aws.endpoint_url)
    url = sqs.create_queue(QueueName="batch", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    for body in ("one", "two", "three"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    received: dict[str, str] = {}
    while len(received) < 3:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            received[message["Body"]] = message["ReceiptHandle"]
    entries = [{"Id": body, "ReceiptHandle": received[body]} for body in ("one", "three")]
    entries.append({"Id": "stale", "ReceiptHandle": "not-a-receipt-handle"})
    answer = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(entry["Id"] for entry in answer["Successful"]) == ["one", "three"]
    assert [entry["Id"] for entry in answer["Failed"]] == ["stale"]
    kill(aws)

    aws = started(folder)
    _, _, sqs, _ = clients(aws.endpoint_url)
    url = sqs.get_queue_url(QueueName="batch")["QueueUrl"]
    bodies: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not bodies:
        answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, VisibilityTimeout=60)
        bodies += [message["Body"] for message in answer.get("Messages", [])]
    # "two" comes back once its 1 s visibility ends; the two deleted in the batch never do.
    assert bodies == ["two"]
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", []) == []
    aws.stop()


def test_dead_letter_moves_visibility_changes_and_purges_survive_a_kill(folder: Path) -> None:
    aws = started(folder)
    _, _, sqs, _ = clients(aws.endpoint_url)
    dead = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 1})
    url = sqs.create_queue(QueueName="jobs", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    purged = sqs.create_queue(QueueName="purged")["QueueUrl"]
    sqs.send_message(QueueUrl=purged, MessageBody="gone")
    sqs.purge_queue(QueueUrl=purged)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]] == ["poison"]
    sqs.send_message(QueueUrl=url, MessageBody="hidden")
    # This receive moves "poison" (received once already) to the dead-letter queue and takes "hidden".
    taken = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)["Messages"]
    assert [m["Body"] for m in taken] == ["hidden"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=taken[0]["ReceiptHandle"], VisibilityTimeout=0)
    kill(aws)

    aws = started(folder)
    _, _, sqs, _ = clients(aws.endpoint_url)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    url, dead, purged = (sqs.get_queue_url(QueueName=name)["QueueUrl"] for name in ("jobs", "jobs-dlq", "purged"))
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"] == {
        "ApproximateNumberOfMessages": "1",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
    assert sqs.get_queue_attributes(QueueUrl=purged, AttributeNames=names)["Attributes"] == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=dead, WaitTimeSeconds=0)["Messages"]] == ["poison"]
    aws.stop()


def test_mail_sent_is_kept(folder: Path) -> None:
    aws = started(folder)
    *_, ses = clients(aws.endpoint_url)
    ses.verify_email_identity(EmailAddress="from@example.com")
    ses.send_email(
        Source="from@example.com",
        Destination={"ToAddresses": ["to@example.com"]},
        Message={"Subject": {"Data": "kept"}, "Body": {"Text": {"Data": "body"}}},
    )
    aws.stop()

    aws = started(folder)
    *_, ses = clients(aws.endpoint_url)

    assert ses.get_send_quota()["SentLast24Hours"] == 1.0
    assert ses.list_identities()["Identities"] == ["from@example.com"]
    aws.stop()


def test_a_transaction_is_there_entirely_or_not_at_all_after_a_kill(folder: Path) -> None:
    aws = started(folder)
    dynamodb, *_ = clients(aws.endpoint_url)
    make_table(dynamodb)
    acknowledged: list[int] = []
    stop = threading.Event()

    def write() -> None:
        for number in range(100_000):
            if stop.is_set():
                return
            try:
                dynamodb.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": "docs", "Item": {"owner": {"S": "t"}, "id": {"S": f"{number:06d}-a"}}}},
                        {"Put": {"TableName": "docs", "Item": {"owner": {"S": "t"}, "id": {"S": f"{number:06d}-b"}}}},
                    ]
                )
            except Exception:
                return
            acknowledged.append(number)

    writer = threading.Thread(target=write)
    writer.start()
    while len(acknowledged) < 40:
        time.sleep(0.01)
    kill(aws)
    stop.set()
    writer.join(timeout=60)

    aws = started(folder)
    dynamodb, *_ = clients(aws.endpoint_url)
    ids = [item["id"]["S"] for item in scan(dynamodb)]
    numbers = sorted({int(name.split("-")[0]) for name in ids})

    assert set(acknowledged) <= set(numbers)
    assert len(numbers) - len(acknowledged) in (0, 1)  # the one in flight at the kill, if it was written
    assert ids == [f"{number:06d}-{half}" for number in numbers for half in "ab"]
    aws.stop()


def test_a_second_embedded_aws_on_one_folder_is_refused(folder: Path) -> None:
    first = started(folder)
    dynamodb, *_ = clients(first.endpoint_url)
    make_table(dynamodb)

    with pytest.raises(EmbeddedAwsError) as refused:
        EmbeddedAws(folder).start()

    assert refused.value.kind == "busy"
    assert str(refused.value) == (
        f"the data folder {folder.resolve()} is in use by another DocStore (pid {first.pid}); "
        "stop it first, or give this one its own folder with --data-dir"
    )
    assert running_endpoint(folder) == first.endpoint_url
    assert dynamodb.list_tables()["TableNames"] == ["docs"]
    first.stop()


def test_a_data_folder_that_cannot_be_written_is_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")

    with pytest.raises(EmbeddedAwsError) as refused:
        EmbeddedAws(tmp_path / "a-file" / "data").start()

    assert refused.value.kind == "folder"
    assert str(refused.value) == f"cannot create the data folder {tmp_path / 'a-file' / 'data'}: Not a directory"


@pytest.mark.parametrize(
    ("make_state", "reason"),
    [
        # Every write to /dev/full fails with ENOSPC, as on a full disk.
        (lambda state: state.symlink_to("/dev/full"), "database or disk is full"),
        (lambda state: state.write_bytes(b"this is not SQLite" * 100), "file is not a database"),
    ],
    ids=["full-disk", "not-a-state-file"],
)
def test_a_state_file_that_cannot_be_kept_is_a_sentence(
    tmp_path: Path, make_state: Callable[[Path], object], reason: str
) -> None:
    state = tmp_path / "aws" / "state.sqlite3"
    state.parent.mkdir(parents=True)
    make_state(state)

    with pytest.raises(EmbeddedAwsError) as refused:
        EmbeddedAws(tmp_path).start()

    assert refused.value.kind == "folder"
    assert str(refused.value) == f"cannot keep data in {state}: {reason}"
    assert not (tmp_path / "aws-endpoint.json").exists()
    assert sorted(path.name for path in (tmp_path / "aws").iterdir()) == ["aws.lock", "blobs", "state.sqlite3"]


def test_the_embedded_aws_ends_with_the_process_that_started_it(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from adapters.local_aws import EmbeddedAws\n"
        "aws = EmbeddedAws(Path(sys.argv[1])); aws.start(); print(aws.pid, flush=True); sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "data")],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert running_endpoint(tmp_path / "data") is not None

    parent.kill()
    parent.wait()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text()
    assert running_endpoint(tmp_path / "data") is None


def test_after_a_crash_object_files_nothing_names_are_removed_and_named_ones_kept(folder: Path) -> None:
    aws = started(folder)
    _, s3, *_ = clients(aws.endpoint_url)
    s3.create_bucket(Bucket="kept", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.put_object(Bucket="kept", Key="named.txt", Body=b"named")
    kill(aws)
    # What a kill between a commit and the removal of a replaced value's file leaves behind.
    stray = folder / "aws" / "blobs" / "ff" / "ff-orphan"
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"nothing names me")

    aws = started(folder)
    _, s3, *_ = clients(aws.endpoint_url)
    s3.put_object(Bucket="kept", Key="new.txt", Body=b"written while the sweep runs")

    deadline = time.monotonic() + 30
    while stray.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not stray.exists()
    assert s3.get_object(Bucket="kept", Key="named.txt")["Body"].read() == b"named"
    assert s3.get_object(Bucket="kept", Key="new.txt")["Body"].read() == b"written while the sweep runs"
    files = sorted(path.read_bytes() for path in (folder / "aws" / "blobs").rglob("*") if path.is_file())
    assert files == [b"named", b"written while the sweep runs"]
    aws.stop()


def test_the_settings_for_threads_connections_turns_and_arenas_reach_the_embedded_aws(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "DOCSTORE_DATA_DIR": str(tmp_path),
            "DOCSTORE_EMBEDDED_THREADS": "3",
            "DOCSTORE_EMBEDDED_CONNECTIONS": "20",
            "DOCSTORE_MALLOC_ARENAS": "1",
            "DOCSTORE_EMBEDDED_PEOPLE_BURST": "7",
        }
    )
    aws = runtime.start_embedded_aws(settings)
    try:
        assert (aws.ready["threads"], aws.ready["connections"], aws.ready["people_burst"]) == (3, 20, 7)
        client = boto3.client(
            "dynamodb",
            endpoint_url=aws.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
        )
        with ThreadPoolExecutor(3) as pool:  # the server's three threads each serve and allocate
            assert list(pool.map(lambda _: client.list_tables()["TableNames"], range(30))) == [[]] * 30
        assert malloc.ENVIRONMENT.encode() + b"=1" in Path(f"/proc/{aws.pid}/environ").read_bytes().split(b"\0")
        assert thread_arenas(aws.pid) == 0  # one arena, the main one, for every thread (5 without the limit)
    finally:
        aws.stop()
