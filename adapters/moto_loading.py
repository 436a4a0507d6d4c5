"""Loading the embedded AWS's saved state back into moto's backends at start-up.

Unpickling a record and rebuilding its moto object costs about 35 µs, so 50,000 documents (50,000
DynamoDB items and 75,000 S3 keys) took 4.4 s to load, all of it before the first request could be
answered. Now a start loads in two steps:

1. Before serving (:meth:`Loader.containers`): every container (DynamoDB table, S3 bucket, SQS
   queue, SES backend) with its settings, and every SQS message; tables and buckets start empty.
   This is a few hundred small records whatever the data.
2. While serving, in a thread of its own (:meth:`Loader.members`): the items of the tables, then
   the keys of the buckets (API requests read tables; only downloads read keys); the tables in
   turn, a batch of records each, so that the small ones (sessions, accounts) are complete after
   the first round.

A request that reads or changes a table's items or a bucket's keys waits until that container is
complete (:meth:`Loader.wait`, called by :class:`adapters.aws_process.Durable` before the request
reaches moto): nobody ever sees a table half loaded, and nothing is written to one. Requests on
complete containers, and those that touch no items (DescribeTable, CreateBucket, SQS, SES), go
through at once.

After a crash the orphan object files are found by comparing the blob folder with every loaded
key, before anything new is written; that start loads everything before serving, as before.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import pickle
import sqlite3
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from threading import Condition
from typing import TYPE_CHECKING, Any

from adapters.moto_state import _message_member, _message_state, _s3_backends, _split

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from adapters.moto_state import SqsMirror, StateFile

log = logging.getLogger(__name__)

#: Records read from one container before the loader turns to the next.
BATCH = 500
#: The interpreter's thread switch interval while loading (Python's default is 5 ms). The loader
#: never blocks, so each time a request thread wants the GIL back (after every socket read or
#: write) it would wait a whole interval: a request of a few milliseconds took 50 to 100.
SWITCH_SECONDS = 0.0005


@dataclass
class Loaded:
    """What a start-up found (so far)."""

    tables: int = 0
    items: int = 0
    buckets: int = 0
    objects: int = 0
    queues: int = 0
    messages: int = 0


class Loader:
    """Puts the saved records back into moto's (empty) backends, and holds requests meanwhile."""

    def __init__(self, state: StateFile, sqs: SqsMirror) -> None:
        self.state = state
        self.sqs = sqs
        self.loaded = Loaded()
        #: Seconds the members took, once they are all loaded.
        self.seconds: float | None = None
        self._tables: dict[str, Any] = {}
        self._buckets: dict[str, Any] = {}
        #: Containers whose members are not all loaded yet, each with the event that says they are.
        self._pending: dict[str, threading.Event] = {}
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def containers(self) -> Loaded:
        """Load every container, and the SQS messages; tables and buckets stay empty (pending)."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodb.models.table import Table
        from moto.s3.models import FakeBucket, s3_backends
        from moto.s3.utils import _VersionedKeyStore
        from moto.ses.models import ses_backends
        from moto.sqs.models import Queue, sqs_backends

        queues: dict[str, Any] = {}
        for container, value in self.state.containers():
            service, account, region, name = _split(container)
            data = pickle.loads(value)
            if service == "dynamodb":
                table: Any = Table.__new__(Table)
                table.__dict__.update(data)
                table.items = defaultdict(dict)
                dynamodb_backends[account][region].tables[name] = table
                self._tables[container] = table
                self.loaded.tables += 1
            elif service == "s3":
                bucket: Any = FakeBucket.__new__(FakeBucket)
                bucket.__dict__.update(data)
                bucket.keys = _VersionedKeyStore()
                s3_backends[account][region].buckets[name] = bucket
                s3_backends.bucket_accounts[name] = (region, account)
                self._buckets[container] = bucket
                self.loaded.buckets += 1
            elif service == "sqs":
                queue: Any = Queue.__new__(Queue)
                dead_letter = data.pop("_docstore_dead_letter", None)
                queue.__dict__.update(data)
                queue._messages = []
                queue._pending_messages = set()
                queue.deleted_messages = set()
                queue._messages_lock = Condition()
                queue.dead_letter_queue = None
                queue._docstore_dead_letter = dead_letter
                sqs_backends[account][region].queues[name] = queue
                queues[container] = queue
                self.loaded.queues += 1
            elif service == "ses":
                ses_backends[account][region].__dict__.update(data)
        for container, queue in queues.items():
            for value in self.state.member_values(container):
                queue._messages.append(pickle.loads(value))
                self.loaded.messages += 1
            dead_letter = queue.__dict__.pop("_docstore_dead_letter", None)
            if dead_letter is not None:
                queue.dead_letter_queue = sqs_backends[queue.account_id][queue.region].queues.get(dead_letter)
            queue._pending_messages = {m for m in queue._messages if m.approximate_receive_count and not m.visible}
            self.sqs.written[container] = {m.id: (_message_state(m), _message_member(m)) for m in queue._messages}
        self._pending = {container: threading.Event() for container in [*self._tables, *self._buckets]}
        if not self._pending:
            self._done.set()
        return self.loaded

    def members(self) -> None:
        """Load the items of every table and the keys of every bucket, releasing each container's
        waiting requests as soon as it is complete. Reads the state file through a connection of
        its own (WAL: a snapshot, while the served requests commit through theirs)."""
        from adapters import moto_blobs

        started = time.monotonic()
        db = sqlite3.connect(f"file:{self.state.path}?mode=ro", uri=True, check_same_thread=False)
        try:
            with moto_blobs.restoring(), _bulk_loading():
                # Tables first: every API request reads them, while only downloads read keys.
                for group in (self._tables, self._buckets):
                    cursors = {
                        container: db.execute(
                            "SELECT name, value FROM members WHERE container = ? ORDER BY name", (container,)
                        )
                        for container in group
                    }
                    while cursors:
                        for container, cursor in list(cursors.items()):
                            rows = cursor.fetchmany(BATCH)
                            self._put(container, rows)
                            if len(rows) < BATCH:  # the last batch: the container is complete
                                del cursors[container]
                                self._pending[container].set()
        finally:
            db.close()
        self.seconds = time.monotonic() - started
        # What was loaded lives as long as the process: keep the collector from walking it again
        # at every full collection.
        gc.freeze()
        self._done.set()

    def _put(self, container: str, rows: list[tuple[str, bytes]]) -> None:
        if container in self._tables:
            table = self._tables[container]
            items = table.items
            if table.range_key_attr:
                for _, value in rows:
                    item = pickle.loads(value)
                    items[item.hash_key][item.range_key] = item
            else:
                for _, value in rows:
                    item = pickle.loads(value)
                    items[item.hash_key] = item
            self.loaded.items += len(rows)
        else:
            keys = self._buckets[container].keys
            for name, value in rows:
                dict.__setitem__(keys, name, pickle.loads(value))
            self.loaded.objects += len(rows)

    def wait(self, service: str, names: Iterable[str] | None) -> None:
        """Return once the members of the ``service`` containers named ``names`` (every container
        of the service for None; in any account and region) are all loaded."""
        if self._done.is_set():
            return
        wanted = None if names is None else set(names)
        for container, event in list(self._pending.items()):
            kind, _, _, name = _split(container)
            if kind == service and (wanted is None or name in wanted):
                event.wait()


@contextlib.contextmanager
def _bulk_loading() -> Iterator[None]:
    """While this thread loads: no cyclic garbage collection, and the items' attributes go into
    their ``LimitedSizeDict`` without its size check (under names interned, one string per name).

    Unpickling fills that dict through its ``__setitem__``, which sums the size of every attribute
    already there at each new one (quadratic in the attributes: half the load time of 3,000 document
    records); every saved item passed DynamoDB's size limit when it was written. The check is skipped
    in the loading thread only: requests served meanwhile are still checked. And the collector,
    triggered by the allocations, traverses the growing graph of loaded records again and again
    while nothing loaded is garbage (another third).
    """
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    checked = LimitedSizeDict.__dict__["__setitem__"]
    loading = threading.get_ident()

    def setitem(self: Any, key: Any, value: Any) -> None:
        if threading.get_ident() == loading:
            # One string per attribute name for all items, as for those written since the start
            # (adapters/moto_slim.py): unpickled apart, each record would hold its own names.
            dict.__setitem__(self, sys.intern(key) if type(key) is str else key, value)
        else:
            checked(self, key, value)

    collecting = gc.isenabled()
    switch = sys.getswitchinterval()
    gc.disable()
    sys.setswitchinterval(SWITCH_SECONDS)
    setattr(LimitedSizeDict, "__setitem__", setitem)  # noqa: B010 (mypy refuses assigning a method)
    try:
        yield
    finally:
        setattr(LimitedSizeDict, "__setitem__", checked)  # noqa: B010
        sys.setswitchinterval(switch)
        if collecting:
            gc.enable()


def live_blobs() -> Iterator[str]:
    """Every file a loaded S3 key (every version, every multipart part) reads its value from."""
    from adapters import moto_blobs

    for _, _, backend in _s3_backends():
        for bucket in backend.buckets.values():
            for versions in dict.values(bucket.keys):
                for key in versions:
                    path = moto_blobs.blob_path(key)
                    if path is not None:
                        yield path
            for multipart in getattr(bucket, "multiparts", {}).values():
                for part in multipart.parts.values():
                    path = moto_blobs.blob_path(part)
                    if path is not None:
                        yield path
