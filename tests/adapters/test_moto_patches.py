"""moto's TransactWriteItems, patched (adapters/moto_patches.py): the same answers and the same
table afterwards as moto's own, at the cost of the items it touches, through boto3 against a real
moto server in this process."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import Item

from adapters import moto_patches

REGION = "us-west-2"
FILLED = 2_000


@pytest.fixture(scope="module")
def client(moto_endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def patched() -> Iterator[None]:
    """The patch installed for one test; moto as it was afterwards, for the rest of the session."""
    was_installed = moto_patches.installed()
    moto_patches.install()
    yield
    if not was_installed:
        moto_patches.uninstall()


@pytest.fixture
def unpatched() -> Iterator[None]:
    was_installed = moto_patches.installed()
    moto_patches.uninstall()
    yield
    if was_installed:
        moto_patches.install()


def create_table(client: Any, *, stream: bool = False) -> str:
    """A table like DocStore's documents: hash + range key, and a global index on ``colour``."""
    name = f"txn-{uuid.uuid4().hex[:12]}"
    extra: dict[str, Any] = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "colour", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-colour",
                "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return name


@pytest.fixture
def table(client: Any) -> Iterator[str]:
    name = create_table(client)
    for pk, sk, colour, n in [("a", "1", "red", "1"), ("a", "2", "blue", "2"), ("b", "1", "red", "3")]:
        client.put_item(TableName=name, Item={"pk": {"S": pk}, "sk": {"S": sk}, "colour": {"S": colour}, "n": {"N": n}})
    yield name
    client.delete_table(TableName=name)


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def put(table: str, pk: str, sk: str, **attrs: Any) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": {**key(pk, sk), **attrs}}}


def state(client: Any, table: str) -> dict[str, Any]:
    """Everything a reader can see, and the hash-key buckets moto keeps inside."""
    scanned = client.scan(TableName=table, ConsistentRead=True)["Items"]
    by_colour = {
        colour: client.query(
            TableName=table,
            IndexName="by-colour",
            KeyConditionExpression="colour = :c",
            ExpressionAttributeValues={":c": {"S": colour}},
        )["Items"]
        for colour in ("red", "blue", "green")
    }
    internal = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[table].items
    buckets = {hash_key.value: sorted(r.value for r in bucket) for hash_key, bucket in internal.items()}
    return {"items": scanned, "by-colour": by_colour, "buckets": buckets}


def cancellation(error: ClientError) -> tuple[str, list[dict[str, Any]]]:
    return error.response["Error"]["Code"], error.response.get("CancellationReasons", [])


# -- the transaction's semantics ----------------------------------------------------------------------


@pytest.mark.usefixtures("patched")
def test_a_transaction_applies_its_put_update_delete_and_condition_check(client: Any, table: str) -> None:
    client.transact_write_items(
        TransactItems=[
            put(table, "c", "1", colour={"S": "green"}, n={"N": "4"}),
            {
                "Update": {
                    "TableName": table,
                    "Key": key("a", "1"),
                    "UpdateExpression": "SET n = n + :one, label = :label",
                    "ConditionExpression": "n = :was",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":label": {"S": "x"}, ":was": {"N": "1"}},
                }
            },
            {"Delete": {"TableName": table, "Key": key("a", "2"), "ConditionExpression": "attribute_exists(pk)"}},
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": key("b", "1"),
                    "ConditionExpression": "colour = :red",
                    "ExpressionAttributeValues": {":red": {"S": "red"}},
                }
            },
        ]
    )

    after = state(client, table)
    assert after["items"] == [
        {"pk": {"S": "a"}, "sk": {"S": "1"}, "colour": {"S": "red"}, "n": {"N": "2"}, "label": {"S": "x"}},
        {"pk": {"S": "b"}, "sk": {"S": "1"}, "colour": {"S": "red"}, "n": {"N": "3"}},
        {"pk": {"S": "c"}, "sk": {"S": "1"}, "colour": {"S": "green"}, "n": {"N": "4"}},
    ]
    assert [item["pk"]["S"] + item["sk"]["S"] for item in after["by-colour"]["green"]] == ["c1"]
    assert after["by-colour"]["blue"] == []


