"""moto's DynamoDB answers with adapters/moto_speedups.py installed are the answers moto gives
without it: the same calls through boto3 against a real moto server in this process, each answer
compared whole (but for the request id), on items holding every attribute type DynamoDB has."""

from __future__ import annotations

import gc
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import BaseResponse
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.parsing.validators import UpdateExpressionValidator
from moto.s3.models import s3_backends
from moto.s3.utils import _VersionedKeyStore

from adapters import moto_speedups

REGION = "us-west-2"

#: An item with every type DynamoDB stores, binary ones included (sent as bytes by boto3).
EVERY_TYPE: dict[str, Any] = {
    "s": {"S": "Ünïcode text"},
    "empty": {"S": ""},
    "n": {"N": "12.5"},
    "b": {"B": b"\x00\xffbytes"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"x", b"\x01"]},
    "m": {"M": {"inner": {"L": [{"S": "deep"}, {"N": "3"}, {"NULL": True}]}, "flag": {"BOOL": False}}},
    "l": {"L": [{"BOOL": True}, {"M": {}}]},
    "null": {"NULL": True},
}


@pytest.fixture(scope="module")
def client(moto_endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(autouse=True)
def moto_as_it_was() -> Iterator[None]:
    was_installed = moto_speedups.installed()
    yield
    if was_installed:
        moto_speedups.install()
    else:
        moto_speedups.uninstall()


def make_table(client: Any, name: str | None = None) -> str:
    name = name or f"t-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def answer(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What boto3 returned, or the error it raised, without the parts that differ on every call."""
    try:
        response = call()
    except ClientError as error:
        response = {"error": error.response["Error"], "status": error.response["ResponseMetadata"]["HTTPStatusCode"]}
        response.update({k: v for k, v in error.response.items() if k not in ("Error", "ResponseMetadata")})
        return response
    metadata = response.pop("ResponseMetadata")
    response["status"] = metadata["HTTPStatusCode"]
    response["content-type"] = metadata["HTTPHeaders"]["content-type"]
    return response


def conversation(client: Any, table: str) -> list[dict[str, Any]]:
    """Every data-plane operation the fast path serves, with the options DocStore and others use,
    on a fresh table of that name (dropped afterwards); the answers in order."""
    make_table(client, table)
    item = {"pk": {"S": "p"}, "sk": {"N": "1"}, **EVERY_TYPE}
    key = {"pk": {"S": "p"}, "sk": {"N": "1"}}
    calls: list[Callable[[], dict[str, Any]]] = [
        lambda: client.put_item(TableName=table, Item=item),
        lambda: client.put_item(TableName=table, Item=item, ReturnValues="ALL_OLD"),
        lambda: client.put_item(TableName=table, Item={**item, "sk": {"N": "2"}}, ReturnConsumedCapacity="TOTAL"),
        lambda: client.get_item(TableName=table, Key=key),
        lambda: client.get_item(TableName=table, Key=key, ProjectionExpression="s, m.inner, bs"),
        lambda: client.get_item(TableName=table, Key={"pk": {"S": "none"}, "sk": {"N": "1"}}),
        lambda: client.get_item(TableName=table, Key=key, ConsistentRead=True, ReturnConsumedCapacity="TOTAL"),
        lambda: client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #s = :s ADD #n :one",
            ExpressionAttributeNames={"#s": "s", "#n": "n"},
            ExpressionAttributeValues={":s": {"S": "changed"}, ":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        ),
        lambda: client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD #c :one",
            ExpressionAttributeNames={"#c": "counter"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        ),
        lambda: client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD #c :one",
            ExpressionAttributeNames={"#c": "counter"},
            ExpressionAttributeValues={":one": {"N": "5"}},
            ReturnValues="UPDATED_NEW",
        ),
        lambda: client.update_item(
            TableName=table,
            Key={"pk": {"S": "p"}, "sk": {"N": "2"}},
            UpdateExpression="SET #s = :s ADD #n :one",
            ExpressionAttributeNames={"#s": "s", "#n": "n"},
            ExpressionAttributeValues={":s": {"S": "other"}, ":one": {"N": "-2"}},
            ReturnValues="ALL_NEW",
        ),
        lambda: client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #s = :s ADD #n :one",
            ExpressionAttributeNames={"#s": "s", "#n": "n"},
            ExpressionAttributeValues={":s": {"S": "no"}, ":one": {"S": "not a number"}},
        ),
        # A new item: moto validates the same cached expression twice, before and after creating it.
        lambda: client.update_item(
            TableName=table,
            Key={"pk": {"S": "new"}, "sk": {"N": "3"}},
            UpdateExpression="SET #s = :s ADD #n :one",
            ExpressionAttributeNames={"#s": "s", "#n": "n"},
            ExpressionAttributeValues={":s": {"S": "fresh"}, ":one": {"N": "7"}},
            ReturnValues="ALL_NEW",
        ),
        lambda: client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="REMOVE b",
            ReturnValues="UPDATED_OLD",
        ),
        lambda: client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET s = :s",
            ConditionExpression="s = :other",
            ExpressionAttributeValues={":s": {"S": "x"}, ":other": {"S": "not it"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        ),
        lambda: client.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
            ReturnConsumedCapacity="TOTAL",
        ),
        lambda: client.query(
            TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}, Limit=1
        ),
        lambda: client.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
            Select="COUNT",
        ),
        lambda: client.scan(TableName=table),
        lambda: client.scan(
            TableName=table,
            Limit=1,
            FilterExpression="attribute_exists(#c)",
            ExpressionAttributeNames={"#c": "counter"},
        ),
        lambda: client.batch_get_item(RequestItems={table: {"Keys": [key, {"pk": {"S": "p"}, "sk": {"N": "2"}}]}}),
        lambda: client.batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": {**item, "sk": {"N": "3"}}}}]},
            ReturnConsumedCapacity="TOTAL",
        ),
        lambda: client.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}]),
        lambda: client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {**item, "sk": {"N": "4"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": key,
                        "UpdateExpression": "ADD #c :one",
                        "ExpressionAttributeNames": {"#c": "counter"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        ),
        lambda: client.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            ]
        ),
        lambda: client.put_item(
            TableName=table, Item={**key, "big": {"S": "x" * 300_000}, "more": {"S": "y" * 200_000}}
        ),
        lambda: client.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD"),
        lambda: client.delete_item(TableName=table, Key=key),
        lambda: client.get_item(TableName="no-such-table", Key=key),
    ]
    answers = [answer(call) for call in calls]
    client.delete_table(TableName=table)
    return answers


