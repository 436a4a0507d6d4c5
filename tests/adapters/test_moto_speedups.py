"""moto's DynamoDB answers with adapters/moto_speedups.py installed are the answers moto gives
without it: the same calls through boto3 against a real moto server in this process, each answer
compared whole (but for the request id), on items holding every attribute type DynamoDB has."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.responses import BaseResponse
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

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
def client() -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield boto3.client(
        "dynamodb",
        endpoint_url=f"http://{host}:{port}",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    server.stop()


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
            UpdateExpression="ADD counter :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
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
        lambda: client.scan(TableName=table, Limit=1, FilterExpression="attribute_exists(counter)"),
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
                        "UpdateExpression": "ADD counter :one",
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
    assert expected[10]["error"]["Code"] == "ConditionalCheckFailedException"
    assert expected[-1]["error"]["Code"] == "ResourceNotFoundException"
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
