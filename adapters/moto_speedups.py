"""Per-request costs of moto 5.2.5's server, cut for the embedded AWS; the answers stay the same.

Profiled under DocStore's load (docs/BENCHMARKS.md, "Where the embedded AWS spends a request"),
a DynamoDB ``GetItem`` or ``UpdateItem`` spent about a third of moto's CPU in two places that do
the same work for every request:

- **Serializing DynamoDB's answers.** moto 5.2 serializes every result through its generic,
  shape-driven serializer, which tries up to a dozen spellings of every member of every
  ``AttributeValue`` (``S``, ``N``, ``B``, …) of every attribute of every item. The data-plane
  results of moto's DynamoDB handler (items, keys, counts, consumed capacity) are already written in
  DynamoDB's wire shape, as moto's own JSON answers were before 5.1. :func:`execute_result` writes
  those with ``json.dumps``, binary values in base64 as the serializer would, and hands anything
  else (an error, a date, a type it does not know, pretty printing) to moto's serializer.
- **Looking up the handler's method names.** ``BaseResponse.call_action`` lists the handler
  class's methods with ``inspect.getmembers`` on every request, to see whether the action is one of
  them. A class's methods do not change while the server runs; the list is kept per class.

Two more make a request's cost follow what it touches, not how much is stored:

- **A query reads its own partition.** moto's ``Table.query`` sorts every item of the table and
  then keeps those of the queried hash key, for the table and for its local indexes alike: listing
  one person's documents cost what all documents of all accounts cost. :func:`query` hands moto the
  items of that one hash key when the key decides the partition: a
  table query, or a local secondary index (same hash key). A global index query reads every item,
  but unsorted: moto sorted the whole table by key first, in Python comparisons, and then sorts
  the items it keeps again by a complete key (the index's, then the table's), so the first sort
  decided nothing. With 50,000 documents the sweeper's eight ``sweep-due`` queries took 1.5 to
  10 s a pass, at every start and every 30 s, holding the embedded AWS's DynamoDB lock.
  And the query's results are not deep-copied (:class:`_TableCopy`): moto copied every item the
  key condition matched before ``Limit`` cut the page, so each page of 20 documents copied all of
  the account's (about 0.5 ms an item).
- **SQS reads a queue's settings once.** Receiving a message checks its retention period through
  ``get_queue_attributes``, which worked out every attribute of the queue three times, counting
  every message each time; a receive of 10 messages from a queue holding 1,000 counted 90,000.
  The retention period is read from the queue, and ``GetQueueAttributes`` works the attributes
  out once.

- **A listing reads its own prefix.** ``list_objects`` (and so ``ListObjectsV2``) with a prefix
  copied the bucket's whole key store, then looked up every key in it and kept those under the
  prefix: each listing of one document's thumbnails cost what every object of every account cost,
  and the pipeline lists them once per processed image or PDF. :func:`list_objects` reads the
  names under the prefix from a sorted index of each key store (:class:`_Names`, kept by the
  store's own writes) and only those keys. It also reads each key from the names it found, so a
  key deleted by another request during the listing is left out: moto looked it up again after its
  copy and raised ``KeyError`` (HTTP 500), which the pipeline's listings hit under load.

SQS's passes over a queue (every receive, every count of its messages) read the clock once, not
twice per message, and deleting a message takes one pass over its queue, not three (each of which
built a list of every message's receipt handles): with a backlog of 2,000 messages, every
``DeleteMessage`` cost about 6,000 list builds.

One is about memory, not time:

- **moto keeps every model object it ever made.** ``BaseModel.__new__`` appends each new instance to
  a list on its class (``instances_tracked``), for the moto server's dashboard and for S3's
  ``reset``: every DynamoDB ``Item`` (moto makes two or three a write, copies included), every S3
  ``FakeKey`` (and the copies listings make), every SQS message, for as long as the process runs.
  Under the 100-user load that was thousands of items a minute, never freed: the embedded AWS grew
  from about 100 MB to 750 MB in ten minutes. The embedded AWS shows no dashboard and never resets,
  so :func:`install` stops the tracking and empties the lists.

And one more is memoised: the syntax tree of an update expression (``SET #s = :s ADD #n :one``) is
parsed once per text, not twice per update; moto validates and applies a deep copy of it.

- **An update of whole attributes skips moto's validator.** moto validates every update by ten
  walks of a deep copy of its tree, twice for a new item, and deep-copies the item for a stream the
  table may not have: 2 of the 3.5 ms of a DocStore transaction. :func:`update_item` applies an
  update made only of ``SET #n = :v``, ``ADD #n :v`` and ``REMOVE #n`` (PynamoDB's) directly when
  nothing in it can fail, and hands anything else to moto.

tests/adapters/test_moto_speedups.py runs the same DynamoDB calls through boto3 with and without
these and compares every answer. Like adapters/moto_patches.py, this is written against one moto
release and refuses any other (pyproject.toml pins ``moto[server]==5.2.5``). docs/MOTO_UPSTREAM.md
has the write-up for moto's maintainers.
"""