@pytest.mark.usefixtures("patched")
def test_a_failed_condition_cancels_the_whole_transaction_and_leaves_every_item_as_it_was(
    client: Any, table: str
) -> None:
    before = state(client, table)

    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                put(table, "c", "1", colour={"S": "green"}),  # a new item, in a new hash-key bucket
                put(table, "a", "3", colour={"S": "blue"}),  # a new item beside existing ones
                {
                    "Update": {
                        "TableName": table,
                        "Key": key("a", "1"),
                        "UpdateExpression": "SET label = :label, colour = :green",
                        "ExpressionAttributeValues": {":label": {"S": "x"}, ":green": {"S": "green"}},
                    }
                },
                {"Delete": {"TableName": table, "Key": key("a", "2")}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key("b", "1"),
                        "ConditionExpression": "n > :three",
                        "ExpressionAttributeValues": {":three": {"N": "3"}},
                    }
                },
            ]
        )

    code, reasons = cancellation(raised.value)
    assert code == "TransactionCanceledException"
    assert reasons == [
        {"Code": "None"},
        {"Code": "None"},
        {"Code": "None"},
        {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
    ]
    assert state(client, table) == before


@pytest.mark.usefixtures("patched")
def test_return_values_on_condition_check_failure_gives_the_item_as_it_was(client: Any, table: str) -> None:
    before = state(client, table)

    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": table, "Key": key("b", "1")}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {**key("a", "1"), "colour": {"S": "green"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )

    assert cancellation(raised.value) == (
        "TransactionCanceledException",
        [
            {"Code": "None"},
            {
                "Code": "ConditionalCheckFailed",
                "Message": "The conditional request failed",
                "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}, "colour": {"S": "red"}, "n": {"N": "1"}},
            },
        ],
    )
    assert state(client, table) == before


@pytest.mark.usefixtures("patched")
def test_two_operations_on_one_item_are_refused_and_nothing_is_applied(client: Any, table: str) -> None:
    before = state(client, table)

    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                put(table, "c", "1", colour={"S": "green"}),
                {"Delete": {"TableName": table, "Key": key("b", "1")}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": key("b", "1"),
                        "UpdateExpression": "SET label = :label",
                        "ExpressionAttributeValues": {":label": {"S": "x"}},
                    }
                },
            ]
        )

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["Error"]["Message"] == (
        "Transaction request cannot include multiple operations on one item"
    )
    assert state(client, table) == before


