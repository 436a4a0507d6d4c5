"""moto with adapters/moto_slim.py gives the answers moto gives without it, pickles its records to
the same state, and keeps a document's records in about half the memory: DynamoDB and S3 through
boto3 against moto's server in this process, and moto's models directly."""

from __future__ import annotations

import base64
import concurrent.futures
import gc
import json
import multiprocessing
import pickle
import sys
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamo_type, dynamodb_backends
from moto.s3.models import FakeKey, get_canned_acl, s3_backends
from moto.sqs.models import sqs_backends

from adapters import moto_patches, moto_slim
from adapters.local_aws import EmbeddedAws
from tests.adapters.test_embedded_aws import clients, make_table, scan
from tests.adapters.test_moto_speedups import EVERY_TYPE, conversation

REGION = "us-west-2"

#: A document's record as DocStore writes it (24 attributes; 27 values with its lists' elements).
DOCUMENT: dict[str, Any] = {
    "owner_id": {"S": "01M8XZQDVG01YYYNEB9EWEWXTB"},
    "document_id": {"S": "01M8XZQG7H4B80AH8AW00B0YNX"},
    "content_type": {"S": "application/pdf"},
    "created_at": {"S": "2026-12-03T12:58:04.401824+0000"},
    "declared_size": {"N": "1315"},
    "description": {"S": ""},
    "name": {"S": "minutes-recipe-1-4-renamed.pdf"},
    "name_folded": {"S": "minutes-recipe-1-4-renamed.pdf"},
    "name_key": {"S": "minutes-recipe-1-4-renamed.pdf\x1f01M8XZQG7H4B80AH8AW00B0YNX"},
    "object_key": {"S": "01M8XZQDVG01YYYNEB9EWEWXTB/01M8XZQG7H4B80AH8AW00B0YNX/87bc9fafbbfe0d08/original"},
    "path": {"S": "/minutes-recipe-1-4.pdf"},
    "path_key": {"S": "/minutes-recipe-1-4.pdf"},
    "size": {"N": "1315"},
    "status": {"S": "READY"},
    "tags": {"L": [{"S": "bench"}]},
    "updated_at": {"S": "2026-12-03T12:58:11.101032+0000"},
    "updated_key": {"S": "2026-12-03T12:58:11.101032+0000#01M8XZQG7H4B80AH8AW00B0YNX"},
    "upload_expires_at": {"S": "2026-12-03T12:58:19.401824+0000"},
    "checksum": {"S": "84322aff54d899378bfc6d5f20193b29"},
    "counted_plan": {"S": "FREE"},
    "counted_type": {"S": "application/pdf"},
    "content_hash": {"S": "909ff34f07f18cd4a90043590fec944b17b2beabed4c3a823c9b51ddc7c8001e"},
    "thumbnail_hash": {"S": "909ff34f07f18cd4a90043590fec944b17b2beabed4c3a823c9b51ddc7c8001e"},
    "thumbnail_sizes": {"L": [{"N": "256"}, {"N": "1024"}]},
}