from __future__ import annotations

import base64
import copy
import functools
import itertools
import json
import pickle
import re
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any

import moto
import moto.core.responses as moto_responses
from moto import settings as moto_settings
from moto.core.common_models import BaseModel
from moto.core.model_instances import model_data
from moto.core.utils import unix_time, unix_time_millis
from moto.dynamodb.comparisons import create_condition_expression_parser
from moto.dynamodb.exceptions import ConditionalCheckFailed
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as table_module
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import LocalSecondaryIndex, Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.responses import DynamoResult
from moto.s3.models import FakeDeleteMarker, FakeTableStorageBucket, S3Backend
from moto.s3.utils import _VersionedKeyStore
from moto.sqs.exceptions import InvalidAttributeName, ReceiptHandleIsInvalid
from moto.sqs.models import Queue, SQSBackend
from sortedcontainers import SortedList

from adapters.moto_patches import MOTO_VERSION, UnsupportedMoto

if TYPE_CHECKING:
    from collections.abc import Callable

    from moto.core.responses import ActionContext

#: DynamoDB operations whose results moto's handler builds in DynamoDB's wire shape.
PLAIN_RESULTS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)

_ORIGINAL: dict[str, Callable[..., Any]] = {}
_LOCK = threading.Lock()
#: The function ``BaseResponse.call_action`` lists a handler's methods with, in moto.core.responses.
_NAMES = "method_names_from_class"
#: Content-Type of each operation's answer, as moto's serializer sets it.
_CONTENT_TYPES: dict[str, str] = {}


class _NotPlain(Exception):
    """A value the fast path does not write itself: moto's serializer takes the whole result."""


def _wire(value: Any) -> Any:
    """``value`` as JSON can hold it, the way moto's serializer writes a DynamoDB result: members that
    are None left out, bytes in base64; anything else raises :class:`_NotPlain`."""
    if isinstance(value, dict):
        return {key: _wire(member) for key, member in value.items() if member is not None}
    if isinstance(value, list):
        return [_wire(member) for member in value]
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise _NotPlain(type(value).__name__)


def execute_result(self: DynamoResult, context: ActionContext) -> tuple[int, dict[str, str], str]:
    """``DynamoResult.execute_result`` with the fast path for plain data-plane results."""
    operation = context.operation_model
    result = self.result
    if str(operation.name) in PLAIN_RESULTS and isinstance(result, dict) and not moto_settings.PRETTIFY_RESPONSES:
        try:
            body = json.dumps(_wire(result))
        except _NotPlain:
            pass
        else:
            status = operation.http.get("responseCode", 200)
            return status, {"Content-Type": _content_type(context)}, body
    status, headers, answer = _ORIGINAL["execute_result"](self, context)
    return status, headers, answer


def _content_type(context: ActionContext) -> str:
    name = str(context.operation_model.name)
    known = _CONTENT_TYPES.get(name)
    if known is None:
        serializer: Any = context.serializer_class(operation_model=context.operation_model)
        known = _CONTENT_TYPES[name] = str(serializer._get_protocol_specific_content_type())
    return known


# -- a query reads its own partition --------------------------------------------------------------

_narrowed = threading.local()


def all_items(self: Table) -> list[Any]:
    """``Table.all_items``, or only the items :func:`query` chose, for the table it is querying."""
    chosen = getattr(_narrowed, "chosen", None)
    if chosen is not None and chosen[0] is self:
        return list(chosen[1])
    items: list[Any] = _ORIGINAL["all_items"](self)
    return items


