"""A patch of moto 5.2.5 carried by DocStore until moto has the fix: TransactWriteItems at the cost
of its own items.

moto's ``DynamoDBBackend.transact_write_items`` deep-copies every table a transaction touches
before it starts, so that it can put the copies back if the transaction is cancelled. A 2-item
transaction then costs what the whole table holds (1.6 s at 20,000 items), and the embedded AWS
serialises every DynamoDB request behind it (``Durable` in `adapters/aws_process.py``). The patched method keeps, in a
journal, a private copy of each item a write is about to change (or the fact that it did not
exist), and on cancellation restores exactly those: an item put where there was none is removed
again, an updated or deleted item is put back as it was, and the hash-key buckets and stream
records a cancelled transaction added are taken out. Secondary indexes need nothing more: moto
derives them from the table's items on every read.

Everything else is moto's own code, in moto's order, so the cancellation reasons, the error
types and messages stay exactly as moto gives them, but for one saving: the write an item's
condition allows is made without evaluating that condition a second time against the same item.
One difference, on purpose: moto leaves the earlier writes of a transaction in place when a later
item names two operations
(``TransactWriteSingleOpException``); the patch rolls back on every error, as DynamoDB applies
nothing. docs/MOTO_UPSTREAM.md is the write-up and the diff for moto's maintainers.

The patch is written against one moto version and refuses any other (:class:`UnsupportedMoto`):
pyproject.toml pins ``moto[server]==5.2.5``.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import moto
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType

if TYPE_CHECKING:
    from collections.abc import Callable

    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamRecord, Table

#: The moto release this patch was written and tested against.
MOTO_VERSION = "5.2.5"

_ORIGINAL: dict[str, Callable[..., None]] = {}
_LOCK = threading.Lock()


class UnsupportedMoto(RuntimeError):
    """The installed moto is not the release the patch was written for."""


def install() -> None:
    """Replace moto's ``transact_write_items`` by the patched one; a second call does nothing.

    Raises :class:`UnsupportedMoto` (and changes nothing) on any moto but :data:`MOTO_VERSION`.
    """
    installed_version = getattr(moto, "__version__", "unknown")
    if installed_version != MOTO_VERSION:
        raise UnsupportedMoto(
            f"adapters/moto_patches.py patches moto {MOTO_VERSION}'s DynamoDB transactions, but moto "
            f"{installed_version} is installed: pin moto[server]=={MOTO_VERSION} (pyproject.toml) or port "
            "the patch to this release (docs/MOTO_UPSTREAM.md)."
        )
    with _LOCK:
        if "transact_write_items" not in _ORIGINAL:
            _ORIGINAL["transact_write_items"] = DynamoDBBackend.transact_write_items
            DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def uninstall() -> None:
    """Put moto's own method back (benchmarks compare the two in one run); idempotent."""
    with _LOCK:
        original = _ORIGINAL.pop("transact_write_items", None)
        if original is not None:
            DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


def installed() -> bool:
    return DynamoDBBackend.transact_write_items is transact_write_items


# -- the journal ----------------------------------------------------------------------------------


@dataclass
class _Saved:
    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    #: Whether an operation may write the item (a condition check only reads it).
    written: bool
    #: The item as it was (a private deep copy), or None where there was none.
    item: Item | None
    #: Whether the hash key's bucket existed (tables with a range key keep one dict per hash key).
    bucket_existed: bool


@dataclass
class _Journal:
    """What a transaction changed, enough to undo it: touched items, buckets and stream records."""

    saved: dict[tuple[int, DynamoType, DynamoType | None], _Saved] = field(default_factory=dict)
    streams: dict[int, tuple[Table, list[StreamRecord], int]] = field(default_factory=dict)

    def save(self, table: Table, key: dict[str, Any], *, written: bool) -> None:
        """Remember the item at ``key`` before an operation reads or writes it.

        A key that does not name the table's key attributes is not saved: moto's ``get_item``
        refuses it before anything is written.
        """
        try:
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None
        except KeyError:
            return
        entry = (id(table), hash_key, range_key)
        if entry in self.saved:
            return
        # Plain lookups: moto's Table.get_item would create the bucket (items is a defaultdict).
        bucket: Any = table.items.get(hash_key)
        current: Item | None = bucket if range_key is None or bucket is None else bucket.get(range_key)
        item = copy.deepcopy(current) if written and current is not None else None
        self.saved[entry] = _Saved(table, hash_key, range_key, written, item, bucket is not None)
        if table.stream_shard is not None and id(table) not in self.streams:
            records = table.stream_shard.items
            self.streams[id(table)] = (table, records, len(records))

    def rollback(self) -> None:
        """Put every saved item back as it was, then drop the buckets and stream records added."""
        for saved in reversed(self.saved.values()):
            if not saved.written:
                continue
            # Tables with a range key map hash -> {range: Item}, the others hash -> Item.
            items: dict[DynamoType, Any] = saved.table.items
            if saved.range_key is None:
                if saved.item is None:
                    items.pop(saved.hash_key, None)
                else:
                    items[saved.hash_key] = saved.item
                continue
            if saved.item is None:
                bucket = items.get(saved.hash_key)
                if bucket is not None:
                    bucket.pop(saved.range_key, None)
            else:
                items[saved.hash_key][saved.range_key] = saved.item
        for saved in self.saved.values():
            if saved.range_key is not None and not saved.bucket_existed and not saved.table.items.get(saved.hash_key):
                saved.table.items.pop(saved.hash_key, None)
        for table, records, length in self.streams.values():
            # A Lambda event source mapping may have swapped the list for a new one after sending.
            del records[length:]
            if table.stream_shard is not None:
                table.stream_shard.items = records


# -- the patched method ---------------------------------------------------------------------------


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's ``DynamoDBBackend.transact_write_items``, with a journal of the touched items
    in place of a deep copy of every touched table."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    journal = _Journal()
    try:
        errors = _apply(self, transact_items, journal)
    except BaseException:
        journal.rollback()
        raise
    if any(code is not None for code, _, _ in errors):
        journal.rollback()
        raise TransactionCanceledException(errors)


def _apply(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]], journal: _Journal
) -> list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]]:
    """moto's loop over the items, unchanged but for ``journal.save`` before each operation and a
    condition evaluated once, not again by the write it allows; the per-item errors (the
    cancellation reasons, in order). Validation errors propagate."""
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []  # [(Code, Message, Item), ..]
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        # Check transact writes are not performing multiple operations on the same item
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException

        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")

            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = backend.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)
            # The only addition to moto's loop: remember the item before it is read or written.
            journal.save(backend.get_table(table_name), key, written=op_type != "ConditionCheck")

            current = backend.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression,
                    expression_attribute_names,
                    expression_attribute_values,
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            # The condition held for the item as it is, which nothing has changed since: moto
            # parsed and evaluated it once more in each write (about 0.1 ms a condition).
            if op_type == "Put":
                attrs = op["Item"]
                backend.put_item(
                    table_name,
                    attrs,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                backend.delete_item(
                    table_name,
                    key,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                update_expression = op["UpdateExpression"]
                backend.update_item(
                    table_name,
                    key,
                    update_expression=update_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise  # the caller rolls back
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:
            # For other exceptions, capture their details
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]
    return errors
