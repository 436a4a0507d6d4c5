"""The embedded AWS process: moto's server on 127.0.0.1, its state kept in the data folder.

``docstore serve`` starts it (:class:`adapters.local_aws.EmbeddedAws`) as
``python -m adapters.aws_process --data-dir DIR``. It loads the saved state, prints one JSON line
(``{"endpoint_url": ...}``, or ``{"error": ...}``) on stdout, serves until its stdin closes (its
parent stopped, however it stopped) or it gets SIGTERM, and writes ``aws-endpoint.json`` in the data
folder so that ``docstore`` commands started beside the server find it.

Every request that may change state is written to the state file before its answer goes out
(:class:`Durable`); requests that only read go straight to moto.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from adapters import priority

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from adapters.moto_loading import Loader
    from adapters.moto_state import Change, SqsMirror, StateFile

log = logging.getLogger("docstore.aws")

ENDPOINT_FILE = "aws-endpoint.json"
LOCK_FILE = "aws.lock"
STATE_FOLDER = "aws"
#: Written when the process stops in order: the next start has no orphan object files to look for.
CLEAN_STOP = "clean-stop"
#: The largest request body the server reads: S3 uploads are bounded by their signed form's policy.
MAX_BODY = 1 << 40
#: An idle client connection is closed after this long (boto3 reopens it when needed).
CHANNEL_SECONDS = 120
#: At a stop, how long the requests in flight get to finish.
STOP_SECONDS = 10


class DataFolderBusy(RuntimeError):
    """Another process already keeps its embedded AWS in this data folder."""


def _credential_scope(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(access key, region, service) from a SigV4 ``Authorization`` header."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    start = header.find(marker)
    if start < 0:
        return None
    scope = header[start + len(marker) :].split(",", 1)[0].strip().split("/")
    if len(scope) < 5:
        return None
    return scope[0], scope[2], scope[3]


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = BytesIO(body)
    return body


#: DynamoDB actions that read or change no item: they go through while tables are still loading.
DYNAMODB_WITHOUT_ITEMS = frozenset(
    {
        "CreateTable",
        "DescribeContinuousBackups",
        "DescribeEndpoints",
        "DescribeLimits",
        "DescribeTable",
        "DescribeTimeToLive",
        "ListTables",
        "ListTagsOfResource",
        "TagResource",
        "UntagResource",
        "UpdateTimeToLive",
    }
)
#: DynamoDB actions that name their one table in ``TableName``.
DYNAMODB_ONE_TABLE = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "UpdateTable", "DeleteTable"}
)


def _table_names(action: str, request: dict[str, Any]) -> set[str] | None:
    """The tables whose items a DynamoDB request reads or changes (None: any table may be)."""
    if action in DYNAMODB_WITHOUT_ITEMS:
        return set()
    names: list[Any] = []
    if action in DYNAMODB_ONE_TABLE:
        names = [request.get("TableName")]
    elif action in ("BatchGetItem", "BatchWriteItem"):
        names = list(request.get("RequestItems") or {})
    elif action in ("TransactGetItems", "TransactWriteItems"):
        for entry in request.get("TransactItems") or []:
            names.extend(operation.get("TableName") for operation in entry.values() if isinstance(operation, dict))
    else:
        return None
    if not all(isinstance(name, str) for name in names):
        return None  # moto refuses it; let it wait like anything unknown
    # A table may be named by its ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME).
    return {name.rsplit(":table/", 1)[-1] for name in names}


#: Bucket subresources that hold the bucket's settings: a request on one reads or writes no key.
S3_SETTINGS = frozenset(
    {
        "accelerate", "acl", "analytics", "cors", "encryption", "intelligent-tiering", "inventory",
        "lifecycle", "location", "logging", "metrics", "notification", "object-lock", "ownershipControls",
        "policy", "policyStatus", "publicAccessBlock", "replication", "requestPayment", "tagging",
        "versioning", "website",
    }
)  # fmt: skip


def _buckets_read(environ: dict[str, Any]) -> list[str] | None:
    """The buckets (path style) whose keys an S3 request reads or writes; None: any bucket may be.

    Creating, checking or configuring a bucket (PUT or HEAD on the bucket alone, or any request on
    one of its settings, such as the lifecycle rules ``docstore serve`` reads at each start) reads
    no key, so it need not wait for 75,000 keys to load. A listing, a form POST and a batch delete do."""
    if environ.get("HTTP_X_AMZ_COPY_SOURCE"):
        return None  # a copy reads another bucket's key too
    bucket, _, key = environ.get("PATH_INFO", "/").lstrip("/").partition("/")
    if not bucket:
        return []  # the list of buckets
    if key:
        return [bucket]
    if environ.get("REQUEST_METHOD") in ("PUT", "HEAD"):
        return []
    asked = {name for name, _, _ in (part.partition("=") for part in environ.get("QUERY_STRING", "").split("&"))}
    return [] if asked & S3_SETTINGS else [bucket]


def _account(access_key: str) -> str:
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


class Durable:
    """WSGI middleware around moto's server that commits what each request changed before answering.

    DynamoDB requests also run one at a time: DynamoDB applies each conditional write and each
    transaction atomically, and moto's backend has no locks, so two threads of its server could both
    pass a condition before either writes (seen as 6 of 20 concurrent 1 GiB reservations passing a
    5 GiB quota). S3, SQS and SES stay concurrent. Every request's changes are captured in one order
    (:class:`adapters.moto_state.GroupCommit`), so the last write of a record is always its latest
    state, and written by the group commit's thread while the next DynamoDB request already runs.
    """

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        state: StateFile,
        sqs: SqsMirror,
        loader: Loader,
        *,
        people_burst: int = 1,
    ) -> None:
        from adapters import moto_blobs, moto_state

        self.app = app
        self.state = state
        self.sqs = sqs
        self.loader = loader
        #: One DynamoDB request at a time, in the order asked, people's before the workers'.
        self.dynamodb = priority.TurnLock(people_burst)
        store = moto_blobs._Patch.store
        self.journal = moto_state.GroupCommit(state, after=store.collect if store is not None else None)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB_"):
            return self._dynamodb(target.split(".", 1)[-1], environ, start_response)
        scope = _credential_scope(environ)
        service = scope[2] if scope else None
        method = environ.get("REQUEST_METHOD", "GET")
        if target.startswith("AmazonSQS.") or service == "sqs":
            return self._sqs(target, scope, environ, start_response)
        if service in ("ses", "email"):
            return self._ses(scope, environ, start_response)
        if service in ("s3", None):
            if not self.loader.done:
                self._wait_for_keys(environ)
            if method in ("PUT", "POST", "DELETE"):
                return self._s3(environ, start_response)
        return self.app(environ, start_response)

    def _wait_for_keys(self, environ: dict[str, Any]) -> None:
        """Hold an S3 request until the keys of the buckets it reads are loaded (:func:`_buckets_read`)."""
        buckets = _buckets_read(environ)
        if buckets is None or buckets:
            self.loader.wait("s3", buckets)

    def _commit(self, capture: Callable[[], list[Change]]) -> None:
        """Capture what this request changed and wait until it is on disk."""
        self.journal.wait(self.journal.capture(capture))

    def _dynamodb(self, action: str, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from adapters import moto_state

        body = _read_body(environ)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = None  # moto refuses it too: nothing changes
        if not self.loader.done:
            # Waiting happens outside the DynamoDB lock: requests on loaded tables go on meanwhile.
            self.loader.wait("dynamodb", _table_names(action, request) if isinstance(request, dict) else None)
        scope = _credential_scope(environ)
        with self.dynamodb.turn(background=environ.get(priority.ENVIRON_KEY) == priority.BACKGROUND):
            answer = list(self.app(environ, start_response))
            if action not in moto_state.DYNAMODB_READS and scope is not None and isinstance(request, dict):
                account = _account(scope[0])
                written = self.journal.capture(lambda: moto_state.dynamodb_changes(action, request, account, scope[1]))
            else:
                written = self.journal.horizon()
        # Outside the lock: the next request runs in moto while this one's changes are written. A
        # read waits too, for what it may have seen of earlier requests' writes.
        self.journal.wait(written)
        return answer

    def _sqs(
        self,
        target: str,
        scope: tuple[str, str, str] | None,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        from adapters import moto_state

        body = _read_body(environ)
        if target:
            action = target.split(".", 1)[1]
            try:
                parsed = json.loads(body or b"{}")
            except ValueError:
                parsed = None
            request: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        else:
            form = parse_qs(body.decode("utf-8", "replace"))
            action = form.get("Action", [""])[0]
            request = {key: values[0] for key, values in form.items()}
        moto_state.begin_sqs_request()
        answer = list(self.app(environ, start_response))
        if action in moto_state.SQS_READS or scope is None:
            moto_state.end_sqs_request()
            return answer
        account = _account(scope[0])
        names: list[str] | None = None
        url = request.get("QueueUrl")
        if isinstance(url, str) and url:
            account = url.rstrip("/").rsplit("/", 2)[-2] if url.count("/") >= 4 else account
            names = [url.rstrip("/").rsplit("/", 1)[-1]]
        elif isinstance(request.get("QueueName"), str):
            names = [request["QueueName"]]
        settings = action in moto_state.SQS_QUEUE_ACTIONS or names is None
        region = scope[1]
        whole = action in moto_state.SQS_WHOLE_QUEUE_ACTIONS
        self._commit(lambda: self.sqs.queue_changes(account, region, names, settings=settings, whole=whole))
        return answer

    def _ses(
        self, scope: tuple[str, str, str] | None, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        from adapters import moto_state

        body = _read_body(environ)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        answer = list(self.app(environ, start_response))
        if scope is not None and not action.startswith(("Get", "List", "Describe")):
            account = _account(scope[0])
            self._commit(lambda: moto_state.ses_changes(account, scope[1]))
        return answer

    def _s3(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from adapters import moto_state

        path = environ.get("PATH_INFO", "/").lstrip("/")
        bucket, _, key = path.partition("/")
        query = environ.get("QUERY_STRING", "")
        bucket_level = not key or "uploadId" in query or "uploads" in query
        moto_state.begin_s3_request()
        answer = list(self.app(environ, start_response))
        self._commit(lambda: moto_state.s3_changes(bucket or None, bucket_level=bucket_level))
        return answer


def dispatcher() -> Any:
    """moto's dispatcher from request to service backend, remembering which backend serves a host.

    moto works that out again for every request, listing its own package folder on disk and trying
    hundreds of URL patterns, under a lock that every request takes; the answer for a host never
    changes while the process runs.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class Dispatcher(DomainDispatcherApplication):
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self._backends: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            try:
                return self._backends[host]
            except KeyError:
                backend = self._backends[host] = super().get_backend_for_host(host)
                return backend

    return Dispatcher()


