"""Plans and statuses are enums in Python and the same strings in DynamoDB as before they were."""

from __future__ import annotations

from typing import Any

import pytest
from ulid import ULID

from domain.documents import DocumentStatus
from domain.plans import Plan
from models import accounts, plans
from models.accounts import Account
from models.base import utcnow
from models.documents import Document


def raw_item(target: Any, table: str, key: dict[str, Any]) -> dict[str, Any]:
    """The item as DynamoDB holds it, read past PynamoDB."""
    client = target.client("dynamodb")
    return client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]


def new_account(plan: Plan) -> Account:
    return accounts.create(email=f"e-{ULID()}@example.com".lower(), password_hash="x", plan=plan, home_region="r")


def test_a_plan_is_stored_as_its_name_and_read_back_as_the_member(target) -> None:
    account = new_account(Plan.PREMIUM)
    accounts.count_new(account.id)

    item = raw_item(target, Account.Meta.table_name, {"id": {"S": account.id}})
    read = accounts.get(account.id)

    assert (item["plan"], item["counted_plan"]) == ({"S": "PREMIUM"}, {"S": "PREMIUM"})
    assert (read.plan, read.counted_plan) == (Plan.PREMIUM, Plan.PREMIUM)
    assert type(read.plan) is Plan
    assert read.limit_bytes == 20 * 1024**3


def test_an_item_written_as_a_plain_string_reads_as_the_member(target) -> None:
    account = new_account(Plan.FREE)
    client = target.client("dynamodb")
    client.update_item(
        TableName=Account.Meta.table_name,
        Key={"id": {"S": account.id}},
        UpdateExpression="SET #p = :p",
        ExpressionAttributeNames={"#p": "plan"},
        ExpressionAttributeValues={":p": {"S": "PREMIUM"}},
    )

    assert accounts.get(account.id).plan is Plan.PREMIUM


def test_a_status_is_stored_as_its_name(target) -> None:
    now = utcnow()
    document_id = str(ULID())
    Document(
        owner_id="enum-owner",
        document_id=document_id,
        name="a.txt",
        name_folded="a.txt",
        name_key=f"a.txt\x1f{document_id}",
        content_type="text/plain",
        size=1,
        declared_size=1,
        status=DocumentStatus.PENDING_UPLOAD,
        object_key="k",
        created_at=now,
        updated_at=now,
        updated_key="u",
        upload_expires_at=now,
    ).save()

    item = raw_item(
        target, Document.Meta.table_name, {"owner_id": {"S": "enum-owner"}, "document_id": {"S": document_id}}
    )

    assert item["status"] == {"S": "PENDING_UPLOAD"}
    assert Document.get("enum-owner", document_id, consistent_read=True).status is DocumentStatus.PENDING_UPLOAD


def test_a_string_given_for_a_plan_becomes_the_member() -> None:
    assert Account(id="a", plan="FREE").plan is Plan.FREE


def test_a_value_that_is_no_plan_is_refused_before_anything_is_written(target) -> None:
    account = new_account(Plan.FREE)

    with pytest.raises(ValueError, match="'GOLD' is not a valid Plan"):
        Account(id=account.id, plan="GOLD")
    with pytest.raises(ValueError, match="'GOLD' is not a valid Plan"):
        plans.change_plan(account.id, "GOLD")  # type: ignore[arg-type]

    assert raw_item(target, Account.Meta.table_name, {"id": {"S": account.id}})["plan"] == {"S": "FREE"}