def wire(value: Any) -> Any:
    """``value`` as it crosses the wire (and moto keeps it): binary values in base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {name: wire(inner) for name, inner in value.items()}
    if isinstance(value, list):
        return [wire(inner) for inner in value]
    return value


#: A record holding every type DynamoDB stores, besides a document's attributes.
EVERYTHING = {**DOCUMENT, **wire(EVERY_TYPE)}


@pytest.fixture(autouse=True)
def moto_as_it_was() -> Iterator[None]:
    was_installed = moto_slim.installed()
    yield
    if was_installed:
        moto_slim.install()
    else:
        moto_slim.uninstall()


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def answer(call: Callable[[], dict[str, Any]]) -> Any:
    """What boto3 returned (bodies read), or the error it raised; without what differs on every
    call (request ids, dates, the time of a write)."""
    try:
        response = call()
    except ClientError as error:
        return {"error": error.response["Error"], "status": error.response["ResponseMetadata"]["HTTPStatusCode"]}
    metadata = response.pop("ResponseMetadata")
    varying = ("date", "last-modified", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2")
    headers = {name: value for name, value in metadata["HTTPHeaders"].items() if name not in varying}
    if "Body" in response:
        response["Body"] = response["Body"].read()
    return {"status": metadata["HTTPStatusCode"], "headers": headers, **timeless(response)}


def timeless(value: Any) -> Any:
    """``value`` without the times of writes (``LastModified``, wherever it is)."""
    if isinstance(value, dict):
        return {name: timeless(inner) for name, inner in value.items() if name != "LastModified"}
    if isinstance(value, list):
        return [timeless(inner) for inner in value]
    return value


def versions_named(answers: list[Any]) -> list[Any]:
    """``answers`` with each version id (random in moto) replaced by the order it first appeared in."""
    seen: dict[str, str] = {}

    def named(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {name: named(inner, name) for name, inner in value.items()}
        if isinstance(value, list):
            return [named(inner, key) for inner in value]
        if isinstance(value, str) and "versionid" in key.lower().replace("-", ""):
            return seen.setdefault(value, f"version {len(seen) + 1}")
        return value

    return [named(each) for each in answers]


def s3_conversation(s3: Any, bucket: str) -> list[Any]:
    """What DocStore asks of S3 and more: writes with metadata, reads, ranges, copies, listings,
    ACLs, versions, delete markers, a multipart upload and errors; the answers in order."""
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    versioned = f"{bucket}-v"
    s3.create_bucket(Bucket=versioned, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    metadata = {"tags": "a,b", "description": ""}
    calls: list[Callable[[], Any]] = [
        lambda: s3.put_object(Bucket=bucket, Key="o/a.pdf", Body=b"%PDF-1.4 a", ContentType="application/pdf"),
        lambda: s3.put_object(Bucket=bucket, Key="o/b.txt", Body=b"text", Metadata=metadata, ContentType="text/plain"),
        lambda: s3.put_object(Bucket=bucket, Key="o/c", Body=b"", ContentEncoding="gzip", StorageClass="STANDARD_IA"),
        lambda: s3.head_object(Bucket=bucket, Key="o/b.txt"),
        lambda: s3.get_object(Bucket=bucket, Key="o/b.txt"),
        lambda: s3.get_object(Bucket=bucket, Key="o/a.pdf", Range="bytes=2-5"),
        lambda: s3.head_object(Bucket=bucket, Key="o/c"),
        lambda: s3.copy_object(Bucket=bucket, Key="o/d.txt", CopySource={"Bucket": bucket, "Key": "o/b.txt"}),
        lambda: s3.copy_object(
            Bucket=bucket,
            Key="o/e.txt",
            CopySource={"Bucket": bucket, "Key": "o/b.txt"},
            Metadata={"tags": "c"},
            MetadataDirective="REPLACE",
        ),
        lambda: s3.head_object(Bucket=bucket, Key="o/e.txt"),
        lambda: s3.list_objects_v2(Bucket=bucket, Prefix="o/"),
        lambda: s3.list_objects(Bucket=bucket, Delimiter="/"),
        lambda: s3.get_object_acl(Bucket=bucket, Key="o/a.pdf"),
        lambda: s3.put_object_acl(Bucket=bucket, Key="o/a.pdf", ACL="public-read"),
        lambda: s3.get_object_acl(Bucket=bucket, Key="o/a.pdf"),
        lambda: s3.put_object_tagging(Bucket=bucket, Key="o/a.pdf", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}),
        lambda: s3.get_object_tagging(Bucket=bucket, Key="o/a.pdf"),
        lambda: s3.delete_object(Bucket=bucket, Key="o/a.pdf"),
        lambda: s3.head_object(Bucket=bucket, Key="o/a.pdf"),
        lambda: s3.get_object(Bucket=bucket, Key="o/none"),
        lambda: s3.put_object(Bucket=versioned, Key="k", Body=b"one", Metadata=metadata),
        lambda: s3.put_object(Bucket=versioned, Key="k", Body=b"two"),
        lambda: s3.list_object_versions(Bucket=versioned),
        lambda: s3.delete_object(Bucket=versioned, Key="k"),
        lambda: s3.get_object(Bucket=versioned, Key="k"),
        lambda: s3.list_object_versions(Bucket=versioned),
    ]
    answers = [answer(call) for call in calls]
    oldest = s3.list_object_versions(Bucket=versioned)["Versions"][-1]["VersionId"]  # newest first
    answers.append(answer(lambda: s3.get_object(Bucket=versioned, Key="k", VersionId=oldest)))
    upload = s3.create_multipart_upload(Bucket=bucket, Key="o/big", Metadata=metadata)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="o/big", UploadId=upload, PartNumber=1, Body=b"p" * 100)
    answers.append(
        answer(
            lambda: s3.complete_multipart_upload(
                Bucket=bucket,
                Key="o/big",
                UploadId=upload,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
            )
        )
    )
    answers.append(answer(lambda: s3.get_object(Bucket=bucket, Key="o/big")))
    return versions_named(answers)


def drop_buckets(s3: Any, bucket: str) -> None:
    for name in (bucket, f"{bucket}-v"):
        for version in s3.list_object_versions(Bucket=name).get("Versions", []):
            s3.delete_object(Bucket=name, Key=version["Key"], VersionId=version["VersionId"])
        for marker in s3.list_object_versions(Bucket=name).get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=marker["Key"], VersionId=marker["VersionId"])
        s3.delete_bucket(Bucket=name)


# -- the answers ---------------------------------------------------------------------------------


def test_every_dynamodb_answer_is_the_one_moto_gives_without_it(moto_endpoint: str) -> None:
    dynamodb = client(moto_endpoint, "dynamodb")
    table = f"t-{uuid.uuid4().hex[:8]}"
    moto_slim.uninstall()
    assert not moto_slim.installed()
    expected = conversation(dynamodb, table)
    moto_slim.install()
    assert moto_slim.installed()
    got = conversation(dynamodb, table)

    assert got == expected
    assert expected[3]["Item"] == {"pk": {"S": "p"}, "sk": {"N": "1"}, **EVERY_TYPE}
    assert expected[9]["Attributes"] == {"counter": {"N": "6"}}
    assert expected[14]["error"]["Code"] == "ConditionalCheckFailedException"


def test_every_s3_answer_is_the_one_moto_gives_without_it(moto_endpoint: str) -> None:
    s3 = client(moto_endpoint, "s3")
    moto_slim.uninstall()
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    expected = s3_conversation(s3, bucket)
    drop_buckets(s3, bucket)
    moto_slim.install()
    got = s3_conversation(s3, bucket)
    drop_buckets(s3, bucket)

    assert got == expected
    # The conversation says something: metadata, ranges, copies, versions and errors came back.
    assert expected[3]["Metadata"] == {"tags": "a,b", "description": ""}
    assert expected[5]["Body"] == b"DF-1"
    assert expected[6]["StorageClass"] == "STANDARD_IA"
    assert expected[9]["Metadata"] == {"tags": "c"}
    assert [entry["Key"] for entry in expected[10]["Contents"]] == ["o/a.pdf", "o/b.txt", "o/c", "o/d.txt", "o/e.txt"]
    assert expected[18]["status"] == 404
    assert expected[19]["error"]["Code"] == "NoSuchKey"
    assert expected[24]["error"]["Code"] == "NoSuchKey"
    assert [version["VersionId"] for version in expected[25]["Versions"]] == ["version 2", "version 1"]
    assert expected[26]["Body"] == b"one"
    assert expected[-1]["Body"] == b"p" * 100


def test_no_module_of_moto_or_docstore_names_moto_s_class_once_installed() -> None:
    import moto.dynamodb.parsing.executors  # noqa: F401 (loaded lazily by moto: must be there)

    moto_slim.install()
    still = sorted(
        name
        for name, module in sys.modules.items()
        if name.startswith(("moto.", "adapters.")) and vars(module).get("DynamoType") is moto_slim.MOTO_DYNAMO_TYPE
    )
    naming = sorted(
        name
        for name, module in sys.modules.items()
        if name.startswith("moto.dynamodb") and vars(module).get("DynamoType") is moto_slim.slim_dynamo_type()
    )

    assert still == []
    assert "moto.dynamodb.parsing.executors" in naming
    assert "moto.dynamodb.models.dynamo_type" in naming
    assert (
        dynamo_type.Item(dynamo_type.DynamoType({"S": "h"}), None, {"a": {"L": [{"S": "x"}]}})
        .attrs["a"]
        .value[0]
        .__class__
        is moto_slim.slim_dynamo_type()
    )


def test_another_moto_release_is_refused_and_nothing_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_slim.uninstall()
    monkeypatch.setattr(moto_slim.moto, "__version__", "5.3.0")
    with pytest.raises(moto_patches.UnsupportedMoto, match=r"moto 5\.3\.0 is installed"):
        moto_slim.install()
    assert not moto_slim.installed()
    assert "_storage_class" not in vars(FakeKey)


# -- the records ---------------------------------------------------------------------------------


def put_items(table_name: str, count: int, body: dict[str, Any]) -> list[Any]:
    """``count`` items put as a request puts them (attributes from parsed JSON), each pickled once
    as the embedded AWS's state capture does; the items as moto keeps them."""
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    made.append(("table", table_name))
    backend.create_table(
        table_name,
        schema=[
            {"AttributeName": "owner_id", "KeyType": "HASH"},
            {"AttributeName": "document_id", "KeyType": "RANGE"},
        ],
        throughput=None,
        attr=[
            {"AttributeName": "owner_id", "AttributeType": "S"},
            {"AttributeName": "document_id", "AttributeType": "S"},
        ],
        global_indexes=None,
        indexes=None,
        streams=None,
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    text = json.dumps(body)
    items = []
    for number in range(count):
        item = backend.put_item(table_name, json.loads(text.replace("8AW00B0YNX", f"{number:010d}")))
        pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
        items.append(item)
    return items


def put_keys(bucket_name: str, count: int) -> list[Any]:
    """``count`` S3 keys put as a form upload puts them (metadata set after), each pickled once."""
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    made.append(("bucket", bucket_name))
    bucket = backend.create_bucket(bucket_name, REGION)
    keys = []
    for number in range(count):
        name = f"01M8XZQDVG01YYYNEB9EWEWXTB/{number:026d}/87bc9fafbbfe0d08/original"
        key = backend.put_object(bucket_name, name, b"x")
        key.set_metadata({"Content-Type": "application/pdf", "x-amz-meta-tags": "bench", "x-amz-meta-description": ""})
        key.set_acl(bucket.acl)
        pickle.dumps(key, pickle.HIGHEST_PROTOCOL)
        keys.append(key)
    return keys


#: The tables and buckets :func:`put_items` and :func:`put_keys` made, dropped after each test:
#: their records are of one side's classes only.
made: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def nothing_left() -> Iterator[None]:
    yield
    while made:
        kind, name = made.pop()
        if kind == "table":
            dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].delete_table(name)
            continue
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        store = backend.get_bucket(name).keys
        for key_name in list(dict.keys(store)):
            store.pop(key_name)
        backend.delete_bucket(name)


