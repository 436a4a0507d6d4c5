"""Completing and aborting a multipart upload: S3 assembles the parts once they are checked
against what S3 holds; whatever fails is rejected with nothing left behind."""

from __future__ import annotations

import hashlib
import os

import pytest
from ulid import ULID

from domain.plans import GIB
from models import accounts, documents, keys, uploads
from models.errors import DocumentNotFound, UploadCompleted, UploadRejected
from services import uploads as upload_files
from tests import plain_http
from tests.conftest import documents_of, objects_under

MIB = 1024**2
PART = 5 * MIB  # S3's smallest part but the last


def started(store, size: int, part_size: int = PART) -> tuple[accounts.Account, uploads.Document]:
    """A new account with a multipart upload of ``size`` bytes in progress, as
    ``requestMultipartUpload`` starts one."""
    account = accounts.create(
        email=f"multipart-{ULID()}@example.com".lower(), password_hash="x", plan="FREE", home_region="us-west-2"
    )
    document_id = str(ULID())
    key = keys.original(account.id, document_id, keys.nonce())
    upload_id = store.start_multipart(key, content_type="application/zip")
    document = uploads.start(
        account,
        document_id=document_id,
        name="big.zip",
        content_type="application/zip",
        size=size,
        tags=[],
        description="",
        form_seconds=24 * 3600,
        sweep_grace_seconds=30,
        multipart=uploads.Multipart(object_key=key, upload_id=upload_id, part_size=part_size),
    )
    return account, document


def part_url(store, document, number: int) -> str:
    """Part ``number``'s URL, signed as ``signUploadParts`` signs it: for its own length."""
    size = upload_files.part_length(document, number)
    return store.part_url(document.object_key, document.upload_id, number, size=size, expires_in=60)


def put_part(store, document, number: int, content: bytes) -> str:
    """PUT one part to its signed URL, as a client does; the ETag S3 answered. The embedded S3
    checks no signature, so a part of another length than signed is taken here (real S3 refuses
    it): what completion's check of the parts is there for."""
    url = part_url(store, document, number)
    response = plain_http.put(url, content=content, timeout=60)
    assert response.status_code == 200, response.text
    return response.headers["ETag"].strip('"')


def open_uploads(store, account_id: str) -> list[str]:
    listed = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=f"{account_id}/")
    return [upload["Key"] for upload in listed.get("Uploads", [])]


def held(account_id: str) -> tuple[int, int, int, int]:
    fresh = accounts.get(account_id)
    return int(fresh.used_bytes), int(fresh.reserved_bytes), int(fresh.allocated_bytes), int(fresh.document_count)


def assert_rejected_leaving_nothing(store, account, document, reason: str) -> None:
    """Rejected for ``reason``: nothing counted or reserved, no object, no upload open in S3; the
    record says why (and is REJECTED, as completeUpload's rejections are)."""
    assert held(account.id) == (0, 0, 0, 0)
    assert objects_under(store, account.id) == []
    assert open_uploads(store, account.id) == []
    (record,) = documents_of(account.id)
    assert (record.status, record.failure_reason) == ("REJECTED", reason)
    with pytest.raises(UploadRejected) as again:  # a later completion hears the same reason
        upload_files.complete(store, account.id, document.document_id, parts=[(1, "x")])
    assert again.value.reason == reason


FIRST = os.urandom(PART)
LAST = os.urandom(1000)


def test_parts_are_assembled_by_s3_at_the_documents_key_and_counted_once(target, store) -> None:
    account, document = started(store, PART + len(LAST))
    parts = [(1, put_part(store, document, 1, FIRST)), (2, put_part(store, document, 2, LAST))]
    assert held(account.id) == (0, PART + 1000, PART + 1000, 0)

    record = upload_files.complete(store, account.id, document.document_id, parts=parts)

    assert (record.status, record.size, record.object_key) == ("PROCESSING", PART + 1000, document.object_key)
    body = store.client.get_object(Bucket=store.bucket, Key=record.object_key)["Body"].read()
    assert body == FIRST + LAST
    digests = hashlib.md5(hashlib.md5(FIRST).digest() + hashlib.md5(LAST).digest()).hexdigest()
    assert record.checksum == f"{digests}-2"  # S3's multipart ETag
    assert held(account.id) == (PART + 1000, 0, PART + 1000, 1)
    assert open_uploads(store, account.id) == []
    assert [item["Key"] for item in objects_under(store, account.id)] == [record.object_key]


