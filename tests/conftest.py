"""Shared fixtures: one moto server and one real uvicorn for the session; fresh accounts per test."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import uvicorn
from moto.core import DEFAULT_ACCOUNT_ID
from ulid import ULID

from adapters import moto_state
from adapters.aws import AwsTarget
from adapters.local_aws import EmbeddedAws
from adapters.local_redis import redis_server
from adapters.s3 import S3ObjectStore
from models import keys, tables
from runtime.services import provision
from server import create_app, server_options
from settings import Settings
from tests import serving
from tests.client import Api, User, post_form

if TYPE_CHECKING:
    from models.accounts import Account
    from models.documents import Document

# Tests talk to moto only; make sure nothing can reach real AWS with real credentials.
for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-west-2"
# SQS allows one PurgeQueue a minute; the session's moto lets tests purge their own queues between tests.
os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"

APP_ORIGIN = "https://app.example.com"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failing test's report ends with what each server process still running said last
    (``tests.serving.start`` started them)."""
    report: pytest.TestReport = yield
    if report.failed:
        for served in serving.running():
            report.sections.append((f"log of {served.command} (pid {served.pid}), last lines", served.tail()))
    return report


class Collections:
    """How long each of the test process's full garbage collections took (the session's live server
    runs in this process, so a long one holds its requests too): the terminal summary lists the
    longest, to tell a collector's pause from a stall of the server's own."""

    def __init__(self) -> None:
        self.started = 0.0
        self.full: list[float] = []

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.full.append(time.perf_counter() - self.started)


COLLECTIONS = Collections()


@contextlib.contextmanager
def quiet_heap() -> Iterator[None]:
    """The test process's heap out of the collector's reach, for a test whose outcome depends on
    the live server not pausing for seconds (a probe's latency beside ordinary requests, changes
    that must fall within one digest window).

    The session's live server shares this process with every test before it, and runs with
    Python's collector as it ships (``settings`` below). A full collection holds every thread of
    the process, the server's included: 120 to 185 ms each with the probes package run alone, up to
    3.4 s in a whole-suite run (the terminal summary lists the longest). In CI two ``Me`` beside one
    probe's rounds took 0.9 and 1.6 s. A served API process does not carry that heap
    (runtime/heap.py freezes what survives). So the heap is collected, then frozen: the collector
    still runs, and walks only what is made meanwhile; after it, everything goes back to it."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.fixture
def frozen_heap() -> Iterator[None]:
    """:func:`quiet_heap` for the whole test."""
    with quiet_heap():
        yield


def pytest_sessionstart(session: pytest.Session) -> None:
    gc.callbacks.append(COLLECTIONS)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    full = sorted(COLLECTIONS.full, reverse=True)
    if full:
        longest = ", ".join(f"{seconds * 1000:.0f}" for seconds in full[:5])
        terminalreporter.write_line(f"full garbage collections of the test process: {len(full)}, longest {longest} ms")


@pytest.fixture(scope="session", autouse=True)
def _no_server_outlives_the_session() -> Iterator[None]:
    """End every process ``tests.serving.start`` started that a test or fixture left running, and
    remove their logs (a failing test's report has already copied the end of each)."""
    yield
    for served in serving.running():
        served.end()
    shutil.rmtree(serving.LOGS, ignore_errors=True)


@pytest.fixture(scope="session")
def aws_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data folder of the session's embedded AWS."""
    return tmp_path_factory.mktemp("moto")


@pytest.fixture(scope="session")
def aws_endpoint(aws_folder: Path) -> Iterator[str]:
    aws = EmbeddedAws(aws_folder)
    yield aws.start()
    aws.stop()


@pytest.fixture(scope="session")
def mail_to(aws_folder: Path, aws_endpoint: str) -> Callable[[str], list[Any]]:
    """What the session's SES sent to an address, like reading a mail sink: the embedded AWS
    keeps it in its state file, committed before SendEmail answered."""

    def sent(address: str) -> list[Any]:
        messages = moto_state.sent_mail(aws_folder / "aws" / "state.sqlite3", DEFAULT_ACCOUNT_ID, "us-west-2")
        return [message for message in messages if message.destinations["ToAddresses"] == [address]]

    return sent


@pytest.fixture(scope="session")
def settings(aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        aws_mode="endpoint",
        aws_endpoint_url=aws_endpoint,
        table_prefix="test",
        data_dir=tmp_path_factory.mktemp("data"),
        sweep_interval_seconds=0,
        redirect_origins=(APP_ORIGIN,),
        blocking_threads=16,
        # The live server runs the workers (the pipeline) as `docstore serve` does.
        run_workers=True,
        queue_wait_seconds=1,
        extraction_processes=1,
        extraction_seconds=30,
        # Every test signs up from 127.0.0.1; tests/test_rate_limits.py runs servers with the limits on.
        auth_attempts_per_ip=1_000_000,
        auth_attempts_per_email=1_000_000,
        # The live server runs in the test process: its collector stays as Python ships it, so tests
        # that count objects after gc.collect() see them all (tests/runtime/test_heap.py runs the policy).
        heap_reclaim_percent=0,
        # Followers' digests go out 5 s after the first change they hold (tests/resolvers/test_follows.py,
        # whose digest tests also freeze the heap: two changes fall within one window).
        digest_seconds=5,
    )


@pytest.fixture(scope="session")
def target(settings: Settings) -> AwsTarget:
    target = AwsTarget.from_settings(settings)
    tables.configure(target, settings.table_prefix)
    provision(settings, target)
    return target


@pytest.fixture(scope="session")
def store(settings: Settings, target: AwsTarget) -> S3ObjectStore:
    return S3ObjectStore(target, settings.bucket)


T = TypeVar("T")


class LoopServer(uvicorn.Server):
    """uvicorn's server, remembering the event loop it serves on."""

    loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: Any = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)