def test_every_answer_is_the_one_moto_gives_without_the_speedups(client: Any) -> None:
    moto_speedups.uninstall()
    assert not moto_speedups.installed()
    table = f"t-{uuid.uuid4().hex[:8]}"
    expected = conversation(client, table)
    moto_speedups.install()
    assert moto_speedups.installed()
    got = conversation(client, table)
    assert got == expected
    # The conversation says something: items came back whole, binary values as bytes, errors typed.
    assert expected[3]["Item"]["b"] == {"B": b"\x00\xffbytes"}
    assert expected[3]["Item"]["bs"] == {"BS": [b"x", b"\x01"]}
    assert expected[9]["Attributes"] == {"counter": {"N": "6"}}
    assert expected[11]["error"]["Code"] == "ValidationException"
    assert expected[12]["Attributes"] == {
        "pk": {"S": "new"},
        "sk": {"N": "3"},
        "s": {"S": "fresh"},
        "n": {"N": "7"},
    }
    assert expected[14]["error"]["Code"] == "ConditionalCheckFailedException"
    assert expected[-1]["error"]["Code"] == "ResourceNotFoundException"
    assert expected[-4]["error"]["Message"] == "Item size has exceeded the maximum allowed size"
    assert {entry.get("content-type") for entry in expected if "error" not in entry} == {"application/x-amz-json-1.0"}


def test_the_fast_path_answers_the_plain_results_and_leaves_the_rest_to_moto(client: Any) -> None:
    moto_speedups.install()
    served: list[str] = []
    fast = moto_speedups.execute_result

    def counting(self: Any, context: Any) -> Any:
        served.append(str(context.operation_model.name))
        return fast(self, context)

    table = make_table(client)
    original = moto_speedups.DynamoResult.execute_result
    moto_speedups.DynamoResult.execute_result = counting  # type: ignore[method-assign,assignment]
    try:
        client.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"N": "1"}})
        client.describe_table(TableName=table)
    finally:
        moto_speedups.DynamoResult.execute_result = original  # type: ignore[method-assign]
    assert served == ["PutItem", "DescribeTable"]
    # DescribeTable holds dates: moto's serializer writes it (as epoch seconds), not the fast path.
    described = client.describe_table(TableName=table)["Table"]
    assert described["CreationDateTime"].year >= 2026


def test_an_item_s_size_is_added_up_once_not_once_per_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_speedups.install()
    kind = moto_speedups.DynamoType
    sized = [0]
    size = kind.size

    def counting(self: Any) -> int:
        sized[0] += 1
        return int(size(self))

    monkeypatch.setattr(kind, "size", counting)
    attrs = {f"a{number}": {"S": "x" * number} for number in range(25)}
    made = Item(kind({"S": "h"}), None, attrs)
    assert sized[0] == 25
    moto_speedups.uninstall()
    sized[0] = 0
    again = Item(kind({"S": "h"}), None, attrs)
    # moto adds up the attributes already set at every set: 1 + 2 + ... + 25.
    assert sized[0] == 325
    assert made == again
    assert made.to_json() == again.to_json() == {"Attributes": attrs}


def test_method_names_are_listed_once_per_class() -> None:
    moto_speedups.install()
    names = moto_speedups.moto_responses.method_names_from_class
    first = names(BaseResponse)
    assert names(BaseResponse) is first
    assert "call_action" in first
    moto_speedups.uninstall()
    again = moto_speedups.moto_responses.method_names_from_class(BaseResponse)
    assert again == first
    assert again is not first


def test_another_moto_release_is_refused_and_nothing_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_speedups.uninstall()
    monkeypatch.setattr(moto_speedups.moto, "__version__", "5.3.0")
    with pytest.raises(moto_speedups.UnsupportedMoto, match=r"moto 5\.3\.0 is installed"):
        moto_speedups.install()
    assert not moto_speedups.installed()


# -- updates of whole attributes skip moto's validator -------------------------------------------


