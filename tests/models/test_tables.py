"""``models.tables.isolated``: one context's own tables in the session's DynamoDB, while every other
thread of the process (the live server's) keeps the process's."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

from ulid import ULID

from models import accounts, tables
from models.accounts import Account
from models.counters import Counter
from tests.races import ContextPool


def holds(target: Any, table: str, account_id: str) -> bool:
    """Whether ``table`` holds the account, read past PynamoDB."""
    found = target.client("dynamodb").get_item(TableName=table, Key={"id": {"S": account_id}}, ConsistentRead=True)
    return "Item" in found


def new_account() -> Account:
    return accounts.create(email=f"t-{ULID()}@example.com".lower(), password_hash="x", plan="FREE", home_region="r")


def test_an_isolated_context_writes_its_own_tables_and_other_threads_keep_the_process_tables(target: Any) -> None:
    prefix = f"iso-{uuid.uuid4().hex[:10]}"
    seen_elsewhere: list[str] = []
    with tables.isolated(prefix) as created:
        names = [
            "accounts",
            "emails",
            "sessions",
            "documents",
            "paths",
            "versions",
            "version_uploads",
            "counters",
            "idempotency",
            "outbox",
            "changes",
            "share_links",
            "shares",
            "shared_uploads",
            "digests",
        ]
        assert sorted(created) == sorted(f"{prefix}-{name}" for name in names)
        assert Counter.Meta.table_name == f"{prefix}-counters"
        mine = new_account()
        # A plain thread starts with an empty context: the process's tables, as the live server's do.
        thread = threading.Thread(target=lambda: seen_elsewhere.append(Counter.Meta.table_name))
        thread.start()
        thread.join()
        # Threads that copy the context (asyncio.to_thread, anyio, ContextPool) follow it.
        in_task = asyncio.run(asyncio.to_thread(lambda: Counter.Meta.table_name))
        with ContextPool(1) as pool:
            in_pool = pool.submit(new_account).result()
        try:
            assert accounts.get(mine.id).email == mine.email
            assert holds(target, f"{prefix}-accounts", mine.id) is True
            assert holds(target, f"{prefix}-accounts", in_pool.id) is True
        finally:
            for model in tables.TABLES:
                model.delete_table()

    assert seen_elsewhere == ["test-counters"]
    assert in_task == f"{prefix}-counters"
    assert Counter.Meta.table_name == "test-counters"
    assert holds(target, "test-accounts", mine.id) is False
    assert holds(target, "test-accounts", in_pool.id) is False
    outside = new_account()
    assert holds(target, "test-accounts", outside.id) is True
