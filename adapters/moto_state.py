"""The embedded AWS's durable state: moto's backends mirrored, record by record, into SQLite.

moto keeps everything in Python objects. After each request that may change them, the embedded AWS
process (:mod:`adapters.aws_process`) asks this module what the request touched and writes the
*current state* of exactly those records, in one SQLite transaction, before the client gets its
answer. What a client was told is therefore on disk, and a DynamoDB transaction's items land
together or not at all. At start-up :mod:`adapters.moto_loading` puts the records back into moto's
backends.

Records are containers (a DynamoDB table, an S3 bucket, an SQS queue, an SES backend: their
settings, pickled without their contents) and members (an item, an object key with its versions, a
message). Writing current state rather than replaying requests keeps recovery independent of time
and randomness (message ids, receipt handles, delays are what they were), and the cost of a write
is the cost of the records it touches, not of the table.

Why SQLite: it gives atomic multi-record commits, crash safety in WAL mode, and compaction for free
(a record is overwritten in place), in the standard library. Object bytes are not in it: they are
files (:mod:`adapters.moto_blobs`).
"""

from __future__ import annotations

import json
import logging
import pickle
import sqlite3
import threading
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path

log = logging.getLogger(__name__)

#: Bump when the layout of the records changes; an older file is refused with a clear message.
FORMAT = 1
PICKLE = pickle.HIGHEST_PROTOCOL
#: How often a capture pickles a live object again after another thread changed it meanwhile.
PICKLE_ATTEMPTS = 50


class StateError(RuntimeError):
    """The state file cannot be used (another format, or unreadable)."""


@dataclass(frozen=True)
class Change:
    """One record to write: ``value`` None deletes it; ``member`` None names the container itself,
    and deleting a container deletes its members."""

    container: str
    member: str | None
    value: bytes | None


