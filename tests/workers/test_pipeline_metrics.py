"""What the pipeline counts: extraction durations and failures, finished documents (the pipeline
as production wires it, real sandbox, moto's AWS; a fresh Metrics per test, so the counts are
exactly this test's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.metrics import Metrics
from models import documents
from tests.workers import files
from tests.workers.test_pipeline import completed, new_account, stored

pytestmark = pytest.mark.anyio


@pytest.fixture
def metrics(wired) -> Metrics:
    return wired.metrics


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_an_extraction_is_timed_and_its_document_counted_ready(pipeline, metrics, store, tmp_path: Path) -> None:
    account = new_account("PREMIUM")
    pdf = files.pdf_file(tmp_path / "a.pdf", "Some words").read_bytes()
    record = stored(store, account, pdf, "application/pdf")

    await pipeline.handle(completed(record))

    assert documents.get(account.id, record.document_id).status == "READY"
    assert value(metrics, "docstore_extraction_seconds_count", content_type="application/pdf") == 1
    assert value(metrics, "docstore_extraction_seconds_sum", content_type="application/pdf") > 0
    assert value(metrics, "docstore_documents_processed_total", outcome="ready") == 1
    assert value(metrics, "docstore_documents_processed_total", outcome="failed") is None
    assert value(metrics, "docstore_extraction_failures_total", reason="ENCRYPTED") is None


async def test_a_failed_extraction_is_counted_by_its_reason_class(pipeline, metrics, store, tmp_path: Path) -> None:
    account = new_account("PREMIUM")
    locked = files.encrypted_pdf(tmp_path / "locked.pdf", user_password="secret").read_bytes()
    record = stored(store, account, locked, "application/pdf")

    await pipeline.handle(completed(record))
    await pipeline.handle(completed(record))  # a redelivery neither extracts nor counts again

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.failure_reason) == ("FAILED", "the PDF needs a password")
    assert value(metrics, "docstore_extraction_failures_total", reason="ENCRYPTED") == 1
    assert value(metrics, "docstore_extraction_seconds_count", content_type="application/pdf") == 1
    assert value(metrics, "docstore_documents_processed_total", outcome="failed") == 1
    assert value(metrics, "docstore_documents_processed_total", outcome="ready") is None


async def test_a_free_document_is_counted_without_an_extraction(pipeline, metrics, store) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"plain words\n", "text/plain")

    await pipeline.handle(completed(record))

    assert value(metrics, "docstore_documents_processed_total", outcome="ready") == 1
    assert value(metrics, "docstore_extraction_seconds_count", content_type="text/plain") is None


async def test_bytes_of_no_stored_type_count_as_rejected(pipeline, metrics, store) -> None:
    account = new_account("FREE")
    record = stored(store, account, b"\x7fELF\x02\x01\x01" + bytes(200), "application/pdf", name="x.pdf")

    await pipeline.handle(completed(record))

    assert value(metrics, "docstore_documents_processed_total", outcome="rejected") == 1
