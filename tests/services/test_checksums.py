"""compareChecksums' use case: every state, the prefix, paths compared ignoring case, the input
rules (every problem at once), the limits, other accounts' documents never seen, and what 10,000
files cost DynamoDB."""

from __future__ import annotations

import contextvars
import hashlib
import types
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from pynamodb.signals import pre_dynamodb_send
from ulid import ULID

from adapters.blocking import Blocking
from domain.checksums import ChecksumState
from domain.documents import DocumentStatus
from models import documents, paths
from models.documents import Document
from models.paths import PathClaim
from services import checksums, validation
from settings import Settings

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class File:
    path: str
    content_hash: str


def record(owner: str, path: str, content_hash: str | None, status: DocumentStatus = DocumentStatus.READY) -> Document:
    document_id = str(ULID())
    name = path.rpartition("/")[2]
    return Document(
        owner_id=owner,
        document_id=document_id,
        name=name,
        name_folded=documents.fold(name),
        name_key=documents.name_key(name, document_id),
        path=path,
        path_key=paths.key(path),
        content_type="text/plain",
        size=11,
        declared_size=11,
        content_hash=content_hash,
        status=status,
        object_key=f"{owner}/{document_id}/n0nce/original",
        created_at=NOW,
        updated_at=NOW,
        updated_key=documents.updated_key(NOW, document_id),
        upload_expires_at=NOW,
    )


def put(*records: Document) -> list[Document]:
    """Store the records and, for those that hold their path, its claim (as uploads.start does)."""
    with Document.batch_write() as batch:
        for item in records:
            batch.save(item)
    with PathClaim.batch_write() as batch:
        for item in records:
            if item.status in paths.CLAIMING:
                batch.save(PathClaim(owner_id=item.owner_id, path_key=item.path_key, document_id=item.document_id))
    return list(records)


def compare(owner: str, files: list[File], prefix: str = "/", **overrides: Any) -> list[tuple[str, str, str | None]]:
    """(path, state, the document's id) of each comparison, in the order answered."""
    services = types.SimpleNamespace(settings=Settings(**overrides), blocking=Blocking(4))
    found = anyio.run(checksums.compare, services, owner, files, prefix)
    return [(item.path, item.state.name, item.document.document_id if item.document else None) for item in found]


def refusal(owner: str, files: list[File], prefix: str = "/", **overrides: Any) -> list[tuple[str, str]]:
    with pytest.raises(validation.InvalidInput) as refused:
        compare(owner, files, prefix, **overrides)
    return [(problem.field, problem.message) for problem in refused.value.problems]


def owner() -> str:
    return str(ULID())


def test_every_state_in_input_order_then_what_the_client_lacks_by_path(target) -> None:
    me = owner()
    same, changed, pending, processing, lacked_b, lacked_a = put(
        record(me, "/same.txt", digest("same")),
        record(me, "/changed.txt", digest("server's")),
        record(me, "/pending.txt", None, DocumentStatus.PENDING_UPLOAD),
        record(me, "/processing.txt", None, DocumentStatus.PROCESSING),
        record(me, "/b.txt", digest("b")),
        record(me, "/a/deep.txt", digest("a")),
    )
    failed = put(record(me, "/failed.txt", digest("failed"), DocumentStatus.FAILED))[0]
    files = [
        File("/changed.txt", digest("client's")),
        File("/new.txt", digest("new")),
        File("/same.txt", digest("same")),
        File("/pending.txt", digest("pending")),
        File("/processing.txt", digest("processing")),
    ]

    assert compare(me, files) == [
        ("/changed.txt", "DIFFERENT", changed.document_id),
        ("/new.txt", "NOT_ON_SERVER", None),
        ("/same.txt", "UNCHANGED", same.document_id),
        ("/pending.txt", "PENDING", pending.document_id),
        ("/processing.txt", "PENDING", processing.document_id),
        ("/a/deep.txt", "NOT_ON_CLIENT", lacked_a.document_id),
        ("/b.txt", "NOT_ON_CLIENT", lacked_b.document_id),
        ("/failed.txt", "NOT_ON_CLIENT", failed.document_id),  # FAILED keeps its bytes and its hash
    ]


