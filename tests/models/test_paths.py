"""Paths: unique per account under any interleaving, freed by every way a document lets go of one."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from domain.documents import DocumentStatus
from domain.plans import Plan
from models import accounts, documents, path_backfill, paths, processing, uploads
from models.base import transaction_connection
from models.documents import Document
from models.errors import DocumentNotFound, PathTaken, QuotaExceeded
from models.paths import PathClaim
from tests.conftest import new_account
from tests.conftest import pending_upload as upload
from tests.races import racing


def claims_of(owner_id: str) -> dict[str, str]:
    """Every claim the owner holds: compared path → document id."""
    return {claim.path_key: claim.document_id for claim in PathClaim.query(owner_id, consistent_read=True)}


def record(document: Document) -> Document:
    return Document.get(document.owner_id, document.document_id, consistent_read=True)


def stored(document: Document) -> Document:
    """The upload counted, as completion leaves it: PROCESSING, holding 10 bytes."""
    uploads.count(
        document, f"{document.owner_id}/{document.document_id}/n/original", 10, "etag", Plan.FREE, document.created_at
    )
    return record(document)


# --- the compared form and the numbered copies ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "number", "expected"),
    [
        ("/report.pdf", 1, "/report (1).pdf"),
        ("/a/b/report.tar.gz", 2, "/a/b/report.tar (2).gz"),
        ("/a/README", 3, "/a/README (3)"),
        ("/.bashrc", 1, "/.bashrc (1)"),
        ("/a.b/notes", 1, "/a.b/notes (1)"),
    ],
)
def test_a_numbered_copy_numbers_the_stem_and_keeps_the_extension(path: str, number: int, expected: str) -> None:
    assert paths.numbered(path, number) == expected


def test_paths_compare_ignoring_case_and_unicode_normalisation() -> None:
    assert paths.key("/Café/REPORT.pdf") == paths.key("/cafe\u0301/report.PDF") == "/café/report.pdf"
    assert paths.key("/Straße") == paths.key("/STRASSE")


# --- uploads ----------------------------------------------------------------------------------


def test_an_upload_claims_its_default_path_with_its_record(target) -> None:
    account = new_account()

    document = upload(account, "Report.pdf")

    assert (record(document).path, record(document).path_key) == ("/Report.pdf", "/report.pdf")
    assert claims_of(account.id) == {"/report.pdf": document.document_id}


def test_uploads_to_a_taken_path_are_numbered_dropbox_style(target) -> None:
    account = new_account()

    first = upload(account, path="/a/report.pdf")
    second = upload(account, path="/a/REPORT.pdf")  # the same place, ignoring case
    third = upload(account, path="/a/report.pdf")

    assert [record(d).path for d in (first, second, third)] == [
        "/a/report.pdf",
        "/a/REPORT (1).pdf",
        "/a/report (2).pdf",
    ]
    assert claims_of(account.id) == {
        "/a/report.pdf": first.document_id,
        "/a/report (1).pdf": second.document_id,
        "/a/report (2).pdf": third.document_id,
    }


def test_the_first_free_number_is_taken_again_once_freed(target) -> None:
    account = new_account()
    upload(account)
    one = upload(account)
    upload(account)
    assert uploads.reject(one, uploads.MISSING_OBJECT)

    again = upload(account)

    assert record(again).path == "/report (1).pdf"


def test_concurrent_uploads_to_one_path_all_end_on_distinct_paths(target) -> None:
    account = new_account()

    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda _: upload(account, path="/inbox/scan.png"), range(8)))

    placed = sorted(record(document).path for document in made)
    assert placed == ["/inbox/scan (1).png", *(f"/inbox/scan ({n}).png" for n in range(2, 8)), "/inbox/scan.png"]
    assert sorted(claims_of(account.id).values()) == sorted(document.document_id for document in made)


class Calls:
    """The DynamoDB requests this thread sends, by operation, through every connection the models use."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)


@pytest.fixture
def dynamodb_calls(target):
    calls = Calls()
    models = (accounts.Account, Document, PathClaim)
    clients = {transaction_connection().client, *(model._get_connection().connection.client for model in models)}
    for client in clients:
        client.meta.events.register("before-call.dynamodb", calls)
    yield calls
    for client in clients:
        client.meta.events.unregister("before-call.dynamodb", calls)


