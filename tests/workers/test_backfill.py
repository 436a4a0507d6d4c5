"""The backfill after an upgrade to PREMIUM: earlier documents get their text through the pipeline's
own code (download, detection, extraction, the text in S3, the metrics), in the backfill's own pool.

Against moto's AWS and the real extraction sandbox, on the pipeline as production wires it
(``wired`` in conftest.py); the queues the backfill writes to record what they are sent (SQS is a
process boundary, and its own tests cover it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from adapters.blocking import Blocking
from adapters.messages import HashDocuments, PlanChanged, QueueMessage, new_key
from adapters.metrics import Metrics
from domain.plans import Plan
from models import documents, keys
from models.accounts import Account
from tests.conftest import objects_under
from tests.domain.test_content_hash import independent
from tests.workers import files
from tests.workers.test_pipeline import completed, new_account, stored
from workers import backfill as backfill_module
from workers.backfill import Backfill
from workers.pipeline import Pipeline

pytestmark = pytest.mark.anyio


class SentQueue:
    """A queue that keeps what it is sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, body: QueueMessage, delay_seconds: int = 0) -> None:
        self.sent.append(msgspec.to_builtins(body))

    def bodies(self) -> list[dict[str, Any]]:
        """What was sent, less each message's random deduplication key."""
        return [message(body) for body in self.sent]


