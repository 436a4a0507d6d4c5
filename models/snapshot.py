"""Whole tables as DynamoDB items, for ``docstore backup`` and ``docstore restore``.

Items travel in DynamoDB's typed JSON (``{"name": {"S": "..."}}``), exactly as the tables hold
them, so a backup keeps every attribute, including any this version of the models does not know.
Besides ``models.recount`` this is the one place that scans whole tables.
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

from pynamodb.connection import Connection

from models.accounts import Account, EmailClaim
from models.base import BaseMeta
from models.changes import ChangeRow
from models.counters import Counter
from models.documents import Document
from models.share_links import ShareLink
from models.shares import Share
from models.version_rows import Version

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from pynamodb.models import Model

#: The tables a backup holds, by the name a backup gives their file: with the documents, their
#: earlier versions (every one counts in its account's usage) and the change feed (so clients'
#: cursors stay good), with their share links and shares. Sessions are left out (a restored
#: deployment asks everyone to sign in again), and so are the idempotency records: they name queue
#: messages of the source deployment, whose queues are not backed up. The outbox is left out for
#: the same reason: its messages are work for the source's queues, and the work a restored
#: deployment needs is sent again from what the tables hold (``commands/restore.py``). The path
#: claims follow from the documents (a restore claims them again), and the rows of uploads of a new
#: version in progress go with those uploads, which a backup leaves out.
TABLES: dict[str, type[Model]] = {
    "accounts": Account,
    "emails": EmailClaim,
    "documents": Document,
    "versions": Version,
    "changes": ChangeRow,
    "counters": Counter,
    "share_links": ShareLink,
    "shares": Share,
}
#: BatchWriteItem's limit.
BATCH = 25
#: BatchGetItem's limit.
GET_BATCH = 100
#: How often unprocessed items of a batch write are sent again before giving up.
WRITE_RETRIES = 8

Item = dict[str, Any]


def _client() -> Any:
    connection = Connection(
        region=BaseMeta.region,
        host=BaseMeta.host,
        max_pool_connections=BaseMeta.max_pool_connections,
        aws_access_key_id=BaseMeta.aws_access_key_id,
        aws_secret_access_key=BaseMeta.aws_secret_access_key,
    )
    return connection.client


def table_name(name: str) -> str:
    return str(TABLES[name].Meta.table_name)


def scan(name: str) -> Iterator[Item]:
    """Every item of the table, each read with ``ConsistentRead``, page by page."""
    client = _client()
    request: dict[str, Any] = {"TableName": table_name(name), "ConsistentRead": True}
    while True:
        page = client.scan(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def get(name: str, key: Item) -> Item | None:
    """The item with ``key`` (its key attributes, typed), read consistently; None if absent."""
    found = _client().get_item(TableName=table_name(name), Key=key, ConsistentRead=True).get("Item")
    return dict(found) if found is not None else None


def get_many(name: str, keys: list[Item]) -> list[Item]:
    """The items with ``keys`` that exist (BatchGetItem, 100 keys a request, read consistently;
    what DynamoDB leaves unprocessed is asked again), in no particular order."""
    client = _client()
    table = table_name(name)
    found: list[Item] = []
    for start in range(0, len(keys), GET_BATCH):
        request: dict[str, Any] = {table: {"Keys": keys[start : start + GET_BATCH], "ConsistentRead": True}}
        for attempt in range(WRITE_RETRIES + 1):
            answer = client.batch_get_item(RequestItems=request)
            found.extend(answer.get("Responses", {}).get(table, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(0.05 * 2**attempt, 2.0))
        else:
            raise RuntimeError(f"DynamoDB kept {len(request[table]['Keys'])} keys of a batch unread in {table}")
    return found


def is_empty(name: str) -> bool:
    """Whether the table holds no item at all (one consistent read of at most one item)."""
    client = _client()
    request: dict[str, Any] = {"TableName": table_name(name), "ConsistentRead": True, "Limit": 1}
    while True:
        page = client.scan(**request)
        if page.get("Items"):
            return False
        if "LastEvaluatedKey" not in page:
            return True
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def write(name: str, items: Iterable[Item]) -> int:
    """Put ``items`` into the table in batches, replacing any item with the same key; how many."""
    client = _client()
    table = table_name(name)
    written = 0
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            _put_batch(client, table, batch)
            written += len(batch)
            batch = []
    if batch:
        _put_batch(client, table, batch)
        written += len(batch)
    return written


def _put_batch(client: Any, table: str, items: list[Item]) -> None:
    requests: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items]}
    for attempt in range(WRITE_RETRIES):
        left = client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
        if not left:
            return
        requests = left
        time.sleep(min(0.05 * 2**attempt, 2.0))  # throttled: back off as the AWS SDKs advise
    raise RuntimeError(f"DynamoDB kept {len(requests.get(table, []))} items of a batch unwritten in {table}")


# DynamoDB's JSON carries binary values in base64; botocore hands them over as bytes.
def to_json(item: Item) -> Item:
    """An item from botocore's form to DynamoDB's typed JSON."""
    return {name: _value_to_json(value) for name, value in item.items()}


def from_json(item: Item) -> Item:
    """The inverse of :func:`to_json`."""
    return {name: _value_from_json(value) for name, value in item.items()}


def _value_to_json(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64encode(inner).decode()}
    if kind == "BS":
        return {kind: [base64.b64encode(part).decode() for part in inner]}
    if kind == "M":
        return {kind: to_json(inner)}
    if kind == "L":
        return {kind: [_value_to_json(part) for part in inner]}
    return value


def _value_from_json(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64decode(inner)}
    if kind == "BS":
        return {kind: [base64.b64decode(part) for part in inner]}
    if kind == "M":
        return {kind: from_json(inner)}
    if kind == "L":
        return {kind: [_value_from_json(part) for part in inner]}
    return value
