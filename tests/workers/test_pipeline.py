"""The pipeline, message by message, wired as production wires it (``pipeline`` and ``wired`` in
conftest.py: its own search index and indexer, queues, outbox), against moto's AWS and the real
extraction sandbox.

Documents are put into PROCESSING through the models (as completeUpload does) without a queue
message, so only these tests act on them. Events go to a recording publisher: pub/sub is a
process boundary, and the subscription tests cover the real one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from botocore.client import BaseClient
from ulid import ULID

from adapters.messages import AccountCreated, QueueMessage, UploadCompleted, UploadStarted
from adapters.search.base import SearchFilter
from adapters.search.tantivy_index import TantivyIndex
from domain.plans import GIB
from events.envelope import Event
from models import accounts, counters, documents, keys, uploads
from models.accounts import Account
from tests.conftest import documents_of, objects_under, staged, stored
from tests.domain.test_content_hash import independent
from tests.workers import files
from workers.pipeline import Pipeline

MiB = 1024 * 1024


class Recorder:
    """Publisher that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self, document_id: str | None = None) -> list[str]:
        return [e.type.value for e in self.events if document_id is None or e.document_id in (None, document_id)]


# Each test compares the session's shared counters before and after its own work.
pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("own_tables")]


def found(index: TantivyIndex, account: Account, query: str, *, content: bool = False) -> list[str]:
    """The ids of ``account``'s documents the index finds for ``query``."""
    page = index.search(account.id, query, content=content, flt=SearchFilter(), offset=0, limit=10)
    return [hit.document_id for hit in page.hits]


def new_account(plan: str) -> Account:
    return accounts.create(email=f"p-{ULID()}@example.com".lower(), password_hash="x", plan=plan, home_region="r")


async def handle(pipeline: Pipeline, message: QueueMessage) -> None:
    await pipeline.handle(message)


def completed(record: documents.Document) -> UploadCompleted:
    return UploadCompleted(account_id=record.owner_id, document_id=record.document_id)


async def test_free_document_is_counted_and_ready_without_extraction(pipeline, wired, recorder, store) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"plain words\n", "text/plain")
    before = counters.read("plan:FREE")

    await handle(pipeline, completed(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.counted_plan, final.counted_type, final.text_key) == (
        "READY",
        "FREE",
        "text/plain",
        None,
    )
    assert counters.read("plan:FREE")[:2] == (before[0] + 1, before[1] + 12)
    assert recorder.kinds() == ["ProcessingStarted", "DocumentReady", "QuotaChanged"]
    assert recorder.events[-1].data == {"used_bytes": 12, "limit_bytes": 5 * GIB}
    assert store.get_text(keys.text(account.id, record.document_id)) is None
    # Searchable by name from the moment it reads READY; FREE keeps no contents in the index.
    assert found(wired.index, account, "file") == [record.document_id]
    assert found(wired.index, account, "content:plain", content=True) == []


async def test_premium_pdf_text_is_extracted_and_stored(pipeline, wired, recorder, store, tmp_path: Path) -> None:
    account = new_account("PREMIUM")
    pdf = files.pdf_file(tmp_path / "a.pdf", "First page words", "Second page words").read_bytes()
    record = stored(store, account, pdf, "application/pdf")

    await handle(pipeline, completed(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.pages, final.text_key) == ("READY", 2, keys.text(account.id, record.document_id))
    text = store.get_text(final.text_key)
    assert "First page words" in text
    assert "Second page words" in text
    kinds = recorder.kinds()
    assert kinds[0] == "ProcessingStarted"
    assert kinds[-2:] == ["DocumentReady", "QuotaChanged"]
    progress = [e.data for e in recorder.events if e.type.value == "ExtractionProgress"]
    assert progress[-1] == {"page": 2, "pages": 2}
    assert found(wired.index, account, 'content:"second page words"', content=True) == [record.document_id]


async def test_handling_the_same_message_twice_counts_once(pipeline, recorder, store) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"twice\n", "text/plain")
    before = counters.read("all")

    await handle(pipeline, completed(record))
    await handle(pipeline, completed(record))

    assert counters.read("all")[:2] == (before[0] + 1, before[1] + 6)
    assert recorder.kinds().count("DocumentReady") == 1


class Calls:
    """The AWS operations whose request names one document, by service, as botocore makes them."""

    def __init__(self, document_id: str) -> None:
        self.document_id = document_id
        self.calls: dict[str, list[tuple[str, str]]] = {}  # service: [(operation, request as JSON)]

    def of(self, service: str) -> list[tuple[str, str]]:
        return self.calls.get(service, [])

    def watch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = BaseClient._make_api_call

        def make_api_call(client, operation: str, params: dict) -> object:
            request = json.dumps(params, default=repr)
            if self.document_id in request:
                service = client.meta.service_model.service_name
                self.calls.setdefault(service, []).append((operation, request))
            return original(client, operation, params)

        monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)