def test_an_upload_to_a_free_path_costs_one_transaction(target, dynamodb_calls) -> None:
    account = new_account()
    dynamodb_calls.names.clear()

    upload(account, path="/free/one.pdf")

    assert dynamodb_calls.names == ["TransactWriteItems"]


def test_an_upload_to_a_taken_path_costs_a_query_and_a_second_transaction(target, dynamodb_calls) -> None:
    account = new_account()
    upload(account, path="/taken.pdf")
    dynamodb_calls.names.clear()

    upload(account, path="/taken.pdf")

    assert dynamodb_calls.names == ["TransactWriteItems", "Query", "TransactWriteItems"]


def test_an_upload_over_quota_claims_no_path(target) -> None:
    account = new_account()
    accounts.Account(id=account.id).update(actions=[accounts.Account.over_quota.set(True)])
    with pytest.raises(QuotaExceeded):
        upload(account, path="/refused.pdf")

    assert claims_of(account.id) == {}
    assert list(Document.query(account.id)) == []


# --- what frees a path ------------------------------------------------------------------------


def test_a_rejected_upload_frees_its_path_and_keeps_showing_it(target) -> None:
    account = new_account()
    document = upload(account)

    assert uploads.reject(document, uploads.TOO_LARGE)

    assert claims_of(account.id) == {}
    assert (record(document).status, record(document).path) == (DocumentStatus.REJECTED, "/report.pdf")


def test_a_rejection_of_an_upload_moved_meanwhile_frees_where_it_is_now(target) -> None:
    account = new_account()
    document = upload(account)  # read here, at /report.pdf
    documents.move(record(document), "/moved.pdf")

    assert uploads.reject(document, uploads.MISSING_OBJECT)

    assert claims_of(account.id) == {}
    assert record(document).status == DocumentStatus.REJECTED


def test_deleting_a_stored_document_frees_its_path(target) -> None:
    account = new_account()
    document = stored(upload(account))

    assert documents.delete_stored(document)

    assert claims_of(account.id) == {}
    assert record(upload(account)).path == "/report.pdf"


def test_a_delete_racing_a_move_frees_the_path_the_document_moved_to(target) -> None:
    account = new_account()
    document = stored(upload(account))  # read at /report.pdf

    with racing(account.id, lambda _: documents.move(record(document), "/elsewhere.pdf"), times=1):
        assert documents.delete_stored(document)

    assert claims_of(account.id) == {}


def test_the_pipeline_rejecting_a_file_frees_its_path(target) -> None:
    account = new_account()
    document = stored(upload(account))

    assert processing.reject(document, "WRONG_TYPE")

    assert claims_of(account.id) == {}


# --- moves ------------------------------------------------------------------------------------


def test_a_move_moves_the_claim_with_the_record(target) -> None:
    account = new_account()
    document = upload(account)

    moved = documents.move(record(document), "/Archive/2024/report.pdf")

    assert (moved.path, record(document).path, record(document).name) == (
        "/Archive/2024/report.pdf",
        "/Archive/2024/report.pdf",
        "report.pdf",
    )
    assert claims_of(account.id) == {"/archive/2024/report.pdf": document.document_id}


def test_a_move_to_a_taken_path_changes_nothing(target) -> None:
    account = new_account()
    mine = upload(account, path="/mine.pdf")
    theirs = upload(account, path="/theirs.pdf")
    before = record(mine).attribute_values

    with pytest.raises(PathTaken):
        documents.move(record(mine), "/THEIRS.pdf")

    assert record(mine).attribute_values == before
    assert claims_of(account.id) == {"/mine.pdf": mine.document_id, "/theirs.pdf": theirs.document_id}


def test_a_move_to_another_spelling_of_its_path_keeps_its_claim(target) -> None:
    account = new_account()
    document = upload(account)

    moved = documents.move(record(document), "/REPORT.pdf")

    assert moved.path == record(document).path == "/REPORT.pdf"
    assert claims_of(account.id) == {"/report.pdf": document.document_id}