def message(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` less its random deduplication key."""
    return {name: value for name, value in body.items() if name != "key"}


@pytest.fixture
def metrics(wired) -> Metrics:
    return wired.metrics


@pytest.fixture
def index_queue() -> SentQueue:
    return SentQueue()


@pytest.fixture
def backfill(store, extraction, pipeline, index_queue) -> Backfill:
    return Backfill(
        blocking=Blocking(4),
        objects=store,
        extraction=extraction,
        pipeline=pipeline,
        backfill_queue=SentQueue(),  # type: ignore[arg-type]
        index_queue=index_queue,  # type: ignore[arg-type]
    )


async def ready_on_free_then_premium(pipeline: Pipeline, store, content: bytes, content_type: str):
    """A document stored and READY on the FREE plan (no text), and its account moved to PREMIUM."""
    account = new_account("FREE")
    record = stored(store, account, content, content_type)
    await pipeline.handle(completed(record))
    assert documents.get(account.id, record.document_id).text_key is None
    Account(id=account.id).update(actions=[Account.plan.set(Plan.PREMIUM)])
    return account, record


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def stored_before_content_hashes(record: documents.Document) -> None:
    """``record`` as a DocStore before content hashes left it: no hash."""
    documents.Document(record.owner_id, record.document_id).update(actions=[documents.Document.content_hash.remove()])
    assert documents.get(record.owner_id, record.document_id).content_hash is None


async def test_upgrade_gives_an_earlier_document_its_text(backfill, pipeline, metrics, index_queue, store, tmp_path):
    pdf = files.pdf_file(tmp_path / "a.pdf", "Earlier words", "More earlier words").read_bytes()
    account, record = await ready_on_free_then_premium(pipeline, store, pdf, "application/pdf")
    stored_before_content_hashes(record)

    await backfill.handle(PlanChanged(account_id=account.id, key=new_key()))

    final = documents.get(account.id, record.document_id)
    key = keys.text(account.id, record.document_id)
    assert (final.status, final.text_key, final.pages) == ("READY", key, 2)
    assert final.content_hash == independent(pdf)  # from the bytes it downloaded for the text, in the same write
    assert store.get_text(key) == "Earlier words\fMore earlier words"
    assert index_queue.bodies() == [
        {"type": "index.account", "account_id": account.id},
        {"type": "index.document", "account_id": account.id, "document_id": record.document_id},
    ]
    assert value(metrics, "docstore_extraction_seconds_count", content_type="application/pdf") == 1


async def test_a_file_that_gives_no_text_stays_ready_without_any(
    backfill, pipeline, metrics, index_queue, store, tmp_path: Path
) -> None:
    locked = files.encrypted_pdf(tmp_path / "locked.pdf", user_password="secret").read_bytes()
    account, record = await ready_on_free_then_premium(pipeline, store, locked, "application/pdf")
    stored_before_content_hashes(record)

    await backfill.handle(PlanChanged(account_id=account.id, key=new_key()))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.text_key, final.pages, final.failure_reason) == ("READY", None, None, None)
    assert final.content_hash == independent(locked)  # read all the same
    assert [obj["Key"] for obj in objects_under(store, account.id)] == [record.object_key]
    assert index_queue.bodies() == [{"type": "index.account", "account_id": account.id}]
    assert value(metrics, "docstore_extraction_failures_total", reason="ENCRYPTED") == 1


async def test_a_document_of_a_type_without_text_is_left_as_it_is(
    backfill, pipeline, metrics, index_queue, store
) -> None:
    account, record = await ready_on_free_then_premium(pipeline, store, b"GIF89a" + bytes(64), "image/gif")

    await backfill.handle(PlanChanged(account_id=account.id, key=new_key()))

    assert documents.get(account.id, record.document_id).text_key is None
    assert index_queue.bodies() == [{"type": "index.account", "account_id": account.id}]
    assert value(metrics, "docstore_extraction_seconds_count", content_type="image/gif") is None


# --- hash.documents: content hashes for documents stored before there were any --------------


def hash_documents(account_id: str, after: str | None = None) -> HashDocuments:
    return HashDocuments(account_id=account_id, key=new_key(), after=after)


async def test_stored_documents_without_a_hash_get_the_hash_of_their_bytes(
    backfill, pipeline, store, tmp_path: Path
) -> None:
    account = new_account("PREMIUM")
    text = b"plain words\n"
    broken = files.truncated_pdf(tmp_path / "t.pdf").read_bytes()
    ready, failed, kept = (
        stored(store, account, content, kind)
        for content, kind in ((text, "text/plain"), (broken, "application/pdf"), (b"kept\n", "text/plain"))
    )
    rejected = stored(store, account, b"\x7fELF\x02\x01\x01" + bytes(200), "application/pdf")
    for record in (ready, failed, kept, rejected):
        await pipeline.handle(completed(record))
    stored_before_content_hashes(ready)
    stored_before_content_hashes(failed)
    # A hash already there is left as it is: not read again, not written over.
    documents.Document(account.id, kept.document_id).update(actions=[documents.Document.content_hash.set("f" * 64)])

    await backfill.handle(hash_documents(account.id))

    final = {
        record.document_id: documents.Document.get(account.id, record.document_id)
        for record in (ready, failed, kept, rejected)
    }
    assert [
        (final[r.document_id].status, final[r.document_id].content_hash) for r in (ready, failed, kept, rejected)
    ] == [
        ("READY", independent(text)),
        ("FAILED", independent(broken)),
        ("READY", "f" * 64),
        ("REJECTED", None),  # no bytes kept
    ]
    assert backfill.backfill_queue.bodies() == []  # one chunk was the whole account


async def test_a_large_account_is_hashed_in_chunks_that_each_send_the_next(
    backfill, pipeline, store, monkeypatch
) -> None:
    monkeypatch.setattr(backfill_module, "CHUNK", 2)
    account = new_account("FREE")
    contents = [f"document {number}\n".encode() for number in range(3)]
    records = [stored(store, account, content, "text/plain") for content in contents]
    for record in records:
        await pipeline.handle(completed(record))
        stored_before_content_hashes(record)

    await backfill.handle(hash_documents(account.id))

    hashes = [documents.get(account.id, record.document_id).content_hash for record in records]
    assert hashes == [independent(contents[0]), independent(contents[1]), None]
    (following,) = backfill.backfill_queue.sent
    assert message(following) == {"type": "hash.documents", "account_id": account.id, "after": records[1].document_id}

    await backfill.handle(hash_documents(account.id, after=records[1].document_id))

    assert documents.get(account.id, records[2].document_id).content_hash == independent(contents[2])
    assert len(backfill.backfill_queue.sent) == 1  # the last chunk sends nothing


async def test_a_chunk_of_hashes_ends_once_it_has_read_its_bytes(backfill, pipeline, store, monkeypatch) -> None:
    monkeypatch.setattr(backfill_module, "HASH_CHUNK_BYTES", 10)
    account = new_account("FREE")
    records = [stored(store, account, f"twelve bytes{number}".encode()[:12], "text/plain") for number in range(2)]
    for record in records:
        await pipeline.handle(completed(record))
        stored_before_content_hashes(record)

    await backfill.handle(hash_documents(account.id))

    assert [documents.get(account.id, r.document_id).content_hash is None for r in records] == [False, True]
    assert backfill.backfill_queue.bodies() == [
        {"type": "hash.documents", "account_id": account.id, "after": records[0].document_id}
    ]


async def test_a_document_whose_object_is_gone_is_skipped_and_the_rest_hashed(backfill, pipeline, store) -> None:
    account = new_account("FREE")
    gone, there = (stored(store, account, content, "text/plain") for content in (b"gone\n", b"there\n"))
    for record in (gone, there):
        await pipeline.handle(completed(record))
        stored_before_content_hashes(record)
    store.delete(gone.object_key)

    await backfill.handle(hash_documents(account.id))

    assert documents.get(account.id, gone.document_id).content_hash is None
    assert documents.get(account.id, there.document_id).content_hash == independent(b"there\n")