def _partition(table: Table, hash_key: Any, index_name: str | None, conditions: Any) -> list[Any] | None:
    """The items of the partition a query reads; None when the query needs the whole table."""
    if index_name is None:
        value = hash_key
    else:
        index = next((each for each in table.indexes or [] if each.name == index_name), None)
        if not isinstance(index, LocalSecondaryIndex) or not conditions or len(conditions) != 1:
            return None
        name, value = conditions[0]
        if name != table.hash_key_attr:
            return None
    if value is None:
        return None
    bucket = table.items.get(value)
    if bucket is None:
        return []
    # moto sorts what it is given (by range key, or by the index's keys), so the order is its own.
    return list(bucket.values()) if table.range_key_attr else [bucket]


def _every_item(table: Table) -> list[Any]:
    """Every item of ``table``, in no order: what ``Table.all_items`` lists, without its sort."""
    if not table.range_key_attr:
        return list(table.items.values())
    return [item for bucket in table.items.values() for item in bucket.values()]


def query(self: Table, *args: Any, **kwargs: Any) -> Any:
    """``Table.query``, reading only the queried partition where the hash key decides it, and
    never sorting the whole table first (moto sorts what it keeps by a complete key)."""
    hash_key = args[0] if args else kwargs.get("hash_key")
    index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
    chosen = _partition(self, hash_key, index_name, kwargs.get("hash_key_conditions"))
    if chosen is None:
        chosen = _every_item(self)
    _narrowed.chosen = (self, chosen)
    try:
        return _ORIGINAL["query"](self, *args, **kwargs)
    finally:
        _narrowed.chosen = None


