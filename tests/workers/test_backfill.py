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
from adapters.messages import PlanChanged, QueueMessage, new_key
from adapters.metrics import Metrics
from domain.plans import Plan
from models import documents, keys
from models.accounts import Account
from tests.conftest import objects_under
from tests.workers import files
from tests.workers.test_pipeline import completed, new_account, stored
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


async def test_upgrade_gives_an_earlier_document_its_text(backfill, pipeline, metrics, index_queue, store, tmp_path):
    pdf = files.pdf_file(tmp_path / "a.pdf", "Earlier words", "More earlier words").read_bytes()
    account, record = await ready_on_free_then_premium(pipeline, store, pdf, "application/pdf")

    await backfill.handle(PlanChanged(account_id=account.id, key=new_key()))

    final = documents.get(account.id, record.document_id)
    key = keys.text(account.id, record.document_id)
    assert (final.status, final.text_key, final.pages) == ("READY", key, 2)
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

    await backfill.handle(PlanChanged(account_id=account.id, key=new_key()))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.text_key, final.pages, final.failure_reason) == ("READY", None, None, None)
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