def traced(make: Callable[[], Any]) -> int:
    """The bytes what ``make`` returns holds (and keeps alive), by tracemalloc."""
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        made = make()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        del made
        return held
    finally:
        tracemalloc.stop()


def released_and_slim(kind: str) -> tuple[int, int]:
    """What 300 document records (``kind`` "items") or S3 keys ("keys") hold, by tracemalloc: without
    moto_slim, then with it."""
    names = [f"m-{uuid.uuid4().hex[:8]}" for _ in range(4)]

    def make(name: str, count: int = 300) -> list[Any]:
        return put_items(name, count, DOCUMENT) if kind == "items" else put_keys(name, count)

    # A few made each way first: what the process loads or caches once is nobody's share.
    make(names[2], 3)
    moto_slim.install()
    make(names[3], 3)
    moto_slim.uninstall()
    released = traced(lambda: make(names[0]))
    moto_slim.install()
    return released, traced(lambda: make(names[1]))


def measured_alone(kind: str) -> tuple[int, int]:
    """:func:`released_and_slim` in a process of its own, started afresh: tracemalloc counts every
    thread's allocations, and in this one the threads of servers other tests left running (the
    session's live servers, a pytest-xdist worker's earlier modules) allocate meanwhile."""
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as alone:
        return alone.submit(released_and_slim, kind).result(timeout=90)


