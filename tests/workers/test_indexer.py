"""The indexer's entries: what of a document goes into the search index, by plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.messages import AccountCreated, QueueMessage, UploadCompleted
from domain.documents import DocumentStatus
from domain.plans import Plan
from models.documents import Document
from workers.consumer import UnknownMessage
from workers.indexer import MAX_INDEXED_CHARS, Indexer, entry

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def record() -> Document:
    return Document(
        owner_id="owner",
        document_id="01J0000000000000000000000A",
        name="report.pdf",
        tags=["tax", "2026"],
        description="the yearly report",
        content_type="application/pdf",
        status=DocumentStatus.READY,
        created_at=NOW,
        updated_at=NOW,
    )


def test_premium_entries_carry_the_text_up_to_the_cap() -> None:
    text = "word " * (MAX_INDEXED_CHARS // 5 + 10)

    made = entry(record(), Plan.PREMIUM, text)

    assert made.content == text[:MAX_INDEXED_CHARS]
    assert (made.owner_id, made.name, made.tags, made.description) == (
        "owner",
        "report.pdf",
        ("tax", "2026"),
        "the yearly report",
    )


@pytest.mark.parametrize(("plan", "text"), [(Plan.FREE, "secret words"), (Plan.PREMIUM, None)])
def test_free_entries_and_documents_without_text_carry_none(plan: Plan, text: str | None) -> None:
    assert entry(record(), plan, text).content is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    "message", [AccountCreated(account_id="a"), UploadCompleted(account_id="a", document_id="d")], ids=str
)
async def test_a_message_of_another_queue_is_refused_as_unknown(message: QueueMessage, tmp_path) -> None:
    indexer = Indexer(blocking=None, objects=None, index=None, root=tmp_path)  # type: ignore[arg-type]

    with pytest.raises(UnknownMessage, match=f"the indexer takes no '{message.kind}' message"):
        await indexer.handle(message)