def test_the_comparison_answers_the_servers_document_with_its_hash(target) -> None:
    me = owner()
    put(record(me, "/changed.txt", digest("server's")))

    services = types.SimpleNamespace(settings=Settings(), blocking=Blocking(4))
    (found,) = anyio.run(checksums.compare, services, me, [File("/changed.txt", digest("client's"))], "/")

    assert found.state == ChecksumState.DIFFERENT
    assert found.document is not None
    assert (found.document.path, found.document.content_hash) == ("/changed.txt", digest("server's"))


def test_a_document_not_listed_without_a_hash_yet_is_pending(target) -> None:
    me = owner()
    (pending,) = put(record(me, "/uploading.txt", None, DocumentStatus.PENDING_UPLOAD))

    assert compare(me, []) == [("/uploading.txt", "PENDING", pending.document_id)]


def test_paths_match_ignoring_case_and_answer_the_clients_spelling(target) -> None:
    me = owner()
    (report,) = put(record(me, "/Work/Report.PDF", digest("report")))

    assert compare(me, [File("/work/report.pdf", digest("report"))]) == [
        ("/work/report.pdf", "UNCHANGED", report.document_id)
    ]
    assert compare(me, [], "/WORK/") == [("/Work/Report.PDF", "NOT_ON_CLIENT", report.document_id)]


def test_hashes_compare_in_either_case(target) -> None:
    me = owner()
    (same,) = put(record(me, "/same.txt", digest("same")))

    assert compare(me, [File("/same.txt", digest("same").upper())]) == [("/same.txt", "UNCHANGED", same.document_id)]


def test_only_documents_under_the_prefix_are_compared(target) -> None:
    me = owner()
    inside, deeper, _beside, _outside = put(
        record(me, "/a/one.txt", digest("one")),
        record(me, "/a/b/two.txt", digest("two")),
        record(me, "/ab.txt", digest("ab")),
        record(me, "/z/a/three.txt", digest("three")),
    )

    assert compare(me, [File("/a/one.txt", digest("one"))], "/a/") == [
        ("/a/one.txt", "UNCHANGED", inside.document_id),
        ("/a/b/two.txt", "NOT_ON_CLIENT", deeper.document_id),
    ]


def test_rejected_and_cancelled_uploads_are_not_on_the_server(target) -> None:
    me = owner()
    rejected = record(me, "/rejected.txt", None, DocumentStatus.REJECTED)
    cancelled = record(me, "/cancelled.txt", None, DocumentStatus.REJECTED)
    cancelled.failure_reason = documents.CANCELLED
    put(rejected, cancelled)

    assert compare(me, [File("/rejected.txt", digest("x"))]) == [("/rejected.txt", "NOT_ON_SERVER", None)]


def test_another_accounts_documents_are_never_seen(target) -> None:
    me, them = owner(), owner()
    (theirs,) = put(record(them, "/shared/theirs.txt", digest("theirs")))

    assert compare(me, [File("/shared/theirs.txt", digest("theirs"))]) == [
        ("/shared/theirs.txt", "NOT_ON_SERVER", None)
    ]
    assert compare(me, [], "/shared/") == []  # never NOT_ON_CLIENT
    assert compare(them, [], "/shared/") == [("/shared/theirs.txt", "NOT_ON_CLIENT", theirs.document_id)]