def test_a_document_record_takes_about_half_the_memory() -> None:
    released, slim = measured_alone("items")
    moto_slim.install()
    items = put_items(f"m-{uuid.uuid4().hex[:8]}", 2, DOCUMENT)

    assert slim < 0.55 * released  # 4.4 against 8.9 KB a record, on Python 3.11
    first, second = items[0], items[1]
    assert type(first.attrs["name"]).__slots__ == ("type", "value")
    assert not hasattr(first.attrs["name"], "__dict__")
    assert all(a is b for a, b in zip(first.attrs, second.attrs, strict=True))


def test_an_s3_key_takes_1_2_kb_less_and_reads_the_same() -> None:
    released, slim = measured_alone("keys")
    moto_slim.uninstall()
    plain = put_keys(f"m-{uuid.uuid4().hex[:8]}", 2)
    moto_slim.install()
    keys = put_keys(f"m-{uuid.uuid4().hex[:8]}", 2)

    # 1.3 against 2.9 KB a key on Python 3.11 with the embedded AWS's value files; the value
    # buffer (here moto's own, in memory) is the same on both sides.
    assert released - slim > 1_200 * 300
    key = keys[0]
    assert sorted(key.__dict__) == sorted(
        [
            "name",
            "account_id",
            "region_name",
            "partition",
            "last_modified",
            "acl",
            "_metadata",
            "_etag",
            "bucket_name",
            "_value_buffer",
            "contentsize",
            "lock",
            "_time_progressed",
        ]
    )
    for name in moto_slim.KEY_DEFAULTS:
        assert getattr(key, name) == getattr(plain[0], name), name
    assert key.bucket_name is keys[1].bucket_name
    assert all(a is b for a, b in zip(key.metadata, keys[1].metadata, strict=True))
    assert (
        dict(key.metadata)
        == dict(plain[0].metadata)
        == {
            "content-type": "application/pdf",
            "x-amz-meta-tags": "bench",
            "x-amz-meta-description": "",
        }
    )
    key.set_expiry(None)
    key.encryption = "AES256"  # written on the key, as before; its neighbours keep the default
    assert key.encryption == "AES256"
    assert keys[1].encryption is None