class LiveServer:
    """A real uvicorn serving ``create_app(settings)`` from a thread, on a free port."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **server_options(settings)
        )
        self.server = LoopServer(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the server's event loop (the app's objects live there); its result."""
        assert self.server.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.server.loop).result(timeout=30)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(settings: Settings, target: AwsTarget) -> Iterator[LiveServer]:
    server = LiveServer(settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_url(live_server: LiveServer) -> str:
    return live_server.url


@pytest.fixture(scope="session")
def api(live_url: str) -> Api:
    return Api(live_url)


@pytest.fixture
def user(api: Api) -> User:
    return api.sign_up()


@pytest.fixture
def other_user(api: Api) -> User:
    return api.sign_up()


@pytest.fixture
def two_days() -> Iterator[None]:
    """Changes are kept two days in this test, then as long as before (the session's live server
    runs in this process, so it keeps them as long too)."""
    from models import changes

    kept = changes.retention().days
    changes.configure(retention_days=2)
    yield
    changes.configure(retention_days=kept)


def clear_outbox() -> None:
    """Drop every message waiting in the session's outbox."""
    from models import outbox

    outbox.remove(item.id for item in outbox.Pending.scan(consistent_read=True))


def objects_under(store: S3ObjectStore, prefix: str) -> list[dict[str, Any]]:
    """Every object whose key starts with ``prefix`` (an account id): what its documents keep."""
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=f"{prefix}/")
    return list(listed.get("Contents", []))


def staged(store: S3ObjectStore, owner_id: str) -> dict[str, bytes]:
    """What the account's upload forms posted and is still at their staging keys, by document id."""
    prefix = f"{keys.STAGING_PREFIX}{owner_id}/"
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=prefix)
    return {
        item["Key"].removeprefix(prefix): store.client.get_object(Bucket=store.bucket, Key=item["Key"])["Body"].read()
        for item in listed.get("Contents", [])
    }


def new_account(plan: str = "FREE") -> Account:
    """An account made in storage (no session, no attempt spent), homed in the session's region."""
    from models import accounts

    email = f"t-{ULID()}@example.com".lower()
    return accounts.create(email=email, password_hash="x", plan=plan, home_region="us-west-2")


def pending_upload(account: Account, name: str = "report.pdf", path: str | None = None) -> Document:
    """The records ``requestUpload`` makes for a 10-byte PDF (no form signed): PENDING_UPLOAD."""
    from models import uploads

    return uploads.start(
        account,
        document_id=str(ULID()),
        name=name,
        path=path,
        content_type="application/pdf",
        size=10,
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
    )


def stored(store: S3ObjectStore, account: Account, content: bytes, content_type: str, name: str = "file") -> Document:
    """A document whose upload was completed through the models and the use case, with no queue
    message: PROCESSING, its bytes posted through a signed form and counted in the account."""
    from models import uploads
    from services import uploads as upload_files

    record = uploads.start(
        account,
        document_id=str(ULID()),
        name=name,
        content_type=content_type,
        size=len(content),
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
    )
    post = store.upload_post(
        record.object_key, content_type=content_type, max_bytes=len(content), metadata={}, expires_in=90
    )
    post_form({"url": post.url, "fields": [{"name": k, "value": v} for k, v in post.fields.items()]}, content)
    return upload_files.complete(store, account.id, record.document_id)


def documents_of(owner_id: str) -> list[Any]:
    from models.documents import Document

    return list(Document.query(owner_id, consistent_read=True))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "docstore-data"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def own_tables(target: AwsTarget) -> Iterator[str]:
    """This test's own DynamoDB tables, fresh and empty: the test's thread (and the tasks and worker
    threads it starts) reads and writes ``{prefix}-{name}`` (``models.tables.isolated``), while the
    session's live server and its workers, in other threads of this process, keep the session's.

    The dashboard counters are shared by everything that uses a set of tables, and the live
    server's workers act on earlier tests' leftovers at any time (a form posted but never completed
    is completed by its delayed ``upload.started`` message minutes later). A test that compares
    counters before and after its own actions uses this, so only its actions can move them.
    Gives the prefix; the tables are deleted afterwards."""
    prefix = f"own-{uuid.uuid4().hex[:12]}"
    with tables.isolated(prefix):
        try:
            yield prefix
        finally:
            for model in tables.TABLES:
                model.delete_table()