def update(table: str, owner: str, expression: str, names: dict[str, str], values: dict[str, Any], **more: Any) -> Any:
    """The keyword arguments of an ``UpdateItem`` of ``owner``'s document ``doc`` in ``table``."""
    arguments: dict[str, Any] = {
        "TableName": table,
        "Key": {"owner": {"S": owner}, "id": {"S": "doc"}},
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ReturnValues": "ALL_NEW",
        **more,
    }
    if values:
        arguments["ExpressionAttributeValues"] = values
    return arguments


#: Updates as PynamoDB writes them (``SET #n = :v``, ``ADD #n :v``, ``REMOVE #n``), those that take
#: the fast path and those it leaves to moto, each applied in turn to one item: ``(label, owner,
#: expression, names, values, more arguments)``.
UPDATES: list[tuple[str, str, str, dict[str, str], dict[str, Any], dict[str, Any]]] = [
    (
        "a new item, set and added to",
        "o1",
        "SET #0 = :0, #1 = :1 ADD #2 :2",
        {"#0": "status", "#1": "tags", "#2": "size"},
        {":0": {"S": "READY"}, ":1": {"L": [{"S": "a"}, {"M": {"k": {"N": "1"}}}]}, ":2": {"N": "12"}},
        {},
    ),
    (
        "added to, a decimal",
        "o1",
        "ADD #0 :0, #1 :1",
        {"#0": "size", "#1": "ratio"},
        {":0": {"N": "-2"}, ":1": {"N": "0.50"}},
        {},
    ),
    (
        "index keys set to their type",
        "o1",
        "SET #0 = :0, #1 = :1",
        {"#0": "name", "#1": "shard"},
        {":0": {"S": "report.pdf"}, ":1": {"S": "shard-1"}},
        {},
    ),
    (
        "one value twice, clauses in another order",
        "o1",
        "REMOVE #2 SET #0 = :0, #1 = :0",
        {"#0": "a", "#1": "b", "#2": "tags"},
        {":0": {"SS": ["x", "y"]}},
        {},
    ),
    (
        "a condition that holds",
        "o1",
        "SET #1 = :1",
        {"#0": "status", "#1": "status"},
        {":0": {"S": "READY"}, ":1": {"S": "DONE"}},
        {"ConditionExpression": "#0 = :0"},
    ),
    (
        "a condition that fails, the item as it was",
        "o1",
        "SET #1 = :1",
        {"#0": "status", "#1": "status"},
        {":0": {"S": "READY"}, ":1": {"S": "again"}},
        {"ConditionExpression": "#0 = :0", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"},
    ),
    (
        "a condition that fails on no item",
        "o2",
        "SET #0 = :0",
        {"#0": "status"},
        {":0": {"S": "x"}},
        {"ConditionExpression": "attribute_exists(#0)"},
    ),
    ("removing what is not there", "o1", "REMOVE #0, #1", {"#0": "nothing", "#1": "a"}, {}, {}),
    # Left to moto: what it refuses, and what it accepts that DynamoDB refuses.
    ("a table key", "o1", "SET #0 = :0", {"#0": "id"}, {":0": {"S": "other"}}, {}),
    (
        "one name twice",
        "o1",
        "SET #0 = :0 ADD #1 :1",
        {"#0": "size", "#1": "size"},
        {":0": {"N": "1"}, ":1": {"N": "1"}},
        {},
    ),
    ("a value not given", "o1", "SET #0 = :0, #1 = :9", {"#0": "x", "#1": "y"}, {":0": {"N": "1"}}, {}),
    ("a name not given", "o1", "SET #0 = :0, #9 = :0", {"#0": "x"}, {":0": {"N": "1"}}, {}),
    ("adding a number to a string", "o1", "ADD #0 :0", {"#0": "status"}, {":0": {"N": "1"}}, {}),
    ("adding a set", "o1", "ADD #0 :0", {"#0": "b"}, {":0": {"SS": ["z"]}}, {}),
    ("an index key set to an empty string", "o1", "SET #0 = :0", {"#0": "name"}, {":0": {"S": ""}}, {}),
    ("an index key set to another type", "o1", "SET #0 = :0", {"#0": "shard"}, {":0": {"N": "3"}}, {}),
    ("a path into a map", "o1", "SET #0.#1 = :0", {"#0": "m", "#1": "k"}, {":0": {"N": "1"}}, {}),
    ("arithmetic", "o1", "SET #0 = #0 + :0", {"#0": "size"}, {":0": {"N": "1"}}, {}),
    ("a clause twice", "o1", "SET #0 = :0 SET #1 = :0", {"#0": "x", "#1": "y"}, {":0": {"N": "1"}}, {}),
    (
        "past the item size limit",
        "o1",
        "SET #0 = :0, #1 = :1",
        {"#0": "big", "#1": "more"},
        {":0": {"S": "x" * 300_000}, ":1": {"S": "y" * 200_000}},
        {},
    ),
    ("names written out", "o1", "SET colour = :0", {}, {":0": {"S": "red"}}, {}),
]


def update_conversation(client: Any, table: str) -> list[dict[str, Any]]:
    """Each of :data:`UPDATES` in turn on a fresh documents-like table (dropped afterwards): every
    answer, then the table's items."""
    documents_table(client, table, local_index="by_name", global_index="by_shard")
    answers: list[dict[str, Any]] = []
    for _, owner, expression, names, values, more in UPDATES:
        arguments = update(table, owner, expression, names, values, **more)
        if not names:
            del arguments["ExpressionAttributeNames"]
        answers.append(answer(lambda arguments=arguments: client.update_item(**arguments)))
    items = sorted(
        client.scan(TableName=table)["Items"], key=lambda item: json.dumps(item, sort_keys=True, default=str)
    )
    client.delete_table(TableName=table)
    return [*answers, {"items": items}]


def test_updates_answer_and_leave_the_items_as_moto_does(client: Any) -> None:
    moto_speedups.uninstall()
    table = f"t-{uuid.uuid4().hex[:8]}"
    expected = update_conversation(client, table)
    moto_speedups.install()
    got = update_conversation(client, table)
    for (label, *_), mine, motos in zip(UPDATES, got, expected, strict=False):
        assert (label, mine) == (label, motos)
    assert got[-1] == expected[-1]
    # The conversation says something: each update did what its label says.
    by_label = {label: entry for (label, *_), entry in zip(UPDATES, expected, strict=False)}
    assert by_label["added to, a decimal"]["Attributes"]["size"] == {"N": "10"}
    assert by_label["added to, a decimal"]["Attributes"]["ratio"] == {"N": "0.50"}
    assert by_label["one value twice, clauses in another order"]["Attributes"]["a"] == {"SS": ["x", "y"]}
    assert "tags" not in by_label["one value twice, clauses in another order"]["Attributes"]
    assert by_label["a condition that fails, the item as it was"]["Item"]["status"] == {"S": "DONE"}
    assert by_label["a condition that fails on no item"]["error"]["Code"] == "ConditionalCheckFailedException"
    assert by_label["a table key"]["error"]["Code"] == "ValidationException"
    assert by_label["adding a number to a string"]["error"]["Code"] == "ValidationException"
    assert by_label["past the item size limit"]["error"]["Code"] == "ValidationException"
    # moto's own leniency, kept: DynamoDB refuses both.
    assert by_label["an index key set to another type"]["Attributes"]["shard"] == {"N": "3"}
    assert by_label["an index key set to an empty string"]["Attributes"]["name"] == {"S": ""}


def test_plain_updates_skip_moto_s_validator_and_the_rest_go_through_it(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    moto_speedups.install()
    validated: list[str] = []
    sending = [""]  # the label of the update being sent
    validate = UpdateExpressionValidator.validate

    def counting(self: Any) -> Any:
        validated.append(sending[0])
        return validate(self)

    monkeypatch.setattr(UpdateExpressionValidator, "validate", counting)
    table = f"t-{uuid.uuid4().hex[:8]}"
    documents_table(client, table, local_index="by_name", global_index="by_shard")
    try:
        for label, owner, expression, names, values, more in UPDATES:
            sending[0] = label
            arguments = update(table, owner, expression, names, values, **more)
            if not names:
                del arguments["ExpressionAttributeNames"]
            answer(lambda arguments=arguments: client.update_item(**arguments))
    finally:
        client.delete_table(TableName=table)
    fast = [label for label, *_ in UPDATES[:8]]
    assert not set(fast) & set(validated)
    # Everything left to moto was validated by moto, every one of its refusals included.
    assert set(validated) == {label for label, *_ in UPDATES[8:]}


# -- queries read their own partition --------------------------------------------------------------


def documents_table(
    client: Any, name: str, *, local_index: str, global_index: str, global_range: str | None = None
) -> None:
    """A table shaped like DocStore's documents: owner and id, a local index by name, and a global
    index by shard (with ``global_range`` as its range key, if given), keys only."""
    global_keys = [{"AttributeName": "shard", "KeyType": "HASH"}]
    attributes = ["owner", "id", "name", "shard"]
    if global_range is not None:
        global_keys.append({"AttributeName": global_range, "KeyType": "RANGE"})
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "owner", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": each, "AttributeType": "S"} for each in attributes]
        + ([{"AttributeName": global_range, "AttributeType": "N"}] if global_range else []),
        LocalSecondaryIndexes=[
            {
                "IndexName": local_index,
                "KeySchema": [
                    {"AttributeName": "owner", "KeyType": "HASH"},
                    {"AttributeName": "name", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        GlobalSecondaryIndexes=[
            {"IndexName": global_index, "KeySchema": global_keys, "Projection": {"ProjectionType": "KEYS_ONLY"}}
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def indexed_table(client: Any, name: str) -> None:
    """A table like DocStore's documents: owner and id, a local index by name, a global one by shard;
    40 items over 4 owners."""
    documents_table(client, name, local_index="by_name", global_index="by_shard")
    for number in range(40):
        item = {
            "owner": {"S": f"owner-{number % 4}"},
            "id": {"S": f"doc-{(number * 7) % 40:02d}"},
            "name": {"S": f"name-{(number * 13) % 40:02d}"},
            "size": {"N": str(number)},
        }
        if number % 3 == 0:  # only some are due: a sparse global index
            item["shard"] = {"S": f"shard-{number % 2}"}
        client.put_item(TableName=name, Item=item)


def queries(client: Any, table: str) -> list[dict[str, Any]]:
    owner = {":o": {"S": "owner-1"}}
    variants: list[dict[str, Any]] = [
        {
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": owner,
        },
        {
            "KeyConditionExpression": "#o = :o AND id BETWEEN :a AND :b",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {**owner, ":a": {"S": "doc-05"}, ":b": {"S": "doc-30"}},
            "ScanIndexForward": False,
        },
        {
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": owner,
            "Limit": 3,
            "ExclusiveStartKey": {"owner": {"S": "owner-1"}, "id": {"S": "doc-07"}},
        },
        {
            "KeyConditionExpression": "#o = :o",
            "FilterExpression": "#sz > :s",
            "ExpressionAttributeNames": {"#o": "owner", "#sz": "size"},
            "ExpressionAttributeValues": {**owner, ":s": {"N": "20"}},
        },
        {
            "IndexName": "by_name",
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": owner,
            "ScanIndexForward": False,
            "Limit": 4,
        },
        {
            "IndexName": "by_name",
            "KeyConditionExpression": "#o = :o AND begins_with(#n, :p)",
            "ExpressionAttributeNames": {"#o": "owner", "#n": "name"},
            "ExpressionAttributeValues": {**owner, ":p": {"S": "name-1"}},
        },
        {
            "IndexName": "by_name",
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": owner,
            "ExclusiveStartKey": {"owner": {"S": "owner-1"}, "id": {"S": "doc-27"}, "name": {"S": "name-13"}},
        },
        {
            "IndexName": "by_shard",
            "KeyConditionExpression": "shard = :s",
            "ExpressionAttributeValues": {":s": {"S": "shard-1"}},
        },
        {
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":o": {"S": "nobody"}},
        },
        {
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": owner,
            "Select": "COUNT",
        },
        {
            "KeyConditionExpression": "#o = :o",
            "ProjectionExpression": "id, #sz",
            "ExpressionAttributeNames": {"#o": "owner", "#sz": "size"},
            "ExpressionAttributeValues": owner,
        },
        {
            "IndexName": "nope",
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": owner,
        },
    ]
    return [answer(lambda each=each: client.query(TableName=table, **each)) for each in variants]


def test_queries_copy_no_item_and_change_none_they_answer(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_speedups.install()
    table = f"d-{uuid.uuid4().hex[:8]}"
    indexed_table(client, table)
    stored = sorted(client.scan(TableName=table, ConsistentRead=True)["Items"], key=lambda item: item["id"]["S"])
    copies: list[Any] = []
    deep = Item.__deepcopy__

    def counted(self: Item, memo: dict[int, Any]) -> Item:
        copies.append(self)
        return deep(self, memo)

    monkeypatch.setattr(Item, "__deepcopy__", counted)
    answers = queries(client, table)

    assert copies == []
    assert [len(answer.get("Items", [])) for answer in answers] == [10, 6, 3, 5, 4, 2, 6, 7, 0, 0, 10, 0]
    # The projections (the keys-only global index, a ProjectionExpression) made items of their own.
    assert {tuple(sorted(item)) for item in answers[-2]["Items"]} == {("id", "size")}
    after = sorted(client.scan(TableName=table, ConsistentRead=True)["Items"], key=lambda item: item["id"]["S"])
    assert after == stored
    # moto as released copies every item a key condition matched, before Limit, filters and COUNT.
    moto_speedups.uninstall()
    try:
        queries(client, table)
    finally:
        moto_speedups.install()
    assert len(copies) == 108


def test_queries_answer_as_moto_does_reading_only_their_partition(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    table = f"d-{uuid.uuid4().hex[:8]}"
    indexed_table(client, table)
    moto_speedups.uninstall()
    expected = queries(client, table)
    moto_speedups.install()
    whole_table_reads: list[str] = []
    every_item = moto_speedups._ORIGINAL["all_items"]

    def counted(self: Any) -> Any:
        whole_table_reads.append(self.name)
        return every_item(self)

    monkeypatch.setitem(moto_speedups._ORIGINAL, "all_items", counted)
    got = queries(client, table)
    assert got == expected
    # No query sorted the whole table: ten read one partition, the global index one every item unsorted.
    assert whole_table_reads == []
    # The answers are real ones: 10 items of owner-1, in id order; the local index in name order.
    assert [item["id"]["S"] for item in expected[0]["Items"]] == sorted(
        item["id"]["S"] for item in expected[0]["Items"]
    )
    assert expected[0]["Count"] == 10
    names = [item["name"]["S"] for item in expected[4]["Items"]]
    assert names == sorted(names, reverse=True)
    assert expected[4]["Count"] == 4
    assert expected[8]["Count"] == 0
    assert expected[9]["Count"] == 10
    assert {int(item["size"]["N"]) for item in expected[3]["Items"]} == {21, 25, 29, 33, 37}
    assert {tuple(sorted(item)) for item in expected[10]["Items"]} == {("id", "size")}
    assert expected[11]["error"]["Code"] == "ResourceNotFoundException"


# -- a global index query, page by page, with ties on the index key ---------------------------------

OWNERS = 6
PER_OWNER = 40


@pytest.fixture(scope="module")
def sparse_table(client: Any) -> str:
    """Like DocStore's documents: hash + range key, a local index, and a sparse global index whose
    items share few hash keys (the sweeper's ``sweep-due``)."""
    name = f"query-{uuid.uuid4().hex[:12]}"
    documents_table(client, name, local_index="by-name", global_index="due", global_range="due")
    for owner in range(OWNERS):
        for number in range(PER_OWNER):
            item = {
                "owner": {"S": f"owner-{owner}"},
                "id": {"S": f"{(number * 7919) % 1000:04d}-{number}"},
                "name": {"S": f"name {(number * 31) % 17}"},  # names repeat: the index key is not unique
                "weight": {"N": str(number * 10)},
            }
            if number % 3 == 0:
                item["shard"] = {"S": str(number % 2)}
                item["due"] = {"N": str(1000 + (number % 5))}  # equal due times: ties broken by the table key
            client.put_item(TableName=name, Item=item)
    return name


GLOBAL_INDEX_QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "#o = :o", "Values": {":o": {"S": "owner-2"}}},
    {"KeyConditionExpression": "#o = :o", "Values": {":o": {"S": "owner-2"}}, "ScanIndexForward": False},
    {"KeyConditionExpression": "#o = :o", "Values": {":o": {"S": "owner-3"}}, "Limit": 7},
    {"KeyConditionExpression": "#o = :o AND id > :id", "Values": {":o": {"S": "owner-1"}, ":id": {"S": "0500"}}},
    {
        "KeyConditionExpression": "#o = :o AND begins_with(id, :p)",
        "Values": {":o": {"S": "owner-4"}, ":p": {"S": "0"}},
        "Limit": 3,
        "ScanIndexForward": False,
    },
    {
        "KeyConditionExpression": "#o = :o",
        "Values": {":o": {"S": "owner-0"}, ":s": {"N": "150"}},
        "FilterExpression": "weight > :s",
        "Limit": 5,
    },
    {"KeyConditionExpression": "#o = :o", "Values": {":o": {"S": "nobody"}}, "Empty": True},
    {"IndexName": "by-name", "KeyConditionExpression": "#o = :o", "Values": {":o": {"S": "owner-5"}}, "Limit": 6},
    {
        "IndexName": "by-name",
        "KeyConditionExpression": "#o = :o AND #n < :n",
        "Values": {":o": {"S": "owner-5"}, ":n": {"S": "name 5"}},
        "ScanIndexForward": False,
    },
    {
        "IndexName": "due",
        "KeyConditionExpression": "shard = :s AND due <= :d",
        "Values": {":s": {"S": "0"}, ":d": {"N": "1003"}},
        "Limit": 4,
    },
    {
        "IndexName": "due",
        "KeyConditionExpression": "shard = :s",
        "Values": {":s": {"S": "1"}},
        "ScanIndexForward": False,
    },
    {"IndexName": "due", "KeyConditionExpression": "shard = :s", "Values": {":s": {"S": "7"}}, "Empty": True},
]


def pages(client: Any, table: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of ``query`` (items, count, scanned count, last key), following LastEvaluatedKey."""
    arguments: dict[str, Any] = {"TableName": table, "ExpressionAttributeValues": query["Values"]}
    arguments.update({key: value for key, value in query.items() if key not in ("Values", "Empty")})
    if "#o" in query["KeyConditionExpression"]:
        arguments["ExpressionAttributeNames"] = {"#o": "owner"}
        if "#n" in query["KeyConditionExpression"]:
            arguments["ExpressionAttributeNames"]["#n"] = "name"
    answers = []
    while True:
        answer = client.query(**arguments)
        answers.append({field: answer.get(field) for field in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
        if "LastEvaluatedKey" not in answer:
            return answers
        arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


@pytest.mark.parametrize(
    "query", GLOBAL_INDEX_QUERIES, ids=[f"query-{number}" for number in range(len(GLOBAL_INDEX_QUERIES))]
)
def test_a_query_answers_as_moto_does_page_by_page(client: Any, sparse_table: str, query: dict[str, Any]) -> None:
    moto_speedups.uninstall()
    expected = pages(client, sparse_table, query)
    moto_speedups.install()
    patched = pages(client, sparse_table, query)

    assert patched == expected
    assert (sum(page["Count"] for page in expected) == 0) == query.get("Empty", False)


# -- SQS reads a queue's settings once ---------------------------------------------------------------


def beside(client: Any, service: str) -> Any:
    """A boto3 client of ``service`` on the same moto server as ``client``."""
    return boto3.client(
        service,
        endpoint_url=client.meta.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def sqs(client: Any) -> Any:
    return beside(client, "sqs")


def queue_conversation(sqs: Any, name: str) -> list[Any]:
    url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "600"})["QueueUrl"]
    for number in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{number}")
    for number in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=f"later{number}", DelaySeconds=600)
    answers: list[Any] = []
    for names in (["MessageRetentionPeriod"], ["ApproximateNumberOfMessages", "VisibilityTimeout"], ["All"], []):
        answers.append(answer(lambda names=names: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)))
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, WaitTimeSeconds=0)
    answers.append(sorted(message["Body"] for message in received["Messages"]))
    answers.append(
        answer(
            lambda: sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )
        )
    )
    answers.append(answer(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])))
    first, second, third = received["Messages"]
    answers.append(answer(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])))
    answers.append(answer(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])))
    answers.append(answer(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-receipt-handle")))
    entries = [
        {"Id": "second", "ReceiptHandle": second["ReceiptHandle"]},
        {"Id": "stale", "ReceiptHandle": "not-a-receipt-handle"},
        {"Id": "third", "ReceiptHandle": third["ReceiptHandle"]},
    ]
    batch = answer(lambda: sqs.delete_message_batch(QueueUrl=url, Entries=entries))
    answers.append(sorted(entry["Id"] for entry in batch["Successful"]))
    answers.append([(entry["Id"], entry["Code"]) for entry in batch["Failed"]])
    answers.append(
        answer(
            lambda: sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )
        )
    )
    sqs.delete_queue(QueueUrl=url)
    for each in answers:
        if isinstance(each, dict):
            for moving in ("CreatedTimestamp", "LastModifiedTimestamp", "QueueArn"):
                each.get("Attributes", {}).pop(moving, None)
    return answers


def test_queue_attributes_and_receives_answer_as_moto_does(sqs: Any) -> None:
    name = f"q-{uuid.uuid4().hex[:8]}"
    moto_speedups.uninstall()
    expected = queue_conversation(sqs, name)
    moto_speedups.install()
    got = queue_conversation(sqs, name)
    assert got == expected
    assert expected[0]["Attributes"] == {"MessageRetentionPeriod": "600"}
    assert expected[1]["Attributes"] == {"ApproximateNumberOfMessages": "5", "VisibilityTimeout": "30"}
    assert expected[4] == ["m0", "m1", "m2"]
    assert expected[5]["Attributes"] == {
        "ApproximateNumberOfMessages": "2",
        "ApproximateNumberOfMessagesNotVisible": "3",
        "ApproximateNumberOfMessagesDelayed": "2",
    }
    assert expected[6]["error"]["Code"] == "InvalidAttributeName"
    assert [expected[n]["status"] for n in (7, 8, 9)] == [200, 200, 400]
    assert expected[9]["error"]["Code"] == "ReceiptHandleIsInvalid"
    assert (expected[10], expected[11]) == (["second", "third"], [("stale", "ReceiptHandleIsInvalid")])
    left = {"ApproximateNumberOfMessages": "2", "ApproximateNumberOfMessagesNotVisible": "0"}
    assert expected[12]["Attributes"] == left


def test_a_message_past_its_retention_period_is_not_received(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_speedups.install()
    urls = [
        sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        for _ in range(2)
    ]
    for url in urls:
        sqs.send_message(QueueUrl=url, MessageBody="old")
    later = moto_speedups.unix_time() + 61
    monkeypatch.setattr(moto_speedups, "unix_time", lambda: later)
    assert sqs.receive_message(QueueUrl=urls[0], WaitTimeSeconds=0).get("Messages", []) == []
    monkeypatch.setattr(moto_speedups, "unix_time", lambda: later - 2)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=urls[1], WaitTimeSeconds=0)["Messages"]] == ["old"]


# -- moto's models are not tracked for ever -----------------------------------------------------------


def items_no_table_holds() -> int:
    """How many moto ``Item`` objects are alive in this process that no table holds."""
    stored: set[int] = set()
    for regions in dynamodb_backends.values():
        for backend in regions.values():
            for table in backend.tables.values():
                for bucket in table.items.values():
                    stored.update(map(id, bucket.values()) if isinstance(bucket, dict) else [id(bucket)])
    gc.collect()
    return sum(1 for each in gc.get_objects() if type(each) is Item and id(each) not in stored)


def write_and_overwrite(client: Any, table: str) -> None:
    for number in range(60):
        client.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"N": str(number % 3)}, "n": {"N": "0"}})
        client.update_item(
            TableName=table,
            Key={"pk": {"S": "p"}, "sk": {"N": str(number % 3)}},
            UpdateExpression="SET #n = #n + :one",
            ExpressionAttributeNames={"#n": "n"},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        client.get_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"N": "0"}})


def test_moto_keeps_no_item_the_tables_no_longer_hold(client: Any) -> None:
    moto_speedups.uninstall()
    write_and_overwrite(client, make_table(client))
    # moto as released keeps every Item it made on Item.instances_tracked: each of the 60 puts and 60
    # updates leaves at least one behind that no table holds.
    assert items_no_table_holds() >= 120

    moto_speedups.install()  # and forgets what was tracked
    write_and_overwrite(client, make_table(client))

    assert items_no_table_holds() == 0
    assert Item.instances_tracked == []  # type: ignore[attr-defined]


# -- S3 listings by prefix -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3(client: Any) -> Any:
    return beside(client, "s3")


#: Keys that sort around and inside the prefixes listed: a prefix's neighbours ("a/b" and "a/b0",
#: "a/bz"), folders under it, a key equal to a prefix, and names past the Basic Multilingual Plane.
LISTED_KEYS = [
    "a/b",
    "a/b/1",
    "a/b/2",
    "a/b/c/3",
    "a/b/c/d/4",
    "a/b0",
    "a/bz/5",
    "a/c/6",
    "b/7",
    "ü/8",
    "ü/\U0001f600/9",
    "zz",
]
#: (Prefix, Delimiter, MaxKeys) of the listings compared.
LISTINGS = [
    ("a/b", None, None),
    ("a/b/", None, None),
    ("a/b/", "/", None),
    ("a/", "/", None),
    ("a/b/", None, 2),
    ("ü/", None, None),
    ("nothing/", None, None),
    ("", None, None),
    ("a/b/c/d/4", None, None),
]


def listings(s3: Any, bucket: str) -> list[Any]:
    """Every listing of :data:`LISTINGS`, v2 page by page and v1 with a marker; the answers."""
    answers: list[Any] = []
    for prefix, delimiter, most in LISTINGS:
        options: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if delimiter:
            options["Delimiter"] = delimiter
        if most:
            options["MaxKeys"] = most
        pages = []
        token: dict[str, str] = {}
        while True:
            page = answer(lambda token=token, options=options: s3.list_objects_v2(**options, **token))
            pages.append({k: v for k, v in page.items() if k != "Contents"})
            pages[-1]["keys"] = [(item["Key"], item["Size"], item["ETag"]) for item in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                break
            token = {"ContinuationToken": page["NextContinuationToken"]}
        answers.append(pages)
        v1 = answer(lambda options=options: s3.list_objects(**options, Marker="a/b/1"))
        answers.append([(item["Key"], item["Size"]) for item in v1.get("Contents", [])])
        answers.append(v1.get("CommonPrefixes", []))
    return answers


def fill(s3: Any, bucket: str, *, versioned: bool) -> None:
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for number, key in enumerate(LISTED_KEYS):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * number)
    s3.put_object(Bucket=bucket, Key="a/b/2", Body=b"overwritten")
    s3.delete_object(Bucket=bucket, Key="a/b/c/3")  # a delete marker where versioned
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a/bz/5"}]})


@pytest.mark.parametrize("versioned", [False, True], ids=["plain", "versioned"])
def test_listings_by_prefix_answer_as_moto_does(s3: Any, versioned: bool) -> None:
    """The same keys, written, overwritten and deleted, listed with moto's own ``list_objects`` and
    with the index: every page of every listing is the same."""
    moto_speedups.uninstall()
    fill(s3, moto_bucket := f"moto-{uuid.uuid4().hex[:8]}", versioned=versioned)
    expected = listings(s3, moto_bucket)
    moto_speedups.install()
    fill(s3, fast_bucket := f"fast-{uuid.uuid4().hex[:8]}", versioned=versioned)
    assert json.loads(json.dumps(listings(s3, fast_bucket))) == json.loads(
        json.dumps(expected).replace(moto_bucket, fast_bucket)
    )
    assert expected[0][0]["keys"][0][0] == "a/b"  # the listings found keys: the comparison compared something


def test_the_index_follows_writes_made_after_the_first_listing(s3: Any) -> None:
    moto_speedups.install()
    bucket = f"later-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key="p/old", Body=b"1")

    def keys() -> list[str]:
        return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="p/").get("Contents", [])]

    assert keys() == ["p/old"]  # the index is made here
    s3.put_object(Bucket=bucket, Key="p/new", Body=b"2")
    s3.put_object(Bucket=bucket, Key="q/other", Body=b"3")
    s3.copy_object(Bucket=bucket, Key="p/copy", CopySource={"Bucket": bucket, "Key": "p/old"})
    assert keys() == ["p/copy", "p/new", "p/old"]
    s3.delete_object(Bucket=bucket, Key="p/old")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "p/copy"}]})
    assert keys() == ["p/new"]


def test_a_listing_reads_only_its_prefix(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto copied the whole key store for every listing; the index never does."""
    moto_speedups.install()
    bucket = f"big-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for number in range(50):
        s3.put_object(Bucket=bucket, Key=f"other/{number:03}", Body=b"x")
    s3.put_object(Bucket=bucket, Key="mine/1", Body=b"x")
    copies: list[int] = []
    whole = _VersionedKeyStore._self_iterable
    monkeypatch.setattr(_VersionedKeyStore, "_self_iterable", lambda self: copies.append(len(self)) or whole(self))
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="mine/")["Contents"]] == ["mine/1"]
    assert copies == []
    moto_speedups.uninstall()
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="mine/")["Contents"]] == ["mine/1"]
    assert copies == [51]  # moto's own listing, to show what the first assertion would have caught


def test_a_key_deleted_during_a_listing_is_left_out() -> None:
    """Between reading the names under a prefix and reading their keys, another request may delete
    one: moto raised ``KeyError`` there (an HTTP 500 under load); the listing now leaves it out."""
    moto_speedups.install()
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    bucket = backend.create_bucket(f"race-{uuid.uuid4().hex[:8]}", REGION)
    for name in ("p/1", "p/2", "p/3"):
        backend.put_object(bucket.name, name, b"x")
    assert [key.name for key in backend.list_objects(bucket, "p/", None, None, None)[0]] == ["p/1", "p/2", "p/3"]
    dict.__delitem__(bucket.keys, "p/2")  # gone from the store, as it is while the index catches up
    keys, folders, truncated, marker = backend.list_objects(bucket, "p/", None, None, None)
    assert ([key.name for key in keys], folders, truncated, marker) == (["p/1", "p/3"], [], False, None)