class StateFile:
    """The SQLite file. One writer at a time (a lock): captures read moto's state and commit under it."""

    def __init__(self, path: Path, *, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives the process being killed (the OS has every committed page);
        # FULL also survives the machine losing power, at an fsync a commit.
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS containers (name TEXT PRIMARY KEY, value BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS members (
                container TEXT NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL,
                PRIMARY KEY (container, name)
            ) WITHOUT ROWID;
            """
        )
        row = self.db.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('format', ?)", (str(FORMAT),))
        elif row[0] != str(FORMAT):
            raise StateError(
                f"{path} was written by another DocStore (state format {row[0]}, this one reads {FORMAT}); "
                "back it up with that version's `docstore backup` and restore it here"
            )

    def commit(self, changes: Iterable[Change]) -> int:
        """Write ``changes`` in one transaction; how many records (none: no transaction at all)."""
        changes = list(changes)
        if not changes:
            return 0
        count = 0
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for change in changes:
                    count += 1
                    if change.member is None:
                        if change.value is None:
                            self.db.execute("DELETE FROM members WHERE container = ?", (change.container,))
                            self.db.execute("DELETE FROM containers WHERE name = ?", (change.container,))
                        else:
                            self.db.execute(
                                "INSERT OR REPLACE INTO containers VALUES (?, ?)", (change.container, change.value)
                            )
                    elif change.value is None:
                        self.db.execute(
                            "DELETE FROM members WHERE container = ? AND name = ?", (change.container, change.member)
                        )
                    else:
                        self.db.execute(
                            "INSERT OR REPLACE INTO members VALUES (?, ?, ?)",
                            (change.container, change.member, change.value),
                        )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return count

    def containers(self) -> list[tuple[str, bytes]]:
        return self.db.execute("SELECT name, value FROM containers ORDER BY name").fetchall()

    def member_values(self, container: str) -> list[bytes]:
        """The records of one container's members, in the order of their names."""
        rows = self.db.execute("SELECT value FROM members WHERE container = ? ORDER BY name", (container,))
        return [value for (value,) in rows]

    def counts(self) -> tuple[int, int]:
        containers = self.db.execute("SELECT count(*) FROM containers").fetchone()[0]
        members = self.db.execute("SELECT count(*) FROM members").fetchone()[0]
        return containers, members

    def close(self) -> None:
        with self.lock:
            self.db.close()


class CommitFailed(RuntimeError):
    """A batch of changes could not be written; the requests that made them are answered with an error."""


class GroupCommit:
    """Writes what requests changed on a thread of its own, many requests in one SQLite transaction.

    A request :meth:`capture` s its changes while it still holds whatever orders it against other
    requests (the DynamoDB lock), which fixes the order the changes are written in; it then lets go
    of that lock and :meth:`wait` s until they are on disk, before its client gets an answer. So the
    lock is held for moto's work only, not for SQLite's: a commit gives the GIL up at every SQLite
    call and, with other threads running, waited milliseconds each time to get it back, inside the
    lock every DynamoDB request queues for. And a burst of requests is written in one transaction.

    A request that changed nothing waits too, for everything captured before it: what it read (an
    item another request just wrote) is then on disk before anyone is told it. ``after`` runs once a
    batch is committed (the blob store removes the files the batch stopped naming).
    """

    def __init__(self, state: StateFile, after: Callable[[], None] | None = None) -> None:
        self.state = state
        self.after = after
        self._lock = threading.Lock()
        self._captured = threading.Condition(self._lock)
        self._written = threading.Condition(self._lock)
        self._pending: list[tuple[int, list[Change]]] = []
        #: The number of the last change-set captured, and of the last one on disk (or failed).
        self._queued = 0
        self._durable = 0
        self._failed: dict[int, BaseException] = {}
        self._closing = False
        #: Transactions written, and the change-sets they held (for tests and benchmarks).
        self.batches = 0
        self.captures = 0
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def capture(self, changes: Callable[[], list[Change]]) -> int:
        """Take ``changes()`` now, in this order among all captures; the number to :meth:`wait` for."""
        with self._lock:
            if self._closing:
                raise CommitFailed("the embedded AWS is stopping")
            taken = changes()
            if taken:
                self._queued += 1
                self._pending.append((self._queued, taken))
                self._captured.notify()
            return self._queued

    def horizon(self) -> int:
        """The number of the last change-set captured: what a read must see written before it answers."""
        return self._queued

    def wait(self, number: int) -> None:
        """Return once change-set ``number`` and every one before it is on disk; CommitFailed if its
        batch could not be written."""
        with self._lock:
            while self._durable < number:
                self._written.wait()
            error = self._failed.get(number)
        if error is not None:
            raise CommitFailed(f"the change could not be saved: {error}") from error

    def close(self) -> None:
        """Write what is captured, then stop the thread."""
        with self._lock:
            self._closing = True
            self._captured.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closing:
                    self._captured.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
            error: BaseException | None = None
            try:
                self.state.commit(change for _, changes in batch for change in changes)
            except Exception as failure:  # every waiter of the batch is answered with it
                log.exception("the embedded AWS could not write %d change sets", len(batch))
                error = failure
            with self._lock:
                self.batches += 1
                self.captures += len(batch)
                if error is not None:
                    self._failed.update((number, error) for number, _ in batch)
                self._durable = batch[-1][0]
                self._written.notify_all()
            if error is None and self.after is not None:
                self.after()


def _container(service: str, account: str, region: str, name: str = "") -> str:
    return f"{service}/{account}/{region}/{name}"


def _split(container: str) -> tuple[str, str, str, str]:
    service, account, region, name = container.split("/", 3)
    return service, account, region, name


def _pickled(state: Callable[..., Any], *args: Any) -> bytes:
    """``pickle.dumps(state(*args))``, taken again when another request's thread changed a dict or set
    of it meanwhile. S3, SQS and SES requests run in moto concurrently, outside any lock (only
    DynamoDB's are serialised): pickling calls back into Python (``__getstate__``, ``__reduce__``),
    where the interpreter may switch threads, and a part upload adding to a multipart upload's
    ``parts`` then fails the capture of another part with "dictionary changed size during
    iteration". Each request captures after its own change, so the last capture holds every one."""
    for attempt in range(1, PICKLE_ATTEMPTS + 1):
        try:
            return pickle.dumps(state(*args), PICKLE)
        except RuntimeError:
            if attempt == PICKLE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _without(obj: Any, *names: str) -> bytes:
    return _pickled(_state_without, obj, names)


def _state_without(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in list(obj.__dict__.items()) if key not in names}


def _same(value: Any) -> Any:
    return value


# DynamoDB ------------------------------------------------------------------------------------------

#: DynamoDB actions that change nothing; every other action is captured.
DYNAMODB_READS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "DescribeTable",
        "ListTables",
        "DescribeTimeToLive",
        "ListTagsOfResource",
        "DescribeContinuousBackups",
        "DescribeEndpoints",
        "DescribeLimits",
        "ListBackups",
        "DescribeBackup",
        "ListGlobalTables",
        "DescribeGlobalTable",
        "ListExports",
        "DescribeExport",
        "ListImports",
        "DescribeImport",
        "GetResourcePolicy",
        "DescribeKinesisStreamingDestination",
    }
)
#: Actions that change a table's settings only.
DYNAMODB_TABLE_ACTIONS = frozenset(
    {"CreateTable", "UpdateTable", "UpdateTimeToLive", "TagResource", "UntagResource", "UpdateContinuousBackups"}
)