async def test_a_document_of_several_blocks_gets_the_content_hash_of_its_bytes(
    pipeline, recorder, store, monkeypatch
) -> None:
    account = new_account("FREE")
    content = b"\x1f\x8b" + os.urandom(9 * MiB - 2)  # gzip to DocStore: stored, nothing extracted; 3 blocks
    record = stored(store, account, content, "application/gzip")
    assert record.content_hash is None
    calls = Calls(record.document_id)
    calls.watch(monkeypatch)

    await handle(pipeline, completed(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.content_hash) == ("READY", independent(content))
    assert final.content_hash != independent(content, block=MiB)  # 4 MiB blocks, not any others
    ready = [e.data for e in recorder.events if e.type.value == "DocumentReady"]
    assert ready == [{"content_hash": final.content_hash, "has_thumbnail": False}]  # a gzip has none
    # Written in the transaction that already counts the document and records its detected type:
    # no DynamoDB call of its own.
    writes = [(operation, request) for operation, request in calls.of("dynamodb") if "content_hash" in request]
    assert [operation for operation, _ in writes] == ["TransactWriteItems"]
    assert "counted_type" in writes[0][1]
    # Hashed as it was downloaded for detection: the object is read once.
    reads = [operation for operation, request in calls.of("s3") if record.object_key in request]
    assert reads == ["GetObject"]


async def test_bytes_of_no_stored_type_are_rejected_and_leave_the_usage(pipeline, wired, recorder, store) -> None:
    account = new_account("FREE")
    elf = b"\x7fELF\x02\x01\x01" + bytes(200)
    record = stored(store, account, elf, "application/pdf", name="invoice.pdf")
    assert accounts.get(account.id).used_bytes == len(elf)

    await handle(pipeline, completed(record))

    final = documents.Document.get(account.id, record.document_id)
    assert (final.status, final.failure_reason) == ("REJECTED", "WRONG_TYPE")
    assert final.content_hash is None  # no bytes are kept, so none are hashed (docs/CONTENT_HASH.md)
    record_account = accounts.get(account.id)
    assert (record_account.used_bytes, record_account.allocated_bytes, record_account.document_count) == (0, 0, 0)
    assert objects_under(store, account.id) == []
    failed = [e for e in recorder.events if e.type.value == "DocumentFailed"]
    assert [e.data for e in failed] == [{"reason": "WRONG_TYPE"}]
    assert not wired.index.holds(account.id, record.document_id)


async def test_a_lying_content_type_is_corrected_from_the_bytes(pipeline, store) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"just text, not a PDF\n", "application/pdf", name="notes.pdf")

    await handle(pipeline, completed(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.content_type, final.counted_type) == ("READY", "text/plain", "text/plain")


async def test_extraction_failure_ends_failed_with_the_reason(pipeline, wired, recorder, store, tmp_path: Path) -> None:
    account = new_account("PREMIUM")
    broken = files.truncated_pdf(tmp_path / "t.pdf").read_bytes()
    record = stored(store, account, broken, "application/pdf")

    await handle(pipeline, completed(record))

    final = documents.get(account.id, record.document_id)
    assert final.status == "FAILED"
    assert final.failure_reason
    assert final.content_hash == independent(broken)  # its bytes stay stored and counted
    failed = [e.data for e in recorder.events if e.type.value == "DocumentFailed"]
    assert failed == [{"reason": final.failure_reason}]
    assert final.counted_type == "application/pdf"
    assert not wired.index.holds(account.id, record.document_id)


async def test_crossing_80_percent_warns_and_emails_once(pipeline, recorder, store, mail_to) -> None:
    account = new_account("FREE")
    Account(id=account.id).update(
        actions=[Account.used_bytes.set(4 * GIB - 5), Account.allocated_bytes.set(4 * GIB - 5)]
    )
    record = stored(store, account, b"ten bytes\n", "text/plain")

    await handle(pipeline, completed(record))
    await pipeline.check_quota(account.id)

    warnings = [e.data for e in recorder.events if e.type.value == "QuotaWarning"]
    assert warnings == [{"percent": 80}]
    assert [(m.subject, m.source) for m in mail_to(account.email)] == [
        ("DocStore: you have used 80% of your storage", "no-reply@docstore.example")
    ]


async def test_deleting_a_counted_document_takes_it_out_of_the_counters(pipeline, store) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"count me\n", "text/plain")
    await handle(pipeline, completed(record))
    before = counters.read("type:text/plain")

    assert documents.delete_stored(documents.get(account.id, record.document_id))

    assert counters.read("type:text/plain")[:2] == (before[0] - 1, before[1] - 9)