def test_records_pickle_to_the_same_state_with_and_without_it() -> None:
    """A state file written with it is read without it, and the other way round: a document's
    record pickles to the same bytes, any record to the same attributes."""
    moto_slim.uninstall()
    plain_items = put_items(f"p-{uuid.uuid4().hex[:8]}", 1, EVERYTHING)
    plain_document = pickle.dumps(put_items(f"p-{uuid.uuid4().hex[:8]}", 1, DOCUMENT)[0], pickle.HIGHEST_PROTOCOL)
    plain_keys = put_keys(f"p-{uuid.uuid4().hex[:8]}", 1)
    plain_item = pickle.dumps(plain_items[0], pickle.HIGHEST_PROTOCOL)
    plain_json = plain_items[0].to_json()
    plain_key = pickle.loads(pickle.dumps(plain_keys[0], pickle.HIGHEST_PROTOCOL)).__dict__
    # Each side's objects are only ever used by its own moto code: pickling or serializing an item of
    # moto's class while the slim one is installed fails (pickle finds another class by its name).
    moto_slim.install()
    slim_items = put_items(f"s-{uuid.uuid4().hex[:8]}", 1, EVERYTHING)
    slim_documents = put_items(f"s-{uuid.uuid4().hex[:8]}", 1, DOCUMENT)
    slim_keys = put_keys(f"s-{uuid.uuid4().hex[:8]}", 1)
    slim_item = pickle.dumps(slim_items[0], pickle.HIGHEST_PROTOCOL)
    slim_key_record = pickle.dumps(slim_keys[0], pickle.HIGHEST_PROTOCOL)

    assert pickle.dumps(slim_documents[0], pickle.HIGHEST_PROTOCOL) == plain_document
    read_with = pickle.loads(plain_item)
    assert type(read_with.attrs["s"]) is moto_slim.slim_dynamo_type()
    assert read_with.to_json() == plain_json
    moto_slim.uninstall()
    read_without = pickle.loads(slim_item)
    key_without = pickle.loads(slim_key_record).__dict__

    assert type(read_without.attrs["s"]) is dynamo_type.DynamoType is moto_slim.MOTO_DYNAMO_TYPE
    assert read_without.to_json() == plain_json
    assert key_without.keys() == plain_key.keys()
    differ = {"name", "bucket_name", "last_modified", "_time_progressed", "acl", "_metadata", "_value_buffer", "lock"}
    assert {name: key_without[name] for name in key_without.keys() - differ} == {
        name: plain_key[name] for name in plain_key.keys() - differ
    }
    assert dict(key_without["_metadata"]) == dict(plain_key["_metadata"])