def test_completing_twice_answers_the_same_document_and_counts_once(target, store) -> None:
    account, document = started(store, 1000)
    parts = [(1, put_part(store, document, 1, LAST))]
    first = upload_files.complete(store, account.id, document.document_id, parts=parts)

    second = upload_files.complete(store, account.id, document.document_id, parts=parts)

    same = ("document_id", "object_key", "size", "checksum", "created_at")
    assert [getattr(second, name) for name in same] == [getattr(first, name) for name in same]
    assert held(account.id) == (1000, 0, 1000, 1)


def test_a_part_url_used_again_after_completion_changes_nothing(target, store) -> None:
    account, document = started(store, 1000)
    url = part_url(store, document, 1)
    etag = plain_http.put(url, content=LAST).headers["ETag"].strip('"')
    record = upload_files.complete(store, account.id, document.document_id, parts=[(1, etag)])

    again = plain_http.put(url, content=b"z" * 1000)

    assert (again.status_code, b"<Code>NoSuchUpload</Code>" in again.content) == (404, True)
    assert store.client.get_object(Bucket=store.bucket, Key=record.object_key)["Body"].read() == LAST
    assert open_uploads(store, account.id) == []


def test_a_part_larger_than_declared_is_rejected_and_nothing_is_left(target, store) -> None:
    account, document = started(store, PART + 1000)  # two parts: 5 MiB and 1,000 bytes
    parts = [(1, put_part(store, document, 1, FIRST)), (2, put_part(store, document, 2, LAST + b"!"))]

    with pytest.raises(UploadRejected) as refused:
        upload_files.complete(store, account.id, document.document_id, parts=parts)

    assert refused.value.reason == uploads.TOO_LARGE
    assert_rejected_leaving_nothing(store, account, document, uploads.TOO_LARGE)


def test_a_first_part_larger_than_the_part_size_is_rejected(target, store) -> None:
    account, document = started(store, PART + 1000)
    parts = [(1, put_part(store, document, 1, FIRST + b"!")), (2, put_part(store, document, 2, LAST[:999]))]

    with pytest.raises(UploadRejected) as refused:
        upload_files.complete(store, account.id, document.document_id, parts=parts)

    assert refused.value.reason == uploads.TOO_LARGE
    assert_rejected_leaving_nothing(store, account, document, uploads.TOO_LARGE)


def test_a_part_smaller_than_its_share_is_rejected(target, store) -> None:
    account, document = started(store, 2000)
    parts = [(1, put_part(store, document, 1, LAST))]

    with pytest.raises(UploadRejected) as refused:
        upload_files.complete(store, account.id, document.document_id, parts=parts)

    assert refused.value.reason == uploads.PARTS_MISMATCH
    assert_rejected_leaving_nothing(store, account, document, uploads.PARTS_MISMATCH)


@pytest.mark.parametrize(
    "named",
    [
        pytest.param(lambda etags: [(1, etags[1])], id="a part missing"),
        pytest.param(lambda etags: [(1, etags[1]), (2, etags[1])], id="a wrong etag"),
    ],
)
def test_parts_that_are_not_the_uploads_are_rejected(target, store, named) -> None:
    account, document = started(store, PART + 1000)
    etags = {1: put_part(store, document, 1, FIRST), 2: put_part(store, document, 2, LAST)}

    with pytest.raises(UploadRejected) as refused:
        upload_files.complete(store, account.id, document.document_id, parts=named(etags))

    assert refused.value.reason == uploads.PARTS_MISMATCH
    assert_rejected_leaving_nothing(store, account, document, uploads.PARTS_MISMATCH)


def test_a_part_named_that_was_never_put_is_rejected(target, store) -> None:
    account, document = started(store, PART + 1000)
    first = put_part(store, document, 1, FIRST)

    with pytest.raises(UploadRejected) as refused:
        upload_files.complete(store, account.id, document.document_id, parts=[(1, first), (2, "0" * 32)])

    assert refused.value.reason == uploads.PARTS_MISMATCH
    assert_rejected_leaving_nothing(store, account, document, uploads.PARTS_MISMATCH)


def test_abort_releases_the_reservation_and_leaves_nothing(target, store) -> None:
    account, document = started(store, PART + 1000)
    url = part_url(store, document, 1)
    plain_http.put(url, content=FIRST)

    freed = upload_files.abort(store, account.id, document.document_id)

    assert freed == PART + 1000
    assert held(account.id) == (0, 0, 0, 0)
    assert open_uploads(store, account.id) == []
    assert objects_under(store, account.id) == []
    assert documents_of(account.id) == []
    assert plain_http.put(url, content=FIRST).status_code == 404  # the part URL is dead