def _lower_case_metadata_names() -> Any:
    """waitress's HTTP channel, answering with S3's user-metadata header names in lower case.

    waitress capitalizes every response header name (``X-Amz-Meta-Tags``), and botocore takes a
    metadata key from the header name as it comes, so clients would read the key ``Tags`` where S3
    (and moto) say ``tags``. S3 always answers these names in lower case; so does this."""
    import re

    from waitress.channel import HTTPChannel
    from waitress.task import WSGITask

    metadata_names = re.compile(rb"^X-Amz-Meta-[^:]*:", re.MULTILINE)

    class Task(WSGITask):  # type: ignore[misc]
        def build_response_header(self) -> bytes:
            head: bytes = super().build_response_header()
            return metadata_names.sub(lambda found: found.group(0).lower(), head)

    class Channel(HTTPChannel):  # type: ignore[misc]
        task_class = Task

    return Channel


class Embedded:
    """The state file, moto's patched backends and the WSGI server of one embedded AWS process."""

    def __init__(
        self,
        data_dir: Path,
        host: str,
        port: int,
        *,
        synchronous: str,
        threads: int = 32,
        connections: int = 1000,
        people_burst: int = 1,
        speedups: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.folder = data_dir / STATE_FOLDER
        self.host = host
        self.port = port
        self.synchronous = synchronous
        self._lock_file: Any = None
        self.threads = threads
        self.speedups = speedups
        self.connections = connections
        self.people_burst = people_burst
        self.server: Any = None
        self.state: StateFile | None = None
        self.loader: Loader | None = None
        self.durable: Durable | None = None
        self._stopping = threading.Event()

    def lock(self) -> None:
        """Take the data folder: one embedded AWS a folder. Raises DataFolderBusy otherwise."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / LOCK_FILE, "a+")  # noqa: SIM115 (held for the process's life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise DataFolderBusy(
                f"the data folder {self.data_dir.resolve()} is in use by another DocStore (pid {holder}); "
                "stop it first, or give this one its own folder with --data-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def start(self) -> dict[str, Any]:
        from waitress.server import create_server

        from adapters import (
            moto_blobs,
            moto_direct,
            moto_loading,
            moto_multipart,
            moto_patches,
            moto_slim,
            moto_speedups,
            moto_state,
        )

        self.lock()
        moto_patches.install()
        moto_multipart.install()
        if self.speedups:
            moto_speedups.install()
        started = time.monotonic()
        blobs = moto_blobs.BlobStore(self.folder / "blobs", fsync=self.synchronous == "FULL")
        moto_blobs.install(blobs)
        if self.speedups:
            # After the blob store: it wraps FakeKey's pickling as the blob store leaves it.
            moto_slim.install()
        moto_state.install_s3_tracking()
        moto_state.install_sqs_tracking()
        self.state = moto_state.StateFile(self.folder / "state.sqlite3", synchronous=self.synchronous)
        sqs = moto_state.SqsMirror()
        loader = moto_loading.Loader(self.state, sqs)
        loaded = dict(loader.containers().__dict__)
        # After a clean stop no file can be an orphan: the items and keys load while serving.
        # After a crash, every key is loaded first and the files none names are listed (before any
        # new value is written), then removed in the background.
        clean = self.folder / CLEAN_STOP
        if clean.exists():
            clean.unlink()
        else:
            loader.members()
            loaded = dict(loader.loaded.__dict__)
            orphans = blobs.orphans(moto_loading.live_blobs())
            threading.Thread(target=blobs.remove, args=(orphans,), name="blob-sweep", daemon=True).start()
        self.loader = loader
        # DynamoDB and SQS requests skip moto's Flask app (adapters/moto_direct.py), with the speedups.
        moto_app = moto_direct.Direct(dispatcher()) if self.speedups else dispatcher()
        app = self.durable = Durable(moto_app, self.state, sqs, loader, people_burst=self.people_burst)
        # waitress, not moto's own werkzeug server: werkzeug answers every request with
        # "Connection: close", so each boto3 call paid a new TCP connection and a new thread.
        self.server = create_server(
            app,
            host=self.host,
            port=self.port,
            threads=self.threads,
            connection_limit=self.connections,
            max_request_body_size=MAX_BODY,
            channel_timeout=CHANNEL_SECONDS,
            clear_untrusted_proxy_headers=False,
            ident="DocStore embedded AWS",
        )
        self.server.channel_class = _lower_case_metadata_names()
        endpoint = f"http://{self.server.effective_host!s}:{self.server.effective_port}"
        marker = self.data_dir / ENDPOINT_FILE
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"endpoint_url": endpoint, "pid": os.getpid()}))
        tmp.replace(marker)
        return {
            "endpoint_url": endpoint,
            "pid": os.getpid(),
            "seconds": round(time.monotonic() - started, 3),
            "threads": self.threads,
            "connections": self.connections,
            "people_burst": self.people_burst,
            "loaded": loaded,
            "loading": not loader.done,
        }

    def serve(self) -> None:
        """Serve until :meth:`stop`, then let the requests in flight finish."""
        server = self.server
        assert server is not None
        while not self._stopping.is_set():
            server.asyncore.loop(timeout=1.0, map=server._map, use_poll=True, count=1)
        server.task_dispatcher.shutdown(cancel_pending=False, timeout=STOP_SECONDS)

    def stop(self) -> None:
        self._stopping.set()
        if self.server is not None:
            self.server.pull_trigger()

    def close(self) -> None:
        marker = self.data_dir / ENDPOINT_FILE
        try:
            if json.loads(marker.read_text()).get("pid") == os.getpid():
                marker.unlink()
        except (OSError, ValueError):
            pass
        if self.server is not None:
            self.server.close()
        if self.durable is not None:
            self.durable.journal.close()
        if self.state is not None:
            self.state.close()
            (self.folder / CLEAN_STOP).touch()


def _load_members(loader: Loader) -> None:
    """The loader's thread. A record that cannot be loaded ends the process (the parent stops with
    it): serving what could be loaded would answer for data as if the rest did not exist."""
    try:
        loader.members()
    except BaseException:
        log.exception("the embedded AWS could not load its saved state; stopping")
        logging.shutdown()
        os._exit(6)


def _watch_parent(embedded: Embedded) -> None:
    """Stop when stdin closes: the parent is gone (a clean stop, a crash or kill -9 alike)."""
    while sys.stdin.buffer.read(1024):
        pass
    embedded.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adapters.aws_process")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--synchronous", choices=("NORMAL", "FULL"), default="NORMAL")
    parser.add_argument("--threads", type=int, default=32, help="requests served at once")
    parser.add_argument("--connections", type=int, default=1000, help="client connections kept open")
    parser.add_argument(
        "--people-burst",
        type=int,
        default=1,
        help="DynamoDB requests without the background mark served ahead of waiting background ones",
    )
    parser.add_argument(
        "--moto-as-released",
        action="store_true",
        help="leave out adapters/moto_speedups.py, moto_slim.py and moto_direct.py (for benchmarks)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="embedded AWS: %(levelname)s %(message)s")
    embedded = Embedded(
        args.data_dir,
        args.host,
        args.port,
        synchronous=args.synchronous,
        threads=args.threads,
        connections=args.connections,
        people_burst=args.people_burst,
        speedups=not args.moto_as_released,
    )
    try:
        ready = embedded.start()
    except DataFolderBusy as error:
        print(json.dumps({"error": str(error), "kind": "busy"}), flush=True)
        return 3
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        where = error.filename or args.data_dir
        hint = " (the disk is full)" if error.errno == errno.ENOSPC else ""
        print(json.dumps({"error": f"cannot keep data in {where}: {reason}{hint}", "kind": "folder"}), flush=True)
        return 4
    except sqlite3.DatabaseError as error:
        # SQLite says "database or disk is full" for a full disk, "file is not a database" for a
        # state file that is something else: the folder's problem, said in a sentence.
        state = args.data_dir / STATE_FOLDER / "state.sqlite3"
        print(json.dumps({"error": f"cannot keep data in {state}: {error}", "kind": "folder"}), flush=True)
        return 4
    except Exception as error:  # the parent shows it; a traceback here would go unread
        log.exception("embedded AWS failed to start")
        print(json.dumps({"error": f"the embedded AWS failed to start: {error}", "kind": "start"}), flush=True)
        return 5
    signal.signal(signal.SIGTERM, lambda *_: embedded.stop())
    print(json.dumps(ready), flush=True)
    if embedded.loader is not None and not embedded.loader.done:
        # After the ready line: the parent goes on starting while the items and keys load.
        threading.Thread(target=_load_members, args=(embedded.loader,), name="state-loader", daemon=True).start()
    threading.Thread(target=_watch_parent, args=(embedded,), name="parent-watch", daemon=True).start()
    try:
        embedded.serve()
    finally:
        embedded.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