def _key_part(value: Any) -> list[str]:
    kind, raw = value.type, value.value
    if kind == "N":
        raw = str(Decimal(raw).normalize())
    elif kind == "B" and isinstance(raw, bytes):
        raw = raw.hex()
    return [kind, str(raw)]


def _dynamodb_backend(account: str, region: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[account][region]


def _table_record(account: str, region: str, table: Any) -> Change:
    return Change(_container("dynamodb", account, region, table.name), None, _without(table, "items"))


def _item_change(account: str, region: str, table: Any, attributes: dict[str, Any]) -> Change | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        hash_key = DynamoType(attributes[table.hash_key_attr])
        range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    except (KeyError, TypeError):
        return None
    member = json.dumps(_key_part(hash_key) + (_key_part(range_key) if range_key is not None else []))
    item = table.get_item(hash_key, range_key)
    value = None if item is None else pickle.dumps(item, PICKLE)
    return Change(_container("dynamodb", account, region, table.name), member, value)


def _table_name(body: dict[str, Any]) -> str | None:
    name = body.get("TableName")
    if isinstance(name, str):
        return name
    arn = body.get("ResourceArn")
    if isinstance(arn, str) and ":table/" in arn:
        return arn.split(":table/", 1)[1].split("/", 1)[0]
    return None


def dynamodb_changes(action: str, body: dict[str, Any], account: str, region: str) -> list[Change]:
    """The records a DynamoDB ``action`` with request ``body`` may have changed, as they are now."""
    backend = _dynamodb_backend(account, region)
    tables = backend.tables
    touched: list[tuple[str, dict[str, Any]]] = []
    if action in ("PutItem",):
        touched.append((body.get("TableName", ""), body.get("Item") or {}))
    elif action in ("UpdateItem", "DeleteItem"):
        touched.append((body.get("TableName", ""), body.get("Key") or {}))
    elif action == "BatchWriteItem":
        for name, requests in (body.get("RequestItems") or {}).items():
            for request in requests:
                if "PutRequest" in request:
                    touched.append((name, request["PutRequest"].get("Item") or {}))
                elif "DeleteRequest" in request:
                    touched.append((name, request["DeleteRequest"].get("Key") or {}))
    elif action == "TransactWriteItems":
        for entry in body.get("TransactItems") or []:
            for kind, operation in entry.items():
                if kind == "Put":
                    touched.append((operation.get("TableName", ""), operation.get("Item") or {}))
                elif kind in ("Update", "Delete"):
                    touched.append((operation.get("TableName", ""), operation.get("Key") or {}))
    elif action in DYNAMODB_TABLE_ACTIONS or action == "DeleteTable":
        name = _table_name(body)
        if name is None:
            return _all_dynamodb(account, region)
        table = tables.get(name)
        if table is None:
            return [Change(_container("dynamodb", account, region, name), None, None)]
        return [_table_record(account, region, table)]
    else:
        # An action this module does not know (PartiQL, restores, imports): everything, at its cost.
        return _all_dynamodb(account, region)
    changes: list[Change] = []
    for name, attributes in touched:
        table = tables.get(name)
        if table is not None:
            change = _item_change(account, region, table, attributes)
            if change is not None:
                changes.append(change)
    return changes


def _all_dynamodb(account: str, region: str) -> list[Change]:
    from moto.dynamodb.models import dynamodb_backends

    changes: list[Change] = []
    backend = dynamodb_backends[account][region]
    for table in list(backend.tables.values()):
        container = _container("dynamodb", account, region, table.name)
        changes.append(Change(container, None, None))
        changes.append(_table_record(account, region, table))
        for item in _table_items(table):
            member = json.dumps(
                _key_part(item.hash_key) + (_key_part(item.range_key) if item.range_key is not None else [])
            )
            changes.append(Change(container, member, pickle.dumps(item, PICKLE)))
    return changes


def _table_items(table: Any) -> Iterator[Any]:
    for value in list(table.items.values()):
        if table.range_key_attr:
            yield from list(value.values())
        else:
            yield value


# S3 ------------------------------------------------------------------------------------------------


class _Touched(threading.local):
    def __init__(self) -> None:
        self.keys: list[tuple[Any, str]] = []


_touched = _Touched()


def install_s3_tracking() -> None:
    """Note, per request thread, every object key whose versions moto's bucket key stores change."""
    from moto.s3 import utils

    store = utils._VersionedKeyStore
    if getattr(store, "_docstore_tracked", False):
        return
    for name in ("__setitem__", "__delitem__", "pop", "setlist"):
        original = getattr(store, name)

        def tracked(self: Any, key: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            _touched.keys.append((self, key))
            return _original(self, key, *args, **kwargs)

        setattr(store, name, tracked)
    store._docstore_tracked = True  # type: ignore[attr-defined]


def begin_s3_request() -> None:
    _touched.keys = []


def _s3_backends() -> Iterator[tuple[str, str, Any]]:
    from moto.s3.models import s3_backends

    for account, partitions in list(s3_backends.items()):
        for partition, backend in list(partitions.items()):
            yield account, partition, backend


def _bucket_record(account: str, partition: str, bucket: Any) -> Change:
    return Change(_container("s3", account, partition, bucket.name), None, _without(bucket, "keys"))


def s3_changes(bucket_name: str | None, *, bucket_level: bool) -> list[Change]:
    """The object keys this request thread changed, as they are now; with ``bucket_level``, also
    the bucket's own record (settings and multipart uploads), or its deletion."""
    touched, _touched.keys = _touched.keys, []
    changes: list[Change] = []
    stores: dict[int, tuple[str, str, Any]] = {}
    found: tuple[str, str, Any] | None = None
    for account, partition, backend in _s3_backends():
        for bucket in list(backend.buckets.values()):
            stores[id(bucket.keys)] = (account, partition, bucket)
            if bucket.name == bucket_name:
                found = (account, partition, bucket)
    seen: set[tuple[int, str]] = set()
    for store, key in touched:
        if (id(store), key) in seen or id(store) not in stores:
            continue
        seen.add((id(store), key))
        account, partition, bucket = stores[id(store)]
        versions = bucket.keys.getlist(key, None) if key in bucket.keys else None
        value = _pickled(list, versions) if versions else None
        changes.append(Change(_container("s3", account, partition, bucket.name), key, value))
    if bucket_level and bucket_name:
        if found is not None:
            changes.append(_bucket_record(*found))
        else:
            for account, partition, _ in _s3_backends():
                changes.append(Change(_container("s3", account, partition, bucket_name), None, None))
    return changes


# SQS -----------------------------------------------------------------------------------------------

SQS_READS = frozenset(
    {"GetQueueUrl", "GetQueueAttributes", "ListQueues", "ListQueueTags", "ListDeadLetterSourceQueues"}
)
#: Actions that change a queue's settings, not its messages.
SQS_QUEUE_ACTIONS = frozenset(
    {"CreateQueue", "DeleteQueue", "SetQueueAttributes", "TagQueue", "UntagQueue", "AddPermission", "RemovePermission"}
)
_QUEUE_PRIVATE = ("_messages", "_pending_messages", "deleted_messages", "_messages_lock", "dead_letter_queue")


#: Actions that change messages in ways the tracking below does not see: the whole queue is compared.
SQS_WHOLE_QUEUE_ACTIONS = frozenset({"PurgeQueue"})


class _TouchedMessages(threading.local):
    def __init__(self) -> None:
        #: The ids of the messages this request thread changed; None outside a tracked request.
        self.ids: set[str] | None = None


_touched_messages = _TouchedMessages()


def install_sqs_tracking() -> None:
    """Note, per request thread, every message moto's SQS adds, receives, hides, delays or deletes,
    so that a request writes those messages only, not a comparison of its whole queue."""
    from moto.sqs.models import Message, Queue

    if getattr(Queue, "_docstore_tracked", False):
        return

    def noting(original: Callable[..., Any]) -> Callable[..., Any]:
        def tracked(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _touched_messages.ids is not None:
                _touched_messages.ids.add(self.id)
            return original(self, *args, **kwargs)

        return tracked

    for name in ("mark_received", "change_visibility", "delay"):
        setattr(Message, name, noting(getattr(Message, name)))
    add_message, delete_message = Queue.add_message, Queue.delete_message

    def added(self: Any, message: Any) -> None:
        if _touched_messages.ids is not None:
            _touched_messages.ids.add(message.id)
        add_message(self, message)

    def deleted(self: Any, receipt_handle: str) -> None:
        if _touched_messages.ids is not None:
            _touched_messages.ids.update(
                message.id
                for message in self._messages
                if message.receipt_handle == receipt_handle or receipt_handle in message._old_receipt_handles
            )
        delete_message(self, receipt_handle)

    Queue.add_message = added  # type: ignore[method-assign]
    Queue.delete_message = deleted  # type: ignore[method-assign]
    Queue._docstore_tracked = True  # type: ignore[attr-defined]


def begin_sqs_request() -> None:
    _touched_messages.ids = set()


def end_sqs_request() -> None:
    """Stop noting without writing: the request changed nothing."""
    _touched_messages.ids = None


def _message_state(message: Any) -> tuple[Any, ...]:
    return (message.receipt_handle, message.visible_at, message.delayed_until, message.approximate_receive_count)


def _message_member(message: Any) -> str:
    return f"{message.sent_timestamp or 0:015d}/{message.id}"


class SqsMirror:
    """What was last written of each queue's messages, so that a request writes only what changed."""

    def __init__(self) -> None:
        self.written: dict[str, dict[str, tuple[tuple[Any, ...], str]]] = defaultdict(dict)

    def queue_changes(
        self, account: str, region: str, names: Iterable[str] | None, *, settings: bool, whole: bool = False
    ) -> list[Change]:
        """The changes a request made to these queues (and their dead-letter queues): with tracking
        (:func:`begin_sqs_request`), the messages it touched; otherwise, or with ``whole``, every
        message compared with what was last written."""
        from moto.sqs.models import sqs_backends

        touched, _touched_messages.ids = _touched_messages.ids, None
        if whole:
            touched = None

        backend = sqs_backends[account][region]
        queues = dict(backend.queues)
        wanted = set(queues) if names is None else set(names)
        for name in list(wanted):
            queue = queues.get(name)
            if queue is not None and queue.dead_letter_queue is not None:
                wanted.add(queue.dead_letter_queue.name)
        changes: list[Change] = []
        for name in sorted(wanted):
            container = _container("sqs", account, region, name)
            queue = queues.get(name)
            if queue is None:
                if settings or container in self.written:
                    changes.append(Change(container, None, None))
                    self.written.pop(container, None)
                continue
            if settings or container not in self.written:
                changes.append(Change(container, None, _pickled(_queue_state, queue)))
            if touched is None or container not in self.written:
                changes.extend(self._message_changes(container, queue))
            elif touched:
                changes.extend(self._touched_changes(container, queue, touched))
        return changes

    def _touched_changes(self, container: str, queue: Any, touched: set[str]) -> list[Change]:
        written = self.written[container]
        present = {message.id: message for message in queue._messages if message.id in touched}
        changes: list[Change] = []
        for message_id in sorted(touched):
            message = present.get(message_id)
            if message is not None:
                now = (_message_state(message), _message_member(message))
                if written.get(message_id) != now:
                    changes.append(Change(container, now[1], _pickled(_same, message)))
                    written[message_id] = now
            elif message_id in written:
                _, member = written.pop(message_id)
                changes.append(Change(container, member, None))
        return changes

    def _message_changes(self, container: str, queue: Any) -> list[Change]:
        written = self.written[container]
        now: dict[str, tuple[tuple[Any, ...], str]] = {}
        changes: list[Change] = []
        for message in list(queue._messages):
            state = _message_state(message)
            member = _message_member(message)
            now[message.id] = (state, member)
            if written.get(message.id) != (state, member):
                changes.append(Change(container, member, _pickled(_same, message)))
        for message_id, (_, member) in written.items():
            if message_id not in now:
                changes.append(Change(container, member, None))
        self.written[container] = now
        return changes


def _queue_state(queue: Any) -> dict[str, Any]:
    state = {key: value for key, value in list(queue.__dict__.items()) if key not in _QUEUE_PRIVATE}
    state["_docstore_dead_letter"] = queue.dead_letter_queue.name if queue.dead_letter_queue else None
    return state


# SES -----------------------------------------------------------------------------------------------


def ses_changes(account: str, region: str) -> list[Change]:
    """SES's whole backend (identities and the mail sent): small, and changed rarely."""
    from moto.ses.models import ses_backends

    backend = ses_backends[account][region]
    return [Change(_container("ses", account, region), None, _pickled(dict, backend.__dict__))]


def sent_mail(state_path: Path, account: str, region: str) -> list[Any]:
    """The mail an embedded AWS has sent, read from its state file beside it (a mail sink for
    people and tests: moto's SES keeps what it sends and delivers nothing). Opens it read-only."""
    db = sqlite3.connect(f"file:{state_path}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT value FROM containers WHERE name = ?", (_container("ses", account, region),)
        ).fetchone()
    finally:
        db.close()
    return [] if row is None else list(pickle.loads(row[0]).get("sent_messages", []))