@pytest.mark.usefixtures("patched")
def test_a_validation_error_after_some_writes_applies_nothing(client: Any, table: str) -> None:
    before = state(client, table)

    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                put(table, "c", "1", colour={"S": "green"}),
                {"Delete": {"TableName": table, "Key": key("a", "2")}},
                {
                    "Update": {  # adds a number to a string: refused once the item is read
                        "TableName": table,
                        "Key": key("a", "1"),
                        "UpdateExpression": "SET colour = colour + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert state(client, table) == before


@pytest.mark.usefixtures("patched")
def test_a_client_request_token_is_accepted(client: Any, table: str) -> None:
    # moto 5.2.5 accepts the idempotency token and ignores it (a repeat is applied again), patched or not.
    client.transact_write_items(
        TransactItems=[put(table, "c", "1", colour={"S": "green"})], ClientRequestToken="token-0001"
    )

    assert client.get_item(TableName=table, Key=key("c", "1"), ConsistentRead=True)["Item"] == {
        **key("c", "1"),
        "colour": {"S": "green"},
    }


@pytest.mark.usefixtures("patched")
def test_a_cancelled_transaction_leaves_no_stream_records(client: Any) -> None:
    name = create_table(client, stream=True)
    try:
        client.put_item(TableName=name, Item={**key("a", "1"), "colour": {"S": "red"}})
        shard = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[name].stream_shard
        records_before = [record.to_json() for record in shard.items]

        with pytest.raises(ClientError):
            client.transact_write_items(
                TransactItems=[
                    put(name, "b", "1", colour={"S": "blue"}),
                    {
                        "ConditionCheck": {
                            "TableName": name,
                            "Key": key("a", "1"),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )

        assert [record.to_json() for record in shard.items] == records_before
        assert len(records_before) == 1
    finally:
        client.delete_table(TableName=name)


# -- patched and unpatched moto agree -----------------------------------------------------------------

SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "all applied": [
        put("{t}", "c", "1", colour={"S": "green"}),
        {
            "Update": {
                "TableName": "{t}",
                "Key": key("a", "1"),
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Delete": {"TableName": "{t}", "Key": key("b", "1")}},
    ],
    "first fails": [
        {
            "Delete": {
                "TableName": "{t}",
                "Key": key("a", "2"),
                "ConditionExpression": "n = :n",
                "ExpressionAttributeValues": {":n": {"N": "9"}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        put("{t}", "a", "1", colour={"S": "green"}),
    ],
    "update creates, then a check fails": [
        {
            "Update": {
                "TableName": "{t}",
                "Key": key("d", "1"),
                "UpdateExpression": "SET colour = :c",
                "ExpressionAttributeValues": {":c": {"S": "blue"}},
            }
        },
        {
            "ConditionCheck": {
                "TableName": "{t}",
                "Key": key("zz", "1"),
                "ConditionExpression": "attribute_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
    ],
    "a missing table": [
        put("{t}", "c", "1"),
        {"Delete": {"TableName": "no-such-table", "Key": key("a", "1")}},
    ],
    "a validation error": [
        put("{t}", "c", "1"),
        {
            "Update": {
                "TableName": "{t}",
                "Key": key("a", "1"),
                "UpdateExpression": "SET colour = colour + :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ],
    "one item twice": [put("{t}", "c", "1"), {"Delete": {"TableName": "{t}", "Key": key("c", "1")}}],
    "conditions that hold": [
        {
            "Put": {
                "TableName": "{t}",
                "Item": {**key("e", "1"), "colour": {"S": "grey"}},
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": "pk"},
            }
        },
        {
            "Update": {
                "TableName": "{t}",
                "Key": key("a", "1"),
                "UpdateExpression": "SET #c = :c ADD #n :one",
                "ConditionExpression": "#n = :n OR attribute_not_exists(#n)",
                "ExpressionAttributeNames": {"#c": "colour", "#n": "n"},
                "ExpressionAttributeValues": {":c": {"S": "red"}, ":one": {"N": "1"}, ":n": {"N": "1"}},
            }
        },
        {
            "Delete": {
                "TableName": "{t}",
                "Key": key("b", "1"),
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
    ],
}


def named(items: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    return [
        {op: {**body, "TableName": table if body["TableName"] == "{t}" else body["TableName"]}}
        for entry in items
        for op, body in entry.items()
    ]


def outcome(client: Any, table: str, items: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    try:
        client.transact_write_items(TransactItems=named(items, table))
        answer: Any = "applied"
    except ClientError as error:
        answer = (error.response["Error"], error.response.get("CancellationReasons"))
    return answer, state(client, table)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_patched_moto_answers_and_leaves_the_table_as_moto_does(client: Any, table: str, scenario: str) -> None:
    twin = create_table(client)
    try:
        for item in client.scan(TableName=table)["Items"]:
            client.put_item(TableName=twin, Item=item)
        moto_patches.uninstall()
        expected = outcome(client, twin, SCENARIOS[scenario])
        moto_patches.install()
        try:
            got = outcome(client, table, SCENARIOS[scenario])
        finally:
            moto_patches.uninstall()

        assert got[0] == expected[0]
        assert got[1] == expected[1]
    finally:
        client.delete_table(TableName=twin)


# -- the cost: the items copied -----------------------------------------------------------------------


@pytest.fixture
def filled(client: Any) -> Iterator[tuple[str, str]]:
    """A table of 2,000 items whose hash keys start with a prefix of their own."""
    name = create_table(client)
    prefix = uuid.uuid4().hex[:8]
    items = [{"pk": {"S": f"{prefix}-{i // 10}"}, "sk": {"S": str(i % 10)}, "n": {"N": str(i)}} for i in range(FILLED)]
    for start in range(0, FILLED, 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        client.batch_write_item(RequestItems={name: requests})
    yield name, prefix
    client.delete_table(TableName=name)


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, str]]:
    """Each deep copy of a DynamoDB item, by (hash, range) key, made while the test runs."""
    copied: Counter[tuple[str, str]] = Counter()
    original = Item.__deepcopy__

    def counting(self: Item, memo: dict[int, Any]) -> Item:
        copied[(str(self.hash_key.value), str(self.range_key.value if self.range_key else ""))] += 1
        return original(self, memo)

    monkeypatch.setattr(Item, "__deepcopy__", counting)
    return copied


def two_item_transaction(client: Any, table: str, prefix: str) -> None:
    client.transact_write_items(
        TransactItems=[
            put(table, f"{prefix}-7", "3", n={"N": "-1"}),
            {"Delete": {"TableName": table, "Key": key(f"{prefix}-150", "9")}},
        ]
    )


def ours(copies: Counter[tuple[str, str]], prefix: str) -> Counter[tuple[str, str]]:
    # Other tests' servers in this process may copy their own items meanwhile; count this table's.
    return Counter({k: n for k, n in copies.items() if k[0].startswith(f"{prefix}-")})


@pytest.mark.usefixtures("patched")
def test_a_two_item_transaction_copies_its_two_items_only(
    client: Any, filled: tuple[str, str], copies: Counter[tuple[str, str]]
) -> None:
    table, prefix = filled

    two_item_transaction(client, table, prefix)

    assert ours(copies, prefix) == Counter({(f"{prefix}-7", "3"): 1, (f"{prefix}-150", "9"): 1})


@pytest.mark.usefixtures("unpatched")
def test_unpatched_moto_copies_the_whole_table_for_two_items(
    client: Any, filled: tuple[str, str], copies: Counter[tuple[str, str]]
) -> None:
    table, prefix = filled

    two_item_transaction(client, table, prefix)

    # Once for each operation that names the table: two whole copies of it.
    assert ours(copies, prefix) == Counter({(f"{prefix}-{i // 10}", str(i % 10)): 2 for i in range(FILLED)})


@pytest.mark.usefixtures("patched")
def test_each_condition_is_parsed_once_by_the_handler_and_once_to_be_evaluated(
    client: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = f"m{uuid.uuid4().hex[:8]}"
    parsed: Counter[str] = Counter()
    parse = ConditionExpressionParser.parse

    def counting(self: ConditionExpressionParser) -> Any:
        # Other tests' servers in this process may parse their own conditions meanwhile.
        if self.condition_expression and marker in (self.expression_attribute_names or {}).values():
            parsed[self.condition_expression] += 1
        return parse(self)

    monkeypatch.setattr(ConditionExpressionParser, "parse", counting)
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": table,
                    "Item": {**key("e", "1"), marker: {"S": "new"}},
                    "ConditionExpression": "attribute_not_exists(#m)",
                    "ExpressionAttributeNames": {"#m": marker},
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": key("a", "1"),
                    "UpdateExpression": "SET #m = :v",
                    "ConditionExpression": "attribute_not_exists(#m) AND n = :n",
                    "ExpressionAttributeNames": {"#m": marker},
                    "ExpressionAttributeValues": {":v": {"S": "set"}, ":n": {"N": "1"}},
                }
            },
        ]
    )

    # moto parsed each three times: for the names it uses, to evaluate it, and again in the write.
    assert parsed == Counter({"attribute_not_exists(#m)": 2, "attribute_not_exists(#m) AND n = :n": 2})
    assert client.get_item(TableName=table, Key=key("a", "1"))["Item"][marker] == {"S": "set"}
    assert client.get_item(TableName=table, Key=key("e", "1"))["Item"][marker] == {"S": "new"}


# -- installing ---------------------------------------------------------------------------------------


def test_install_is_idempotent_and_uninstall_gives_moto_its_method_back() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    was_installed = moto_patches.installed()
    moto_patches.uninstall()
    original = DynamoDBBackend.transact_write_items
    try:
        moto_patches.install()
        moto_patches.install()
        assert DynamoDBBackend.transact_write_items is moto_patches.transact_write_items

        moto_patches.uninstall()
        assert DynamoDBBackend.transact_write_items is original
    finally:
        if was_installed:
            moto_patches.install()


def test_install_refuses_another_moto_release(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    was_installed = moto_patches.installed()
    moto_patches.uninstall()
    original = DynamoDBBackend.transact_write_items
    monkeypatch.setattr(moto, "__version__", "5.2.6")
    try:
        with pytest.raises(moto_patches.UnsupportedMoto) as raised:
            moto_patches.install()

        assert "moto 5.2.5" in str(raised.value)
        assert "moto 5.2.6 is installed" in str(raised.value)
        assert DynamoDBBackend.transact_write_items is original
    finally:
        monkeypatch.undo()
        if was_installed:
            moto_patches.install()