def test_every_bad_file_is_named_at_once(target) -> None:
    me = owner()
    files = [
        File("/a/one.txt", digest("one")),
        File("a/two.txt", digest("two")),
        File("/a/ONE.TXT", "not a hash"),
        File("/b/three.txt", digest("three")),
        File("/a/four.txt", digest("four")[:63]),
        File("/a/One.txt", digest("one")),
    ]

    assert refusal(me, files, "/a/") == [
        ("input.files.1.path", "The path must start with /."),
        ("input.files.2.path", "The same path as input.files.0.path (paths compare ignoring case)."),
        (
            "input.files.2.contentHash",
            "A content hash is 64 hexadecimal characters (docstore hash FILE computes it).",
        ),
        ("input.files.3.path", "The path is not under pathPrefix '/a/'."),
        (
            "input.files.4.contentHash",
            "A content hash is 64 hexadecimal characters (docstore hash FILE computes it).",
        ),
        ("input.files.5.path", "The same path as input.files.0.path (paths compare ignoring case)."),
    ]


def test_a_bad_prefix_is_named_with_the_files(target) -> None:
    assert refusal(owner(), [File("/a.txt", "x")], "a//") == [
        ("input.pathPrefix", "The path must start with /."),
        ("input.files.0.contentHash", "A content hash is 64 hexadecimal characters (docstore hash FILE computes it)."),
    ]


def test_more_files_than_the_setting_are_refused_before_any_is_read(target) -> None:
    files = [File(f"/{number}.txt", "bad") for number in range(4)]

    assert refusal(owner(), files, compare_max_files=3) == [
        (
            "input.files",
            "At most 3 files per call (DOCSTORE_COMPARE_MAX_FILES), not 4: compare one folder (pathPrefix) at a time.",
        )
    ]


def test_more_documents_under_the_prefix_than_the_setting_are_refused(target) -> None:
    me = owner()
    put(*(record(me, f"/a/{number}.txt", digest(str(number))) for number in range(4)), record(me, "/b.txt", "0" * 64))

    assert refusal(me, [], "/", compare_max_files=4) == [
        (
            "input.pathPrefix",
            "More than 4 documents are under '/' (DOCSTORE_COMPARE_MAX_FILES): compare its folders one at a time.",
        )
    ]
    assert [state for _, state, _ in compare(me, [], "/a/", compare_max_files=4)] == ["NOT_ON_CLIENT"] * 4


# --- what 10,000 files cost DynamoDB ---------------------------------------------------------

_counting: contextvars.ContextVar[bool] = contextvars.ContextVar("counting_compare", default=False)


class Calls:
    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()

    def __call__(self, _sender: Any, *, operation_name: str, **_: Any) -> None:
        if _counting.get():
            self.operations[operation_name] += 1


def counted(function: Any, *args: Any) -> tuple[Any, dict[str, int]]:
    calls = Calls()
    pre_dynamodb_send.connect(calls)
    token = _counting.set(True)
    try:
        result = function(*args)
    finally:
        _counting.reset(token)
        pre_dynamodb_send.disconnect(calls)
    return result, dict(calls.operations)


def by_claims(owner_id: str, prefix_key: str) -> dict[str, Document]:
    """The other way to read them: the claims under the prefix by key range, then each document."""
    claims = list(PathClaim.query(owner_id, PathClaim.path_key.startswith(prefix_key), consistent_read=True))
    return documents.get_many(owner_id, [claim.document_id for claim in claims])


def test_ten_thousand_files_cost_a_few_queries_of_the_owners_partition(own_tables) -> None:
    me = owner()
    stored = put(
        *(record(me, f"/sync/folder {number % 50}/file {number}.txt", digest(str(number))) for number in range(10_000))
    )
    files = [File(str(item.path), str(item.content_hash)) for item in stored]

    services = types.SimpleNamespace(settings=Settings(), blocking=Blocking(4))
    answer, calls = counted(anyio.run, checksums.compare, services, me, files, "/sync/")
    read, claims_calls = counted(by_claims, me, paths.key("/sync/"))

    assert Counter(item.state for item in answer) == {ChecksumState.UNCHANGED: 10_000}
    assert len(read) == 10_000
    assert calls == {"Query": 7}  # 1 MB a page (moto pages as DynamoDB does)
    assert claims_calls == {"Query": 2, "BatchGetItem": 100}