async def test_new_account_is_counted_once(pipeline) -> None:
    account = new_account("PREMIUM")
    before = counters.read("plan:PREMIUM")[2]

    await handle(pipeline, AccountCreated(account_id=account.id))
    await handle(pipeline, AccountCreated(account_id=account.id))

    assert counters.read("plan:PREMIUM")[2] == before + 1


def expired(record: documents.Document) -> UploadStarted:
    """The delayed message requestUpload sends, delivered once the form has expired."""
    return UploadStarted(account_id=record.owner_id, document_id=record.document_id)


def post_again(store, record: documents.Document, content: bytes) -> None:
    """The owner posts the document's form once more (S3 takes it until the form expires)."""
    store.client.put_object(Bucket=store.bucket, Key=keys.staging(record.owner_id, record.document_id), Body=content)


async def test_form_expiry_deletes_what_the_form_posted_after_completion(pipeline, store) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"kept\n", "text/plain")
    await handle(pipeline, completed(record))
    post_again(store, record, b"y" * 100_000)
    assert staged(store, account.id) == {record.document_id: b"y" * 100_000}

    await handle(pipeline, expired(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.size, final.object_key) == ("READY", 5, record.object_key)
    assert staged(store, account.id) == {}
    assert [item["Key"] for item in objects_under(store, account.id)] == [record.object_key]
    assert store.client.get_object(Bucket=store.bucket, Key=record.object_key)["Body"].read() == b"kept\n"
    assert accounts.get(account.id).used_bytes == 5


async def test_form_expiry_of_a_processed_document_reads_it_once_and_tells_no_one(
    pipeline, wired, recorder, store, monkeypatch
) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"kept\n", "text/plain")
    await handle(pipeline, completed(record))
    events = list(recorder.events)
    calls = Calls(record.document_id)
    calls.watch(monkeypatch)

    await handle(pipeline, expired(record))

    # Its upload.completed was handled to the end (READY follows the index): nothing is redone,
    # the index is not told again; the staging key is deleted all the same.
    assert {service: [operation for operation, _ in made] for service, made in calls.calls.items()} == {
        "dynamodb": ["GetItem"],
        "s3": ["DeleteObject"],
    }
    assert recorder.events == events
    final = documents.get(account.id, record.document_id)
    assert (final.status, final.counted_type) == ("READY", "text/plain")
    assert found(wired.index, account, "file") == [record.document_id]


async def test_form_expiry_takes_on_a_completed_upload_whose_message_never_came(
    pipeline, wired, recorder, store
) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"lost message\n", "text/plain")  # PROCESSING, no upload.completed
    before = counters.read("all")

    await handle(pipeline, expired(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.counted_type) == ("READY", "text/plain")
    assert counters.read("all")[:2] == (before[0] + 1, before[1] + 13)
    assert recorder.kinds() == ["ProcessingStarted", "DocumentReady", "QuotaChanged"]
    assert found(wired.index, account, "file") == [record.document_id]


async def test_form_expiry_deletes_what_the_form_posted_after_the_document_was_deleted(pipeline, store) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"gone\n", "text/plain")
    await handle(pipeline, completed(record))
    assert documents.delete_stored(documents.get(account.id, record.document_id))
    store.delete_prefix(keys.document_prefix(account.id, record.document_id))
    post_again(store, record, b"y" * 100_000)

    await handle(pipeline, expired(record))

    assert staged(store, account.id) == {}
    assert objects_under(store, account.id) == []
    assert documents_of(account.id) == []
    assert accounts.get(account.id).used_bytes == 0


async def test_form_expiry_completes_an_upload_nobody_completed_and_deletes_its_staging_object(
    pipeline, wired, store
) -> None:
    account = new_account("FREE")
    record = uploads.start(
        account,
        document_id=str(ULID()),
        name="late.txt",
        content_type="text/plain",
        size=100,
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
    )
    post_again(store, record, b"never completed\n")

    await handle(pipeline, expired(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.size) == ("READY", 16)
    assert staged(store, account.id) == {}
    assert [item["Key"] for item in objects_under(store, account.id)] == [final.object_key]
    assert found(wired.index, account, "late") == [record.document_id]