class _TableCopy:
    """The ``copy`` module as ``moto.dynamodb.models.table`` sees it, but for one call: inside
    :func:`query`, ``Table.query``'s ``copy.deepcopy(results)`` hands the results back as they are.

    moto copies every item a query matched, before ``Limit`` cuts the page, so a page of 20 of an
    account's 10,000 documents copied all 10,000. Nothing changes those results afterwards: a
    projection (an index's or a ``ProjectionExpression``) makes new items, a filter only reads, and
    the answer is written while the embedded AWS holds its DynamoDB lock (``adapters.aws_process``),
    so no write changes a stored item meanwhile. Every other copy in that module stays deep."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if getattr(_narrowed, "chosen", None) is not None:
            return value
        return copy.deepcopy(value, memo)


# -- SQS reads a queue's settings once --------------------------------------------------------------


def is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str, message: Any) -> bool:
    retention_period = getattr(self.get_queue(queue_name), "message_retention_period")  # noqa: B009 (set from the queue's attributes)
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())


def get_queue_attributes(self: SQSBackend, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
    queue = self.get_queue(queue_name)
    if not attribute_names:
        return {}
    valid_names = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
    invalid_name = next((name for name in attribute_names if name not in valid_names), None)
    if invalid_name or invalid_name == "":
        raise InvalidAttributeName(invalid_name)
    current: dict[str, Any] = queue.attributes
    if "All" in attribute_names:
        return current
    return {name: current[name] for name in attribute_names if current.get(name) is not None}


# -- an update expression is parsed once --------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _parsed_update(expression: str) -> Any:
    original: Any = _ORIGINAL["make"]  # the classmethod object, as the class defines it
    tree = original.__func__(UpdateExpressionParser, expression)
    # The validator deep-copies the tree for every update (``Validator.__init__``): 240 µs for a
    # five-action expression, against 34 µs to unpickle a copy pickled once here.
    pickled = pickle.dumps(tree, pickle.HIGHEST_PROTOCOL)
    tree.__deepcopy__ = lambda memo: pickle.loads(pickled)
    return tree


def make(cls: type[UpdateExpressionParser], expression_str: str) -> Any:
    """``UpdateExpressionParser.make``, remembering the tree of each expression text. moto only
    reads the tree it returns: the validator works on a deep copy of it (``Validator.__init__``),
    which this tree makes from a pickle of itself."""
    return _parsed_update(expression_str)


# -- an update of whole attributes is applied without moto's validator ------------------------------

#: The tokens of the update expressions :func:`_plain_update` reads: placeholders, words, ``=``, ``,``.
_UPDATE_TOKENS = re.compile(r"\s*(#\w+|:\w+|[A-Za-z]+|=|,)")
#: The tokens of one action of each clause: ``#n = :v``, ``#n :v``, ``#n``.
_ACTION_TOKENS = {"SET": 3, "ADD": 2, "REMOVE": 1}
#: moto's limit on an item's size (``LimitedSizeDict``), in its own measure.
_ITEM_SIZE_LIMIT = 405_000


@functools.lru_cache(maxsize=1024)
def _plain_update(expression: str) -> tuple[tuple[str, str, str | None], ...] | None:
    """The actions of an update expression made only of ``SET #name = :value``, ``ADD #name :value``
    and ``REMOVE #name`` clauses, each clause at most once: ``(clause, name placeholder, value
    placeholder or None)`` in order. None for anything else (paths into maps and lists, functions,
    arithmetic, ``DELETE``, names written out, a syntax error): moto handles those."""
    tokens: list[str] = []
    position = 0
    while position < len(expression):
        match = _UPDATE_TOKENS.match(expression, position)
        if match is None:
            if expression[position:].strip():
                return None
            break
        tokens.append(match.group(1))
        position = match.end()
    actions: list[tuple[str, str, str | None]] = []
    clauses: set[str] = set()
    index = 0
    while index < len(tokens):
        clause = tokens[index]
        if clause not in _ACTION_TOKENS or clause in clauses:
            return None
        clauses.add(clause)
        index += 1
        width = _ACTION_TOKENS[clause]
        while True:
            action = tokens[index : index + width]
            if len(action) < width or not action[0].startswith("#"):
                return None
            if clause == "SET" and (action[1] != "=" or not action[2].startswith(":")):
                return None
            if clause == "ADD" and not action[1].startswith(":"):
                return None
            actions.append((clause, action[0], action[-1] if clause != "REMOVE" else None))
            index += width
            if index < len(tokens) and tokens[index] == ",":
                index += 1
                continue
            break
    return tuple(actions) if actions else None


def update_item(
    self: DynamoDBBackend,
    table_name: str,
    key: dict[str, dict[str, Any]],
    update_expression: str,
    expression_attribute_names: dict[str, Any],
    expression_attribute_values: dict[str, Any],
    attribute_updates: dict[str, Any] | None = None,
    expected: dict[str, Any] | None = None,
    condition_expression: str | None = None,
    return_values_on_condition_check_failure: str | None = None,
) -> Item:
    """``DynamoDBBackend.update_item``, with whole top-level attributes set, added to and removed
    without moto's validator when nothing in the update can fail.

    moto validates every update by walking a deep copy of its syntax tree ten times (one pass per
    rule), validates a new item's update twice, and deep-copies the item for a stream it may not
    have: 2 of the 3.5 ms a DocStore transaction cost. The updates DocStore makes (PynamoDB's) are
    lists of ``SET #n = :v``, ``ADD #n :v`` and ``REMOVE #n``. Such an update is applied here when
    every placeholder is given, no attribute is named twice, none is a key of the table, a key of
    an index is set only to a value of its declared type that is not empty (moto, which compares the
    placeholder and not the name, refuses neither; DynamoDB refuses both), every ``ADD`` adds a
    number to a number or to nothing, the table has no stream, and the item stays within moto's
    size limit whatever the order: then moto's validator would pass it and moto's executor would
    make the same item. The condition is evaluated as moto does, before anything changes. Anything
    else goes to moto."""
    original: Callable[..., Item] = _ORIGINAL["update_item"]

    def by_moto() -> Item:
        return original(
            self,
            table_name,
            key,
            update_expression,
            expression_attribute_names,
            expression_attribute_values,
            attribute_updates,
            expected,
            condition_expression,
            return_values_on_condition_check_failure,
        )

    plan = _plain_update(update_expression) if update_expression and not attribute_updates and not expected else None
    if plan is None:
        return by_moto()
    table = self.get_table(table_name)
    if table.stream_shard is not None:
        return by_moto()
    names = expression_attribute_names or {}
    values = expression_attribute_values or {}
    index_keys = set(table.attribute_keys)  # of the table and of its indexes
    declared = {defined["AttributeName"]: defined["AttributeType"] for defined in table.attr}
    actions: list[tuple[str, str, DynamoType | None]] = []
    for clause, name_placeholder, value_placeholder in plan:
        name = names.get(name_placeholder)
        if type(name) is not str or name in table.table_key_attrs or any(name == seen for _, seen, _ in actions):
            return by_moto()
        value: DynamoType | None = None
        if value_placeholder is not None:
            given = values.get(value_placeholder)
            if type(given) is not dict or len(given) != 1:
                return by_moto()
            value = DynamoType(given)
            if clause == "ADD" and value.type != "N":
                return by_moto()
            unfit_key = value.type != declared.get(name) or value.value in ("", b"")
            if clause == "SET" and name in index_keys and unfit_key:
                return by_moto()
        actions.append((clause, name, value))
    hash_value = DynamoType(key[table.hash_key_attr]) if table.hash_key_attr in key else None
    if hash_value is None or (table.range_key_attr is not None and table.range_key_attr not in key):
        return by_moto()  # moto's own answer for a key that does not fit the table
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None
    item = table.get_item(hash_value, range_value)
    condition = create_condition_expression_parser(
        condition_expression, expression_attribute_names, expression_attribute_values
    ).parse()
    if not condition.expr(item):
        if return_values_on_condition_check_failure == "ALL_OLD" and item is not None:
            raise ConditionalCheckFailed(item=item.to_json()["Attributes"])
        raise ConditionalCheckFailed
    attributes: dict[str, DynamoType] = item.attrs if item is not None else {}
    new_values: list[tuple[str, DynamoType | None]] = []
    for clause, name, value in actions:
        if clause == "ADD":
            current = attributes.get(name)
            if current is not None and current.type != "N":
                return by_moto()
            start = current if current is not None else DynamoType({"N": "0"})
            new_values.append((name, start + value))  # type: ignore[operator]
        else:
            new_values.append((name, value))
    # moto checks the size at every attribute set (LimitedSizeDict): the item as it is, its key if
    # it is new, and every value set are more than the item holds at any of those moments.
    size = item.size() if item is not None else bytesize(table.hash_key_attr) + hash_value.size()
    if item is None and table.range_key_attr is not None and range_value is not None:
        size += bytesize(table.range_key_attr) + range_value.size()
    size += sum(bytesize(name) + value.size() for name, value in new_values if value is not None)
    if size > _ITEM_SIZE_LIMIT:
        return by_moto()
    if item is None:
        data = {table.hash_key_attr: {hash_value.type: hash_value.value}}
        if table.range_key_attr is not None and range_value is not None:
            data[table.range_key_attr] = {range_value.type: range_value.value}
        table.put_item(data)
        item = table.get_item(hash_value, range_value)
    updated: Item = item  # type: ignore[assignment]  # just put, as moto does
    for name, value in new_values:
        if value is None:
            updated.attrs.pop(name, None)
        else:
            # Within the limit, as checked above: moto's check would add up the whole item again.
            dict.__setitem__(updated.attrs, sys.intern(name), value)
    return updated


def _item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    """``Item.__init__``, with the item's size added up once rather than once per attribute.

    moto's ``LimitedSizeDict`` adds up every attribute already set each time one is set, so making
    an item of n attributes cost n² size computations (an item of DocStore's documents table, about
    25 attributes, 300). When the whole item is within moto's limit no set can pass it, and the
    attributes are set directly (their names interned, as ``adapters/moto_slim.py`` does); an item
    past the limit is made by moto's own code, which raises where it did."""
    if any(type(key) is not str for key in attrs):
        _ORIGINAL["__init__"](self, hash_key, range_key, attrs)
        return
    values = [(key, DynamoType(value)) for key, value in attrs.items()]
    if sum(bytesize(key) + value.size() for key, value in values) > _ITEM_SIZE_LIMIT:
        _ORIGINAL["__init__"](self, hash_key, range_key, attrs)
        return
    self.hash_key = hash_key
    self.range_key = range_key
    self.attrs = LimitedSizeDict()
    for key, value in values:
        dict.__setitem__(self.attrs, sys.intern(key), value)


# -- SQS looks at the clock once per pass over a queue -------------------------------------------


def _visible_now(self: Queue) -> list[Any]:
    """``Queue.messages``: the messages visible and not delayed, with the clock read once for the
    pass (moto read it twice per message, through two properties, on every receive and count)."""
    now = unix_time_millis()
    return [message for message in self._messages if now > message.visible_at and not now < message.delayed_until]


def _count_delayed(self: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for message in self._messages if now < message.delayed_until)


def _count_not_visible(self: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for message in self._messages if not now > message.visible_at)


def delete_message(self: Queue, receipt_handle: str) -> None:
    """``Queue.delete_message`` in one pass: the message that has or had ``receipt_handle`` leaves
    the queue; a handle already deleted is accepted again, an unknown one is refused."""
    if receipt_handle in self.deleted_messages:
        return
    kept, gone = [], []
    for message in self._messages:
        if message.receipt_handle == receipt_handle or receipt_handle in message._old_receipt_handles:
            gone.append(message)
        else:
            kept.append(message)
    if not gone:
        raise ReceiptHandleIsInvalid()
    for message in gone:
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)  # type: ignore[arg-type]  # as moto does
    self._messages = kept