def test_completing_or_aborting_after_an_abort_is_not_found(target, store) -> None:
    account, document = started(store, 1000)
    etag = put_part(store, document, 1, LAST)
    upload_files.abort(store, account.id, document.document_id)

    with pytest.raises(DocumentNotFound):
        upload_files.complete(store, account.id, document.document_id, parts=[(1, etag)])
    with pytest.raises(DocumentNotFound):
        upload_files.abort(store, account.id, document.document_id)

    assert (held(account.id), documents_of(account.id), objects_under(store, account.id)) == ((0, 0, 0, 0), [], [])


def test_aborting_a_completed_upload_says_so_and_changes_nothing(target, store) -> None:
    account, document = started(store, 1000)
    record = upload_files.complete(
        store, account.id, document.document_id, parts=[(1, put_part(store, document, 1, LAST))]
    )

    with pytest.raises(UploadCompleted) as completed:
        upload_files.abort(store, account.id, document.document_id)

    assert completed.value.document_id == document.document_id
    assert completed.value.status in {"PROCESSING", "READY"}
    now = documents.get(account.id, document.document_id)
    same = ("object_key", "size", "checksum", "failure_reason")
    assert [getattr(now, name) for name in same] == [getattr(record, name) for name in same]
    assert now.status in {"PROCESSING", "READY"}  # the pipeline may have taken it on
    assert held(account.id) == (1000, 0, 1000, 1)
    assert [item["Key"] for item in objects_under(store, account.id)] == [record.object_key]


def test_a_forms_upload_and_a_multipart_one_complete_only_their_own_way(target, store) -> None:
    account, document = started(store, 1000)

    with pytest.raises(DocumentNotFound):
        upload_files.complete(store, account.id, document.document_id)  # completeUpload's way
    with pytest.raises(DocumentNotFound):
        upload_files.abort(store, "someone-else", document.document_id)

    assert documents.get(account.id, document.document_id).status == "PENDING_UPLOAD"
    assert held(account.id) == (0, 1000, 1000, 0)
    upload_files.abort(store, account.id, document.document_id)


def test_multipart_upload_may_pass_the_single_post_limit_up_to_the_quota(target, store) -> None:
    account, document = started(store, 5 * GIB - 1, part_size=16 * MIB)

    assert held(account.id) == (0, 5 * GIB - 1, 5 * GIB - 1, 0)
    assert upload_files.part_count(document) == 320
    upload_files.abort(store, account.id, document.document_id)
    assert held(account.id) == (0, 0, 0, 0)


class AbortedMeanwhile:
    """The session's S3, where the owner aborts the upload (``then``) right after ``after``, one
    step of a completion: ``list_parts`` (before S3 assembles) or ``complete_multipart`` (after)."""

    def __init__(self, store, after: str, then) -> None:
        self.store = store
        self.after = after
        self.then = then

    def __getattr__(self, name: str):
        method = getattr(self.store, name)
        if name != self.after:
            return method

        def step(*args, **kwargs):
            answer = method(*args, **kwargs)
            then, self.then = self.then, None
            if then is not None:
                then()
            return answer

        return step


@pytest.mark.parametrize("after", ["list_parts", "complete_multipart"])
def test_a_completion_racing_an_abort_leaves_nothing(target, store, after: str) -> None:
    account, document = started(store, 1000)
    parts = [(1, put_part(store, document, 1, LAST))]
    aborted: list[int] = []

    def abort() -> None:
        aborted.append(upload_files.abort(store, account.id, document.document_id))

    with pytest.raises(DocumentNotFound):  # the abort won: the upload is gone
        upload_files.complete(AbortedMeanwhile(store, after, abort), account.id, document.document_id, parts=parts)

    assert aborted == [1000]
    assert (held(account.id), documents_of(account.id)) == ((0, 0, 0, 0), [])
    assert (objects_under(store, account.id), open_uploads(store, account.id)) == ([], [])


def test_two_completions_racing_count_once_and_keep_the_object(target, store) -> None:
    account, document = started(store, PART + 1000)
    parts = [(1, put_part(store, document, 1, FIRST)), (2, put_part(store, document, 2, LAST))]
    other: list[uploads.Document] = []

    def complete_too() -> None:  # after the first completion's ListParts, before it assembles
        other.append(upload_files.complete(store, account.id, document.document_id, parts=parts))

    first = upload_files.complete(
        AbortedMeanwhile(store, "list_parts", complete_too), account.id, document.document_id, parts=parts
    )

    same = ("document_id", "object_key", "size", "checksum", "created_at")
    assert [getattr(first, name) for name in same] == [getattr(other[0], name) for name in same]
    assert held(account.id) == (PART + 1000, 0, PART + 1000, 1)
    assert [item["Key"] for item in objects_under(store, account.id)] == [first.object_key]
    body = store.client.get_object(Bucket=store.bucket, Key=first.object_key)["Body"].read()
    assert body == FIRST + LAST
