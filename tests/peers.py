"""A second region in the session's moto server (which keeps regions apart): the session's
`test-accounts` and `test-emails` tables in ap-southeast-2, and how to read and write them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from ulid import ULID

from models import accounts
from models.accounts import Account

HOME = "us-west-2"
PEER = "ap-southeast-2"
#: A region where the session never created tables: as good as a peer that cannot be reached.
NOWHERE = "eu-central-1"
ATTRIBUTES = {"id", "email", "home_region", "plan", "password_hash", "version", "created_at"}


class Peer:
    def __init__(self, client: Any) -> None:
        self.client = client

    def row(self, table: str, key: str, value: str) -> dict[str, str] | None:
        item = self.client.get_item(TableName=f"test-{table}", Key={key: {"S": value}}, ConsistentRead=True).get("Item")
        return None if item is None else {name: next(iter(typed.values())) for name, typed in item.items()}

    def put(self, table: str, **values: str) -> None:
        self.client.put_item(TableName=f"test-{table}", Item={name: {"S": value} for name, value in values.items()})


@pytest.fixture(scope="module")
def peer(target) -> Peer:
    """The session's `test-accounts` and `test-emails` tables, created in ap-southeast-2 too."""
    client = replace(target, region=PEER).client("dynamodb")
    existing = client.list_tables()["TableNames"]
    for table, key in (("test-accounts", "id"), ("test-emails", "email")):
        if table not in existing:
            client.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
    return Peer(client)


def home_account(plan: str = "FREE") -> Account:
    email = f"replica-{ULID()}@example.com".lower()
    return accounts.create(email=email, password_hash="$argon2id$home-hash", plan=plan, home_region=HOME)
