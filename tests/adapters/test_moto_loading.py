"""Loading saved state while serving (adapters/moto_loading.py): requests wait for what they read,
the item size check still holds for them, and a record that cannot be loaded stops the process."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

from adapters import moto_blobs, moto_loading
from adapters.aws_process import _buckets_read, _table_names
from adapters.local_aws import EmbeddedAws
from adapters.moto_state import SqsMirror, StateFile
from tests.adapters.test_embedded_aws import clients

REGION = "us-west-2"


def saved_table(folder: Path, items: int) -> str:
    """A data folder whose state file holds one table of ``items`` items, written by a real
    embedded AWS; the table's (unique) name."""
    name = f"load-{uuid.uuid4().hex[:12]}"
    aws = EmbeddedAws(folder)
    aws.start()
    try:
        dynamodb, *_ = clients(aws.endpoint_url)
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "owner", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "owner", "AttributeType": "S"},
                {"AttributeName": "id", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for number in range(items):
            dynamodb.put_item(
                TableName=name, Item={"owner": {"S": "a"}, "id": {"S": f"{number:03d}"}, "n": {"N": str(number)}}
            )
    finally:
        aws.stop()
    return name


@pytest.mark.parametrize(
    ("action", "request_body", "tables"),
    [
        ("GetItem", {"TableName": "docs", "Key": {}}, {"docs"}),
        ("Query", {"TableName": "arn:aws:dynamodb:us-west-2:123456789012:table/docs"}, {"docs"}),
        ("BatchWriteItem", {"RequestItems": {"docs": [], "sessions": []}}, {"docs", "sessions"}),
        (
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"TableName": "docs"}}, {"ConditionCheck": {"TableName": "accounts"}}]},
            {"docs", "accounts"},
        ),
        ("DescribeTable", {"TableName": "docs"}, set()),
        ("CreateTable", {"TableName": "docs"}, set()),
        ("ExecuteStatement", {"Statement": "SELECT * FROM docs"}, None),
        ("GetItem", {"TableName": 7}, None),
    ],
)
def test_a_dynamodb_request_waits_for_the_tables_whose_items_it_reads(
    action: str, request_body: dict[str, Any], tables: set[str] | None
) -> None:
    assert _table_names(action, request_body) == tables


@pytest.mark.parametrize(
    ("method", "path", "query", "copy", "buckets"),
    [
        ("GET", "/docs/a/b.pdf", "", "", ["docs"]),
        ("PUT", "/docs/a/b.pdf", "", "", ["docs"]),
        ("PUT", "/docs/a/b.pdf", "", "/docs/staging/x", None),  # a copy may read any bucket's key
        ("POST", "/docs", "", "", ["docs"]),  # a form upload writes a key
        ("POST", "/docs", "delete", "", ["docs"]),
        ("GET", "/docs", "list-type=2&prefix=a%2F", "", ["docs"]),
        ("GET", "/docs", "versions", "", ["docs"]),
        ("GET", "/docs", "lifecycle", "", []),  # docstore serve reads it at every start
        ("PUT", "/docs", "lifecycle", "", []),
        ("PUT", "/docs", "cors", "", []),
        ("DELETE", "/docs", "tagging", "", []),
        ("GET", "/docs", "location", "", []),
        ("PUT", "/docs", "", "", []),  # create the bucket
        ("HEAD", "/docs", "", "", []),
        ("GET", "/", "", "", []),  # list the buckets
    ],
)
def test_an_s3_request_waits_for_the_buckets_whose_keys_it_reads(
    method: str, path: str, query: str, copy: str, buckets: list[str] | None
) -> None:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    if copy:
        environ["HTTP_X_AMZ_COPY_SOURCE"] = copy
    assert _buckets_read(environ) == buckets


def test_a_table_is_held_until_its_items_are_loaded_and_others_are_not(tmp_path: Path) -> None:
    name = saved_table(tmp_path / "data", items=3)
    loader = moto_loading.Loader(StateFile(tmp_path / "data" / "aws" / "state.sqlite3"), SqsMirror())

    loaded = loader.containers()
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[name]
    waiting = threading.Thread(target=loader.wait, args=("dynamodb", [name]), daemon=True)
    waiting.start()
    waiting.join(0.5)

    assert loaded.tables >= 1
    assert loaded.items == 0
    assert len(table) == 0
    assert waiting.is_alive()  # no request sees the table before its items are all there
    assert not loader.done
    loader.wait("dynamodb", ["a-table-nobody-saved"])  # nothing pending by that name: at once
    loader.wait("s3", [name])  # another service's container of that name: none

    loader.members()
    waiting.join(30)

    assert not waiting.is_alive()
    assert loader.done
    assert loader.loaded.items == 3
    assert sorted(int(item.attrs["n"].value) for item in table.items[DynamoType({"S": "a"})].values()) == [0, 1, 2]


def test_loaded_items_share_one_string_per_attribute_name(tmp_path: Path) -> None:
    name = saved_table(tmp_path / "data", items=3)
    loader = moto_loading.Loader(StateFile(tmp_path / "data" / "aws" / "state.sqlite3"), SqsMirror())
    loader.containers()
    loader.members()

    first, *others = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[name].items[DynamoType({"S": "a"})].values()
    assert list(first.attrs) == ["owner", "id", "n"]
    for other in others:
        assert all(mine is theirs for mine, theirs in zip(first.attrs, other.attrs, strict=True))


def test_while_loading_other_threads_still_get_the_item_size_check() -> None:
    refused: list[BaseException] = []

    def oversized() -> None:
        try:
            LimitedSizeDict()["big"] = DynamoType({"S": "x" * 500_000})
        except ItemSizeTooLarge as error:
            refused.append(error)

    with moto_loading._bulk_loading():
        unchecked = LimitedSizeDict()
        unchecked["big"] = DynamoType({"S": "x" * 500_000})  # the loading thread: already checked once
        other = threading.Thread(target=oversized)
        other.start()
        other.join()

    assert len(refused) == 1
    assert list(unchecked) == ["big"]


def test_only_the_restoring_thread_makes_keys_that_own_their_files() -> None:
    seen: list[bool] = []
    with moto_blobs.restoring():
        other = threading.Thread(target=lambda: seen.append(moto_blobs._Patch.restoring.active))
        other.start()
        other.join()
        seen.append(moto_blobs._Patch.restoring.active)

    assert seen == [False, True]
    assert moto_blobs._Patch.restoring.active is False


def test_a_record_that_cannot_be_loaded_stops_the_embedded_aws(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    name = saved_table(folder, items=2)
    state = folder / "aws" / "state.sqlite3"
    with sqlite3.connect(state) as db:
        db.execute("UPDATE members SET value = ? WHERE name = (SELECT max(name) FROM members)", (b"not a pickle",))
    with sqlite3.connect(state) as db:
        before = db.execute("SELECT container, name, value FROM members ORDER BY container, name").fetchall()

    aws = EmbeddedAws(folder)
    aws.start()
    deadline = time.monotonic() + 60
    while aws.exit_code is None and time.monotonic() < deadline:
        time.sleep(0.05)
    aws.stop()

    assert aws.exit_code == 6
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT container, name, value FROM members ORDER BY container, name").fetchall() == before
    assert any(container.endswith(f"/{name}") for container, _, _ in before)
