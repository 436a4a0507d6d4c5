"""The change feed: every change of a stored document numbered 1, 2, 3, ... per account, in the
transaction that makes it, with no gap under any interleaving, and nothing when the change fails."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.changes import ChangeKind
from domain.plans import Plan
from models import changes, documents, processing, uploads
from models.base import utcnow
from models.changes import ChangeRow
from models.documents import Document
from models.errors import DocumentNotFound, PathTaken
from tests.conftest import new_account
from tests.conftest import pending_upload as upload
from tests.races import ContextPool, racing


def record(document: Document) -> Document:
    return Document.get(document.owner_id, document.document_id, consistent_read=True)


def counted(document: Document, recorded: list[changes.Change] | None = None) -> Document:
    """The upload completed: PROCESSING, holding 10 bytes, its CREATED change recorded."""
    uploads.count(
        document,
        f"{document.owner_id}/{document.document_id}/n/original",
        10,
        "etag",
        Plan.FREE,
        utcnow(),
        recorded,
    )
    return record(document)


def feed(owner_id: str) -> list[tuple[int, ChangeKind, str, str]]:
    """Every change row of the account (not the head), in order: (sequence, kind, document, path)."""
    return [
        (int(row.sequence), ChangeKind(row.kind), str(row.document_id), str(row.path))
        for row in ChangeRow.query(owner_id, ChangeRow.sequence > 0, consistent_read=True)
    ]


def test_each_change_of_a_stored_document_is_numbered_in_order(target) -> None:
    account = new_account()
    recorded: list[changes.Change] = []
    document = counted(upload(account), recorded)
    updated = documents.update_details(
        account.id, document.document_id, name="b.pdf", tags=None, description=None, recorded=recorded
    )
    assert updated.attribute_values == record(document).attribute_values  # as written: what a read finds
    moved = documents.move(record(document), "/a/b.pdf", recorded=recorded)
    assert documents.delete_stored(record(moved), recorded=recorded) is True

    doc = document.document_id
    assert feed(account.id) == [
        (1, ChangeKind.CREATED, doc, "/report.pdf"),
        (2, ChangeKind.UPDATED, doc, "/report.pdf"),
        (3, ChangeKind.MOVED, doc, "/a/b.pdf"),
        (4, ChangeKind.DELETED, doc, "/a/b.pdf"),
    ]
    assert [(change.sequence, change.kind) for change in recorded] == [
        (1, ChangeKind.CREATED),
        (2, ChangeKind.UPDATED),
        (3, ChangeKind.MOVED),
        (4, ChangeKind.DELETED),
    ]
    assert changes.latest(account.id) == 4
    page, more = changes.page(account.id, 1, 2)
    assert [(change.sequence, change.kind) for change in page] == [(2, ChangeKind.UPDATED), (3, ChangeKind.MOVED)]
    assert more is True
    assert changes.page(account.id, 3, 2) == ([changes.Change.of(ChangeRow.get(account.id, 4))], False)


def test_an_upload_in_progress_is_not_in_the_feed_until_completed(target) -> None:
    account = new_account()
    pending = upload(account)
    documents.update_details(account.id, pending.document_id, name="x.pdf", tags=None, description=None)
    documents.move(record(pending), "/x.pdf")
    assert uploads.reject(record(pending), uploads.TOO_LARGE) is True
    assert feed(account.id) == []
    assert changes.latest(account.id) == 0


def test_a_counted_file_the_pipeline_refuses_is_deleted_from_the_feed(target) -> None:
    account = new_account()
    document = counted(upload(account))
    recorded: list[changes.Change] = []
    assert processing.reject(record(document), processing.WRONG_TYPE, recorded) is True
    assert feed(account.id) == [
        (1, ChangeKind.CREATED, document.document_id, "/report.pdf"),
        (2, ChangeKind.DELETED, document.document_id, "/report.pdf"),
    ]
    assert [change.sequence for change in recorded] == [2]


def test_a_change_that_fails_records_nothing(target) -> None:
    account = new_account()
    first = counted(upload(account, "a.pdf"))
    second = counted(upload(account, "b.pdf"))
    with pytest.raises(PathTaken):
        documents.move(record(second), "/A.pdf")
    assert documents.delete_stored(record(first)) is True
    with pytest.raises(DocumentNotFound):
        documents.update_details(account.id, first.document_id, name="c.pdf", tags=None, description=None)
    assert [row[:2] for row in feed(account.id)] == [
        (1, ChangeKind.CREATED),
        (2, ChangeKind.CREATED),
        (3, ChangeKind.DELETED),
    ]
    assert changes.latest(account.id) == 3


def test_a_change_that_loses_its_number_takes_the_next_one(target) -> None:
    account = new_account()
    first = counted(upload(account, "a.pdf"))
    second = counted(upload(account, "b.pdf"))

    def another_change(_: int) -> None:
        documents.update_details(account.id, second.document_id, name="z.pdf", tags=None, description=None)

    # Between the move's read of the feed's head and its transaction, another change takes the number.
    with racing(account.id, another_change, times=2) as racer:
        moved = documents.move(record(first), "/moved/a.pdf")
    assert racer.requests == 3
    assert moved.path == "/moved/a.pdf"
    assert [row[:3] for row in feed(account.id)] == [
        (1, ChangeKind.CREATED, first.document_id),
        (2, ChangeKind.CREATED, second.document_id),
        (3, ChangeKind.UPDATED, second.document_id),
        (4, ChangeKind.UPDATED, second.document_id),
        (5, ChangeKind.MOVED, first.document_id),
    ]


def test_concurrent_changes_get_every_number_once_with_no_gap(target) -> None:
    account = new_account()
    stored = [counted(upload(account, f"{number}.pdf")) for number in range(4)]
    rounds = 5

    def edit(document: Document) -> None:
        for round_ in range(rounds):
            documents.update_details(
                account.id, document.document_id, name=None, tags=None, description=f"round {round_}"
            )

    with ContextPool(max_workers=4) as pool:
        for future in [pool.submit(edit, document) for document in stored]:
            future.result()

    rows = feed(account.id)
    total = len(stored) + len(stored) * rounds
    assert [row[0] for row in rows] == list(range(1, total + 1))
    updates = [row[2] for row in rows if row[1] is ChangeKind.UPDATED]
    assert sorted(updates) == sorted(document.document_id for document in stored for _ in range(rounds))
    assert changes.latest(account.id) == total


def test_a_position_whose_next_change_is_past_retention_is_expired(target) -> None:
    account = new_account()
    document = counted(upload(account))
    documents.update_details(account.id, document.document_id, name=None, tags=["x"], description=None)
    later = utcnow() + changes.retention() + timedelta(minutes=1)

    with pytest.raises(changes.CursorExpired):
        changes.page(account.id, 1, 10, now=later)
    # From the start, a client gets what is still kept: nothing once everything is past retention.
    assert changes.page(account.id, 0, 10, now=later) == ([], False)
    # At the latest position nothing is missing, however old it is.
    assert changes.page(account.id, 2, 10, now=later) == ([], False)
    with pytest.raises(changes.BeyondLatest):
        changes.page(account.id, 3, 10)


def test_a_change_committed_while_a_page_is_read_is_no_expired_cursor(target) -> None:
    account = new_account()
    document = counted(upload(account))
    client = ChangeRow._get_connection().connection.client
    landed: list[int] = []

    def change_lands(**_: object) -> None:
        if not landed:  # once, right after the page's first Query answered (with nothing after 1)
            landed.append(1)
            documents.update_details(account.id, document.document_id, name=None, tags=["x"], description=None)

    client.meta.events.register("after-call.dynamodb.Query", change_lands)
    try:
        found, more = changes.page(account.id, 1, 10)
    finally:
        client.meta.events.unregister("after-call.dynamodb.Query", change_lands)

    assert landed == [1]
    assert ([(change.sequence, change.kind) for change in found], more) == ([(2, ChangeKind.UPDATED)], False)