def test_uninstalling_puts_back_only_what_it_replaced() -> None:
    moto_slim.uninstall()
    original = vars(FakeKey)["__getstate__"]
    original_set = vars(FakeKey)["__setstate__"]
    moto_slim.install()
    assert moto_patches.DynamoType is moto_slim.slim_dynamo_type()

    def another(key: Any) -> dict[str, Any]:
        return {}

    FakeKey.__getstate__ = another  # type: ignore[method-assign,assignment]  # another patch, installed later
    try:
        moto_slim.uninstall()
        assert vars(FakeKey)["__getstate__"] is another
        assert vars(FakeKey)["__setstate__"] is original_set
        assert "_storage_class" not in vars(FakeKey)
        assert dynamo_type.DynamoType is moto_slim.MOTO_DYNAMO_TYPE
        assert moto_patches.DynamoType is moto_slim.MOTO_DYNAMO_TYPE
    finally:
        FakeKey.__getstate__ = original  # type: ignore[method-assign]


def test_the_embedded_aws_reads_what_it_wrote_with_and_without_it(tmp_path: Path) -> None:
    """A data folder written by the embedded AWS as it runs (with it) is served alike by one
    started with moto as released (``--moto-as-released`` leaves it out), and back again."""
    folder = tmp_path / "data"
    sides = [False, True, False]  # moto as released?
    expected: Any = None
    for number, as_released in enumerate(sides):
        aws = EmbeddedAws(folder, moto_as_released=as_released)
        aws.start()
        try:
            dynamodb, s3, *_ = clients(aws.endpoint_url)
            if expected is None:
                make_table(dynamodb)
                dynamodb.put_item(TableName="docs", Item={"owner": {"S": "a"}, "id": {"S": "1"}, **wire(EVERY_TYPE)})
                s3.create_bucket(Bucket="kept", CreateBucketConfiguration={"LocationConstraint": REGION})
            else:
                assert served(dynamodb, s3) == expected
            dynamodb.update_item(
                TableName="docs",
                Key={"owner": {"S": "a"}, "id": {"S": "1"}},
                UpdateExpression="ADD #n :one SET #s = :s",
                ExpressionAttributeNames={"#n": "n", "#s": "s"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":s": {"S": f"side {number}"}},
            )
            s3.put_object(Bucket="kept", Key=f"a/{number}.txt", Body=b"bytes", Metadata={"tags": "x"})
            expected = served(dynamodb, s3)
        finally:
            aws.stop()

    assert expected[0][0]["n"] == {"N": "15.5"}
    assert expected[0][0]["s"] == {"S": "side 2"}
    assert [answer["Body"] for answer in expected[1]] == [b"bytes"] * 3
    assert expected[1][0]["Metadata"] == {"tags": "x"}