def test_a_move_racing_an_upload_to_the_same_path_never_puts_two_documents_there(target) -> None:
    account = new_account()
    document = upload(account, path="/draft.pdf")
    raced: list[Document] = []

    def upload_there(_: int) -> None:  # lands between the move's read and its transaction
        raced.append(upload(account, path="/final.pdf"))

    with racing(account.id, upload_there, times=1), pytest.raises(PathTaken):
        documents.move(record(document), "/final.pdf")

    assert record(document).path == "/draft.pdf"
    assert claims_of(account.id) == {"/draft.pdf": document.document_id, "/final.pdf": raced[0].document_id}


def test_an_upload_racing_a_move_to_its_path_is_numbered(target) -> None:
    account = new_account()
    document = upload(account, path="/draft.pdf")

    def move_there(_: int) -> None:  # lands just before the upload's transaction
        documents.move(record(document), "/final.pdf")

    with racing(account.id, move_there, times=1):
        raced = upload(account, path="/final.pdf")

    assert record(raced).path == "/final (1).pdf"
    assert claims_of(account.id) == {"/final.pdf": document.document_id, "/final (1).pdf": raced.document_id}


def test_a_rejected_upload_cannot_be_moved(target) -> None:
    account = new_account()
    document = upload(account)
    uploads.reject(document, uploads.MISSING_OBJECT)

    with pytest.raises(DocumentNotFound):
        documents.move(record(document), "/new.pdf")

    assert claims_of(account.id) == {}
    assert record(document).path == "/report.pdf"


# --- records from before paths ----------------------------------------------------------------


def legacy(document: Document) -> Document:
    """The record as a DocStore before paths wrote it: no path, and no claim."""
    Document(owner_id=document.owner_id, document_id=document.document_id).update(
        actions=[Document.path.remove(), Document.path_key.remove()]
    )
    PathClaim(owner_id=document.owner_id, path_key=str(document.path_key)).delete()
    return record(document)


def test_the_backfill_gives_old_records_unique_paths_oldest_first(target) -> None:
    account = new_account()
    oldest = legacy(upload(account, "Report.pdf", path="/x1"))
    newer = legacy(upload(account, "report.pdf", path="/x2"))
    rejected = upload(account, "report.pdf", path="/x3")
    uploads.reject(rejected, uploads.MISSING_OBJECT)
    rejected = legacy(rejected)
    assert record(oldest).path is None
    new = upload(account)  # an upload after the upgrade, before the backfill: it claims /report.pdf

    placed = path_backfill.backfill(path_backfill.without_path())

    assert placed >= 3  # other tests' records may be among them
    assert [record(d).path for d in (oldest, newer, rejected, new)] == [
        "/Report (1).pdf",
        "/report (2).pdf",
        "/report.pdf",  # shown where it was, holding nothing
        "/report.pdf",
    ]
    assert claims_of(account.id) == {
        "/report.pdf": new.document_id,
        "/report (1).pdf": oldest.document_id,
        "/report (2).pdf": newer.document_id,
    }
    assert path_backfill.backfill([record(oldest), record(newer)]) == 0  # a second run changes nothing
    assert claims_of(account.id)["/report (1).pdf"] == oldest.document_id


def test_a_restore_claims_the_paths_its_records_name_again(target) -> None:
    account = new_account()
    document = upload(account, path="/kept/where.pdf")
    PathClaim(owner_id=account.id, path_key="/kept/where.pdf").delete()  # a backup holds no claims

    assert path_backfill.backfill([record(document)]) == 1
    assert path_backfill.backfill([record(document)]) == 0  # over what it restored before

    assert claims_of(account.id) == {"/kept/where.pdf": document.document_id}
    assert record(document).path == "/kept/where.pdf"


def test_the_backfill_runs_once_per_deployment(target) -> None:
    assert path_backfill.once() is None  # the session's provisioning ran it
    assert paths.holder(*path_backfill.DONE) == "done"


def test_claims_are_kept_apart_per_account(target) -> None:
    one, two = new_account(), new_account()

    mine, theirs = upload(one), upload(two)

    assert record(mine).path == record(theirs).path == "/report.pdf"
    assert claims_of(one.id) == {"/report.pdf": mine.document_id}
    assert claims_of(two.id) == {"/report.pdf": theirs.document_id}