# -- S3 listings read their own prefix ----------------------------------------------------------


class _Names:
    """The names of one key store, sorted: what :func:`list_objects` finds a prefix's keys in.
    Kept by the store's writes (:func:`_keep_names`); made from the store at its first listing.
    The embedded AWS's loader fills a saved bucket's store without those writes, but before any
    request reads the bucket (``adapters.moto_loading``: requests wait), so before any listing."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sorted = SortedList()

    def under(self, prefix: str) -> list[str]:
        with self.lock:
            return list(itertools.takewhile(lambda name: name.startswith(prefix), self.sorted.irange(prefix)))


#: Each key store's names, by ``id`` of the store while it lives (a store, a ``dict``, has no hash).
_INDEXES: dict[int, tuple[weakref.ref[_VersionedKeyStore], _Names]] = {}
_INDEXES_LOCK = threading.Lock()


def _names(store: _VersionedKeyStore) -> _Names:
    with _INDEXES_LOCK:
        found = _INDEXES.get(id(store))
        if found is not None and found[0]() is store:
            return found[1]
        names = _Names()
        key = id(store)
        # Seen by writes before the store is read, and filled under its lock: a write racing the
        # filling either made its change before the read (and is read) or syncs after it.
        with names.lock:
            _INDEXES[key] = (weakref.ref(store, lambda _: _INDEXES.pop(key, None)), names)
            names.sorted.update(list(dict.keys(store)))
        return names


def _sync_name(store: _VersionedKeyStore, key: str) -> None:
    """After a write of ``key``: the index holds it if and only if the store does. Under the index's
    lock, so of two writes racing on one key the later check decides, as the store does."""
    found = _INDEXES.get(id(store))
    if found is None or found[0]() is not store:
        return  # no listing made an index yet: it is made from the store when one does
    names = found[1]
    with names.lock:
        if dict.__contains__(store, key):
            if key not in names.sorted:
                names.sorted.add(key)
        else:
            names.sorted.discard(key)


def _keep_names() -> None:
    """Wrap the key store's writes to keep its index; once per process, and never undone (an index
    kept while moto's own ``list_objects`` is back is still right when this one returns)."""
    if getattr(_VersionedKeyStore, "_docstore_names", False):
        return
    for name in ("__setitem__", "__delitem__", "pop", "setlist"):
        original = getattr(_VersionedKeyStore, name)

        def kept(self: Any, key: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            try:
                return _original(self, key, *args, **kwargs)
            finally:
                _sync_name(self, key)

        setattr(_VersionedKeyStore, name, kept)
    _VersionedKeyStore._docstore_names = True  # type: ignore[attr-defined]


def list_objects(
    self: S3Backend, bucket: Any, prefix: str | None, delimiter: str | None, marker: str | None, max_keys: int | None
) -> Any:
    """``S3Backend.list_objects``, with a prefix reading only the keys under it (from the store's
    sorted names); the answer as moto's. Without a prefix, moto's own, which reads every key."""
    if not prefix or isinstance(bucket, FakeTableStorageBucket):
        return _ORIGINAL["list_objects"](self, bucket, prefix, delimiter, marker, max_keys)
    store = bucket.keys
    key_results = []
    folder_results = set()
    for key_name in _names(store).under(prefix):
        versions = dict.get(store, key_name)
        if not versions:
            continue  # deleted by another request since the names were read
        rest = key_name[len(prefix) :]
        if delimiter and delimiter in rest:
            folder_results.add(f"{prefix}{rest.split(delimiter)[0]}{delimiter}")
        elif not isinstance(versions[-1], FakeDeleteMarker):
            key_results.append(versions[-1])
    key_results.sort(key=lambda key: key.name)
    folders = sorted(folder_results)
    if marker:
        limit = self._pagination_tokens.get(marker) or marker
        key_results = self._get_results_from_token(key_results, limit)
    if max_keys is not None:
        key_results, is_truncated, next_marker = self._truncate_result(key_results, max_keys)
    else:
        is_truncated, next_marker = False, None
    return key_results, folders, is_truncated, next_marker


# -- moto's models are not tracked for ever ------------------------------------------------------


def _untracked(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
    """``BaseModel.__new__`` without appending the instance to ``cls.instances_tracked``."""
    return object.__new__(cls)


def _forget_tracked() -> None:
    for models in model_data.values():
        for model in models.values():
            model.instances_tracked = []  # type: ignore[attr-defined]


#: What :func:`install` replaces: (owner, attribute name, replacement).
_REPLACED: list[tuple[Any, str, Any]] = [
    (Table, "all_items", all_items),
    (Table, "query", query),
    (table_module, "copy", _TableCopy),
    (SQSBackend, "is_message_valid_based_on_retention_period", is_message_valid_based_on_retention_period),
    (SQSBackend, "get_queue_attributes", get_queue_attributes),
    (UpdateExpressionParser, "make", classmethod(make)),
    (DynamoDBBackend, "update_item", update_item),
    (Item, "__init__", _item_init),
    (Queue, "messages", property(_visible_now)),
    (Queue, "approximate_number_of_messages_delayed", property(_count_delayed)),
    (Queue, "approximate_number_of_messages_not_visible", property(_count_not_visible)),
    (Queue, "delete_message", delete_message),
    (S3Backend, "list_objects", list_objects),
    (BaseModel, "__new__", staticmethod(_untracked)),
]


def install() -> None:
    """Install both; a second call does nothing. Raises :class:`UnsupportedMoto` (and changes
    nothing) on any moto but :data:`MOTO_VERSION`."""
    installed_version = getattr(moto, "__version__", "unknown")
    if installed_version != MOTO_VERSION:
        raise UnsupportedMoto(
            f"adapters/moto_speedups.py is written for moto {MOTO_VERSION}, but moto {installed_version} "
            f"is installed: pin moto[server]=={MOTO_VERSION} (pyproject.toml) or port it "
            "(docs/MOTO_UPSTREAM.md)."
        )
    with _LOCK:
        if "execute_result" not in _ORIGINAL:
            _ORIGINAL["execute_result"] = DynamoResult.execute_result  # ActionResult's, inherited
            _ORIGINAL["method_names_from_class"] = getattr(moto_responses, _NAMES)
            DynamoResult.execute_result = execute_result  # type: ignore[method-assign,assignment]
            setattr(moto_responses, _NAMES, functools.cache(_ORIGINAL["method_names_from_class"]))
            _keep_names()
            for owner, name, replacement in _REPLACED:
                _ORIGINAL[name] = owner.__dict__[name]  # as defined: a classmethod stays one
                setattr(owner, name, replacement)
            _forget_tracked()


def uninstall() -> None:
    """Put moto's own code back (tests and benchmarks compare the two in one run); idempotent."""
    with _LOCK:
        if _ORIGINAL.pop("execute_result", None) is not None:
            del DynamoResult.execute_result  # back to the inherited one
        names = _ORIGINAL.pop("method_names_from_class", None)
        if names is not None:
            setattr(moto_responses, _NAMES, names)
        for owner, name, _ in _REPLACED:
            original = _ORIGINAL.pop(name, None)
            if original is not None:
                setattr(owner, name, original)


def installed() -> bool:
    return DynamoResult.execute_result is execute_result