def served(dynamodb: Any, s3: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """The table's items and every object of the bucket, as boto3 reads them."""
    names = [entry["Key"] for entry in s3.list_objects_v2(Bucket="kept")["Contents"]]
    return scan(dynamodb), [answer(lambda name=name: s3.get_object(Bucket="kept", Key=name)) for name in names]


def sqs_conversation(sqs: Any, name: str) -> list[Any]:
    """Messages sent, received, deleted (again, in a batch, with a handle that never was), their
    visibility changed; the answers in order, message ids and handles named by their order."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    answers: list[Any] = []
    for body in ("one", "two", "three"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=0)["Messages"]
    first = received[0]["ReceiptHandle"]
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=30)["Messages"]
    newest = {message["MessageId"]: message["ReceiptHandle"] for message in again}
    calls: list[Callable[[], Any]] = [
        lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=first),  # a handle it had before
        lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=first),  # deleted already: accepted
        lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=newest[received[0]["MessageId"]]),
        lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="x" * 185),
        lambda: sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": "a", "ReceiptHandle": newest[received[1]["MessageId"]]},
                {"Id": "b", "ReceiptHandle": first},
                {"Id": "c", "ReceiptHandle": "never"},
            ],
        ),
        lambda: sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=newest[received[2]["MessageId"]], VisibilityTimeout=0
        ),
        lambda: sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first, VisibilityTimeout=0),
        lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]),
    ]
    answers = [answer(call) for call in calls]
    left = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)["Messages"]
    answers.append([message["Body"] for message in left])
    sqs.delete_queue(QueueUrl=url)
    return answers


def test_every_sqs_answer_is_the_one_moto_gives_without_it(moto_endpoint: str) -> None:
    sqs = client(moto_endpoint, "sqs")
    moto_slim.uninstall()
    expected = sqs_conversation(sqs, f"q-{uuid.uuid4().hex[:8]}")
    moto_slim.install()
    got = sqs_conversation(sqs, f"q-{uuid.uuid4().hex[:8]}")

    assert got == expected
    assert [entry.get("status") for entry in expected[:4]] == [200, 200, 200, 400]
    assert expected[3]["error"]["Code"] == "ReceiptHandleIsInvalid"
    assert [entry["Id"] for entry in expected[4]["Successful"]] == ["a", "b"]
    assert [entry["Id"] for entry in expected[4]["Failed"]] == ["c"]
    assert expected[-1] == ["three"]


def test_deleted_handles_are_kept_as_digests() -> None:
    moto_slim.install()
    backend = sqs_backends[DEFAULT_ACCOUNT_ID][REGION]
    queue = backend.create_queue(f"q-{uuid.uuid4().hex[:8]}")
    try:
        handles = ["h" * 185, "i" * 185]
        queue.deleted_messages.update(handles)

        assert isinstance(queue.__dict__["deleted_messages"], moto_slim.DeletedHandles)
        assert handles[0] in queue.deleted_messages
        assert "j" * 185 not in queue.deleted_messages
        assert len(queue.deleted_messages) == 2
        assert all(len(digest) == 16 for digest in queue.deleted_messages._digests)  # type: ignore[union-attr]
        queue.deleted_messages = set()  # as the embedded AWS's loader sets it
        assert isinstance(queue.__dict__["deleted_messages"], moto_slim.DeletedHandles)
        assert handles[0] not in queue.deleted_messages
    finally:
        backend.delete_queue(queue.name)


def test_a_key_made_while_installed_reads_as_moto_s_own_after_uninstalling() -> None:
    moto_slim.install()
    (key,) = put_keys(f"k-{uuid.uuid4().hex[:8]}", 1)
    assert "encryption" not in key.__dict__
    moto_slim.uninstall()

    assert key.encryption is None
    assert key._transitions == [(None, "IN_PROGRESS"), ("IN_PROGRESS", "RESTORED")]
    assert {name: getattr(key, name) for name in moto_slim.KEY_DEFAULTS} == moto_slim.KEY_DEFAULTS


def test_keys_read_back_one_at_a_time_share_one_acl_for_each_value() -> None:
    """As the state loader reads keys after a restart: each from its own pickle."""
    moto_slim.install()
    keys = put_keys(f"a-{uuid.uuid4().hex[:8]}", 3)
    keys[2].set_acl(get_canned_acl("public-read"))
    loaded = [pickle.loads(pickle.dumps(key, pickle.HIGHEST_PROTOCOL)) for key in keys]
    try:
        assert loaded[0].acl is loaded[1].acl
        assert loaded[2].acl is not loaded[0].acl
        assert [key.acl.public_read for key in loaded] == [False, False, True]
        assert [len(key.acl.grants) for key in loaded] == [1, 1, 2]
    finally:
        for key in loaded:
            key.dispose()
