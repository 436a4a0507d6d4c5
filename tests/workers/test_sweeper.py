"""The sweeper settles upload forms that expired without completeUpload."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import anyio
import pytest

from adapters.blocking import Blocking
from models import accounts, documents, keys, uploads
from models.base import utcnow
from tests import plain_http
from tests.client import Api, User, post_form
from tests.conftest import documents_of, objects_under, staged
from workers import sweeper

LATER = timedelta(seconds=90 + 30 + 5)


def sweep(store, when) -> Counter[str]:
    async def run() -> Counter[str]:
        return await sweeper.sweep_once(Blocking(4), store, now=when)

    return anyio.run(run)


@pytest.fixture
def clean_sweep(store) -> None:
    """Settle what earlier tests left due, so each test sees only its own uploads."""
    sweep(store, utcnow() + LATER)


def test_form_with_its_file_but_never_completed_is_completed(api: Api, user: User, store, clean_sweep) -> None:
    form = api.request_upload(user)
    post_form(form, b"hello world")

    assert sweep(store, utcnow()) == Counter()
    outcomes = sweep(store, utcnow() + LATER)

    assert outcomes == Counter({"completed": 1})
    record = documents.get(user.id, form["documentId"])
    assert (record.status, record.size, record.sweep_at) == ("PROCESSING", 11, None)
    assert [item["Key"] for item in objects_under(store, user.id)] == [record.object_key]
    assert staged(store, user.id) == {}  # copied, and the form has expired
    assert api.usage(user)["usedBytes"] == 11
    assert api.usage(user)["reservedBytes"] == 0


def test_form_that_never_got_a_file_releases_its_reservation(api: Api, user: User, store, clean_sweep) -> None:
    form = api.request_upload(user, size=999)

    outcomes = sweep(store, utcnow() + LATER)

    # Rejected, then (the form having expired) checked for a late object and closed.
    assert outcomes == Counter({"rejected": 1, "closed": 1})
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": 5 * 1024**3, "documentCount": 0}
    record = documents.get(user.id, form["documentId"])
    assert (record.status, record.failure_reason, record.sweep_at) == ("REJECTED", "MISSING_OBJECT", None)
    assert sweep(store, utcnow() + LATER) == Counter()


def test_file_arriving_after_a_rejection_is_deleted_once_the_form_expires(
    api: Api, user: User, store, clean_sweep
) -> None:
    form = api.request_upload(user)
    assert api.complete(user, form["documentId"])["reason"] == "MISSING_OBJECT"
    post_form(form, b"hello world")  # still within the form's 90 seconds
    assert staged(store, user.id) == {form["documentId"]: b"hello world"}

    outcomes = sweep(store, utcnow() + LATER)

    assert outcomes == Counter({"closed": 1})
    assert objects_under(store, user.id) == []
    assert staged(store, user.id) == {}
    assert accounts.get(user.id).used_bytes == 0


def test_cancelled_upload_is_forgotten_after_its_form_expires(api: Api, user: User, store, clean_sweep) -> None:
    form = api.request_upload(user, size=11)
    api.data("DeleteDocument", {"input": {"id": form["documentId"]}}, user.token)
    post_form(form, b"hello world")

    outcomes = sweep(store, utcnow() + LATER)

    assert outcomes == Counter({"cancelled": 1})
    assert documents_of(user.id) == []
    assert objects_under(store, user.id) == []
    assert staged(store, user.id) == {}
    assert api.usage(user)["reservedBytes"] == 0


def test_due_uploads_are_found_through_the_index_only_after_expiry(api: Api, user: User, clean_sweep) -> None:
    form = api.request_upload(user)
    key = (user.id, form["documentId"])

    assert key not in uploads.due_for_sweep(utcnow())
    assert key in uploads.due_for_sweep(utcnow() + LATER)


def test_copy_left_by_a_completion_that_stopped_before_counting_goes_with_the_rejection(
    api: Api, user: User, store, clean_sweep
) -> None:
    form = api.request_upload(user, size=11)
    post_form(form, b"hello world")
    # A completion copied the file, then its process died before the count; then the owner cancelled.
    leftover = keys.original(user.id, form["documentId"], keys.nonce())
    store.copy(keys.staging(user.id, form["documentId"]), leftover)
    api.data("DeleteDocument", {"input": {"id": form["documentId"]}}, user.token)

    outcomes = sweep(store, utcnow() + LATER)

    assert outcomes == Counter({"cancelled": 1})
    assert objects_under(store, user.id) == []
    assert staged(store, user.id) == {}
    assert documents_of(user.id) == []
    assert api.usage(user)["reservedBytes"] == 0


def expire(store, when) -> int:
    return anyio.run(sweeper.expire_staging, Blocking(4), store, 1, when)


def test_staging_objects_older_than_the_setting_are_deleted_and_nothing_else(
    api: Api, user: User, store, clean_sweep
) -> None:
    kept = api.request_upload(user, size=11)
    post_form(kept, b"hello world")
    stored = api.complete(user, kept["documentId"])
    posted = api.request_upload(user, size=5)
    post_form(posted, b"later")
    record = documents.get(user.id, stored["id"])

    assert expire(store, utcnow()) == 0  # nothing in this session is a day old
    assert staged(store, user.id) == {kept["documentId"]: b"hello world", posted["documentId"]: b"later"}

    expire(store, utcnow() + timedelta(days=1, seconds=5))

    assert staged(store, user.id) == {}
    assert [item["Key"] for item in objects_under(store, user.id)] == [record.object_key]


DAY_LATER = timedelta(days=1, seconds=30 + 5)  # DOCSTORE_MULTIPART_UPLOAD_SECONDS and the grace


@pytest.fixture
def clean_day_sweep(store) -> None:
    """Settle what earlier tests left due within a day (their multipart uploads too)."""
    sweep(store, utcnow() + DAY_LATER)


def test_multipart_upload_left_incomplete_for_a_day_is_aborted_and_its_reservation_freed(
    api: Api, user: User, store, clean_day_sweep
) -> None:
    started = api.data(
        "RequestMultipartUpload",
        {"input": {"filename": "big.bin", "contentType": "application/zip", "size": 1000}},
        user.token,
    )["requestMultipartUpload"]
    signed = api.data(
        "SignUploadParts", {"input": {"documentId": started["documentId"], "partNumbers": [1]}}, user.token
    )["signUploadParts"]
    url = signed["parts"][0]["url"]
    assert plain_http.put(url, content=b"x" * 1000).status_code == 200
    record = documents.get(user.id, started["documentId"])

    assert sweep(store, utcnow() + LATER) == Counter()  # a form's time is not a multipart upload's
    outcomes = sweep(store, utcnow() + DAY_LATER)

    # Aborted (S3's upload and the reservation), then out of the sweep index.
    assert outcomes == Counter({"rejected": 1, "closed": 1})
    settled = documents.get(user.id, started["documentId"])
    assert (settled.status, settled.failure_reason, settled.sweep_at) == ("REJECTED", "EXPIRED", None)
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": 5 * 1024**3, "documentCount": 0}
    listed = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=f"{user.id}/")
    assert listed.get("Uploads", []) == []
    assert objects_under(store, user.id) == []
    assert plain_http.put(url, content=b"x" * 1000).status_code == 404
    completed = api.data(
        "CompleteMultipartUpload",
        {"input": {"documentId": started["documentId"], "parts": [{"number": 1, "etag": "0" * 32}]}},
        user.token,
    )["completeMultipartUpload"]
    assert (completed["__typename"], completed["reason"]) == ("UploadRejectedError", "EXPIRED")
    assert record.upload_expires_at - record.created_at == timedelta(days=1)


def test_multipart_version_upload_left_incomplete_for_a_day_is_aborted_and_the_document_kept_as_it_was(
    api: Api, user: User, store, clean_day_sweep
) -> None:
    from models.version_uploads import VersionUpload

    first = api.upload(user, b"hello world", filename="notes.txt", contentType="text/plain")
    assert first["status"] == "READY"
    original = documents.get(user.id, first["id"]).object_key
    started = api.data(
        "RequestMultipartUpload",
        {
            "input": {
                "filename": "notes.txt",
                "contentType": "text/plain",
                "size": 1000,
                "path": "/notes.txt",
                "mode": "OVERWRITE",
            }
        },
        user.token,
    )["requestMultipartUpload"]
    signed = api.data(
        "SignUploadParts", {"input": {"documentId": started["documentId"], "partNumbers": [1]}}, user.token
    )["signUploadParts"]
    assert plain_http.put(signed["parts"][0]["url"], content=b"x" * 1000).status_code == 200
    assert api.usage(user)["reservedBytes"] == 1000
    assert [row.upload_id for row in VersionUpload.query(user.id, consistent_read=True)] == [started["documentId"]]

    outcomes = sweep(store, utcnow() + DAY_LATER)

    assert outcomes == Counter({"rejected": 1, "closed": 1})
    assert api.usage(user) == {"usedBytes": 11, "reservedBytes": 0, "limitBytes": 5 * 1024**3, "documentCount": 1}
    assert store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=f"{user.id}/").get("Uploads", []) == []
    assert [item["Key"] for item in objects_under(store, user.id)] == [original]
    assert list(VersionUpload.query(user.id, consistent_read=True)) == []
    history = api.data("DocumentVersions", {"id": first["id"]}, user.token)["document"]
    assert (history["version"], [edge["node"]["version"] for edge in history["versions"]["edges"]]) == (1, [1])
    assert api.data("Document", {"id": first["id"]}, user.token)["document"]["status"] == "READY"
