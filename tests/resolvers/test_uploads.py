"""requestUpload and completeUpload: forms, quota reservations and the real object's check."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from domain.plans import GIB
from models import accounts, documents
from models.accounts import Account
from models.documents import Document
from tests import plain_http
from tests.client import Api, User, error_codes, operation, post_form
from tests.conftest import APP_ORIGIN, documents_of, objects_under, staged

FREE_LIMIT = 5 * GIB


def policy_of(form: dict[str, Any]) -> dict[str, Any]:
    fields = {field["name"]: field["value"] for field in form["fields"]}
    return json.loads(base64.b64decode(fields["policy"]))


def assert_nothing_stored(api: Api, user: User, store) -> None:
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 0}
    assert documents_of(user.id) == []
    assert objects_under(store, user.id) == []
    assert staged(store, user.id) == {}


def test_form_is_for_a_server_chosen_key_with_every_field_a_condition(api: Api, user: User) -> None:
    form = api.request_upload(user, filename="passwd.txt", size=1234, tags=["a b", "ü,x"], description="Line é")

    fields = {field["name"]: field["value"] for field in form["fields"]}
    assert fields["key"] == f"staging/{user.id}/{form['documentId']}"
    assert fields["Content-Type"] == "text/plain"
    assert fields["x-amz-meta-tags"] == "a b,%C3%BC%2Cx"
    assert fields["x-amz-meta-description"] == "Line %C3%A9"
    assert fields["success_action_status"] == "201"
    assert form["maxBytes"] == 1234
    policy = policy_of(form)
    signed = {name: value for name, value in fields.items() if name not in {"policy", "x-amz-signature"}}
    for name, value in signed.items():
        assert {name: value} in policy["conditions"], name
    assert ["content-length-range", 1, 1234] in policy["conditions"]
    assert {"bucket": "docstore-us-west-2"} in policy["conditions"]
    assert len(policy["conditions"]) == len(signed) + 2


def test_form_expires_90_seconds_after_the_request(api: Api, user: User) -> None:
    form = api.request_upload(user)

    record = documents.get(user.id, form["documentId"])
    assert record.upload_expires_at - record.created_at == timedelta(seconds=90)
    assert form["expiresAt"] == record.upload_expires_at.isoformat()


def test_request_reserves_the_declared_size_and_records_a_pending_document(api: Api, user: User, store) -> None:
    form = api.request_upload(user, size=4096, tags=["x"], description="d")

    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 4096, "limitBytes": FREE_LIMIT, "documentCount": 0}
    (record,) = documents_of(user.id)
    assert (record.document_id, record.status, record.declared_size, record.tags, record.description) == (
        form["documentId"],
        "PENDING_UPLOAD",
        4096,
        ["x"],
        "d",
    )
    assert objects_under(store, user.id) == []


def test_redirect_to_an_allowed_origin_replaces_the_201(api: Api, user: User) -> None:
    form = api.request_upload(user, redirectUrl=f"{APP_ORIGIN}/uploaded")

    fields = {field["name"]: field["value"] for field in form["fields"]}
    assert fields["success_action_redirect"] == f"{APP_ORIGIN}/uploaded"
    assert "success_action_status" not in fields
    assert {"success_action_redirect": f"{APP_ORIGIN}/uploaded"} in policy_of(form)["conditions"]


BAD_UPLOADS = [
    ({"filename": ""}, "filename"),
    ({"filename": "   "}, "filename"),
    ({"filename": "x" * 10_000}, "filename"),
    ({"filename": "é" * 128}, "filename"),
    ({"filename": "../../etc/passwd"}, "filename"),
    ({"filename": "..\\windows\\system.ini"}, "filename"),
    ({"filename": ".."}, "filename"),
    ({"filename": "."}, "filename"),
    ({"filename": "bad\x00name.txt"}, "filename"),
    ({"filename": "bell\x07.txt"}, "filename"),
    ({"filename": "line\nbreak.txt"}, "filename"),
    ({"filename": "evil\u202etxt.exe"}, "filename"),
    # One over the tag limit (a list of thousands is refused before it runs: tests/probes/test_stalling.py).
    ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
    ({"tags": [f"t{i}" for i in range(900)]}, "tags"),
    ({"tags": [""]}, "tags"),
    ({"tags": ["x" * 65]}, "tags"),
    ({"tags": ["tab\there"]}, "tags"),
    ({"description": "d" * 1001}, "description"),
    ({"description": "nul\x00"}, "description"),
    ({"tags": [f"{i:02d}" + "t" * 62 for i in range(20)], "description": "d" * 1000}, "description"),
    ({"size": -1}, "size"),
    ({"size": 0}, "size"),
    ({"size": 5 * GIB + 1}, "size"),
    ({"size": 2**62}, "size"),
    ({"contentType": "application/x-unknown"}, "contentType"),
    ({"contentType": ""}, "contentType"),
    ({"contentType": "text/plain; charset=utf-8"}, "contentType"),
    ({"contentType": "application/octet-stream"}, "contentType"),
    ({"redirectUrl": "https://evil.example.net/x"}, "redirectUrl"),
    ({"redirectUrl": "javascript:alert(1)"}, "redirectUrl"),
    ({"redirectUrl": f"{APP_ORIGIN}.evil.net/x"}, "redirectUrl"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_UPLOADS)
def test_bad_upload_request_is_a_validation_error_and_stores_nothing(
    api: Api, user: User, store, bad: dict[str, Any], field: str
) -> None:
    result = api.request_upload(user, **bad)

    assert result["__typename"] == "ValidationError"
    assert [problem["field"] for problem in result["fields"]] == [field]
    assert result["message"] == result["fields"][0]["message"]
    assert_nothing_stored(api, user, store)


def test_every_bad_upload_field_is_named_at_once_in_the_input_order(api: Api, user: User, store) -> None:
    result = api.request_upload(
        user,
        redirectUrl="https://evil.example.net/x",
        size=0,
        filename="../etc/passwd",
        tags=["ok", ""],
        contentType="application/x-unknown",
        description="fine",
    )

    assert result == {
        "__typename": "ValidationError",
        "message": "The file name may not contain / or \\.",
        "fields": [
            {"field": "filename", "message": "The file name may not contain / or \\."},
            {"field": "contentType", "message": "DocStore does not store 'application/x-unknown' files."},
            {"field": "size", "message": "The size must be at least 1 byte."},
            {"field": "tags", "message": "Each tag needs 1 to 64 characters."},
            {"field": "redirectUrl", "message": "The redirect URL is not on an allowed origin."},
        ],
    }
    assert_nothing_stored(api, user, store)


def test_tags_and_description_past_the_metadata_limit_are_named_with_the_other_faults(
    api: Api, user: User, store
) -> None:
    result = api.request_upload(
        user, filename="", tags=[f"{i:02d}" + "t" * 62 for i in range(20)], description="d" * 1000
    )

    assert result["fields"] == [
        {"field": "filename", "message": "The file name is empty."},
        {
            "field": "description",
            "message": "Tags and description together pass S3's 2 KB metadata limit; shorten them.",
        },
    ]
    assert_nothing_stored(api, user, store)


@pytest.mark.parametrize("size", [10**30, -(10**30), 1.5, "12abc", True])
def test_size_that_is_not_a_64_bit_whole_number_is_refused_by_the_schema(
    api: Api, user: User, store, size: object
) -> None:
    variables = {"input": {"filename": "a.txt", "contentType": "text/plain", "size": size}}

    body = api.call("RequestUpload", variables, user.token)

    assert body.get("data") is None
    assert len(body["errors"]) == 1
    assert "Long" in body["errors"][0]["message"] or "size" in body["errors"][0]["message"]
    assert_nothing_stored(api, user, store)


def test_request_past_the_quota_reports_the_numbers_and_reserves_nothing(api: Api, user: User) -> None:
    assert api.request_upload(user, size=FREE_LIMIT - 10)["__typename"] == "UploadForm"

    result = api.request_upload(user, size=11)

    assert result == {
        "__typename": "QuotaExceededError",
        "message": (
            f"Uploading 11 bytes would pass the plan's limit of {FREE_LIMIT} bytes "
            f"(0 used, {FREE_LIMIT - 10} reserved by uploads in progress)."
        ),
        "limitBytes": FREE_LIMIT,
        "usedBytes": 0,
        "reservedBytes": FREE_LIMIT - 10,
        "requestedBytes": 11,
    }
    assert api.usage(user)["reservedBytes"] == FREE_LIMIT - 10
    assert len(documents_of(user.id)) == 1


def test_concurrent_requests_past_the_quota_reserve_exactly_what_fits(api: Api, user: User) -> None:
    query = operation("RequestUpload")

    def request(index: int) -> str:
        variables = {"input": {"filename": f"part-{index}.zip", "contentType": "application/zip", "size": GIB}}
        with plain_http.Client(base_url=api.base_url, timeout=60) as http:
            body = http.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {user.token}"},
            ).json()
        return body["data"]["requestUpload"]["__typename"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(request, range(20)))

    assert sorted(outcomes) == ["QuotaExceededError"] * 15 + ["UploadForm"] * 5
    assert api.usage(user)["reservedBytes"] == 5 * GIB
    assert len(documents_of(user.id)) == 5


def test_complete_counts_the_real_size_and_checksum(api: Api, user: User, store) -> None:
    form = api.request_upload(user, size=100)
    content = b"shorter than declared"
    post_form(form, content)

    document = api.complete(user, form["documentId"])

    assert document["status"] == "PROCESSING"
    assert document["size"] == len(content)
    assert document["checksum"] == hashlib.md5(content).hexdigest()
    assert api.usage(user) == {
        "usedBytes": len(content),
        "reservedBytes": 0,
        "limitBytes": FREE_LIMIT,
        "documentCount": 1,
    }
    record = documents.get(user.id, form["documentId"])
    assert re.fullmatch(rf"{user.id}/{form['documentId']}/[0-9a-f]{{16}}/original", record.object_key)
    assert [item["Key"] for item in objects_under(store, user.id)] == [record.object_key]
    head = store.client.head_object(Bucket=store.bucket, Key=record.object_key)
    assert head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"tags": "", "description": ""}


def test_complete_twice_returns_the_same_document_counted_once(api: Api, user: User) -> None:
    form = api.request_upload(user)
    post_form(form, b"hello world")

    first = api.complete(user, form["documentId"])
    second = api.complete(user, form["documentId"])

    assert first == second
    assert api.usage(user) == {"usedBytes": 11, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 1}


def test_object_larger_than_declared_is_rejected_deleted_and_uncounted(api: Api, user: User, store) -> None:
    form = api.request_upload(user, size=5)
    post_form(form, b"more than five bytes")  # moto does not enforce content-length-range; S3 would

    result = api.complete(user, form["documentId"])

    assert result == {
        "__typename": "UploadRejectedError",
        "message": "The file is larger than the size declared when the upload was requested.",
        "reason": "TOO_LARGE",
    }
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 0}
    assert objects_under(store, user.id) == []
    assert staged(store, user.id) == {}
    assert api.complete(user, form["documentId"]) == result
    assert api.usage(user)["reservedBytes"] == 0


def test_completing_before_the_file_arrived_rejects_and_releases(api: Api, user: User) -> None:
    form = api.request_upload(user, size=50)

    result = api.complete(user, form["documentId"])

    assert result["__typename"] == "UploadRejectedError"
    assert result["reason"] == "MISSING_OBJECT"
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 0}
    (record,) = documents_of(user.id)
    assert (record.status, record.failure_reason) == ("REJECTED", "MISSING_OBJECT")


def test_completion_past_the_quota_is_rejected_and_releases(api: Api, user: User, store) -> None:
    form = api.request_upload(user, size=11)
    post_form(form, b"hello world")
    # Another process used up the space meanwhile (e.g. a downgrade): the form could not stop it.
    Account(id=user.id).update(
        actions=[Account.used_bytes.set(FREE_LIMIT - 5), Account.allocated_bytes.add(FREE_LIMIT - 5)]
    )

    result = api.complete(user, form["documentId"])

    assert result["__typename"] == "UploadRejectedError"
    assert result["reason"] == "OVER_QUOTA"
    record = accounts.get(user.id)
    assert (record.used_bytes, record.reserved_bytes, record.allocated_bytes, record.document_count) == (
        FREE_LIMIT - 5,
        0,
        FREE_LIMIT - 5,
        0,
    )
    assert objects_under(store, user.id) == []
    assert staged(store, user.id) == {}


@pytest.mark.parametrize("document_id", ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "nope", "../x", "Z" * 10_000])
def test_completing_an_unknown_upload_is_not_found(api: Api, user: User, document_id: str) -> None:
    result = api.complete(user, document_id)

    assert result == {
        "__typename": "UploadNotFoundError",
        "message": "No upload with that id in this account.",
        "documentId": document_id,
    }


def test_upload_requests_need_a_token(api: Api, store) -> None:
    variables = {"input": {"filename": "a.txt", "contentType": "text/plain", "size": 1}}

    body = api.call("RequestUpload", variables)

    assert error_codes(body) == ["UNAUTHENTICATED"]


def test_account_flagged_over_quota_may_not_start_uploads(api: Api, user: User, store) -> None:
    Account(id=user.id).update(actions=[Account.over_quota.set(True)])

    result = api.request_upload(user, size=1)

    assert result["__typename"] == "QuotaExceededError"
    assert (result["requestedBytes"], result["reservedBytes"]) == (1, 0)
    assert_nothing_stored(api, user, store)


# --- a form posted again -----------------------------------------------------------------------
# S3 takes a form as often as it is posted until it expires (90 s); moto at any time, as it checks
# no policy. Whatever arrives after completion must change nothing stored or counted.

MEGABYTE = b"y" * 1_000_000


def download(api: Api, user: User, document_id: str) -> bytes:
    url = api.data("Document", {"id": document_id}, user.token)["document"]["downloadUrl"]
    response = plain_http.get(url, timeout=30)
    assert response.status_code == 200
    return response.content


def test_form_posted_again_after_completion_changes_neither_download_nor_usage(api: Api, user: User, store) -> None:
    form = api.request_upload(user, size=len(MEGABYTE))
    post_form(form, b"x")
    api.complete(user, form["documentId"])
    ready = api.settled(user, form["documentId"])
    assert ready["status"] == "READY"
    stored = documents.get(user.id, form["documentId"]).object_key

    post_form(form, MEGABYTE)

    assert download(api, user, form["documentId"]) == b"x"
    now = api.data("Document", {"id": form["documentId"]}, user.token)["document"]
    assert {**now, "downloadUrl": None} == {**ready, "downloadUrl": None}  # links are signed anew each time
    again = api.complete(user, form["documentId"])
    assert (again["status"], again["size"], again["updatedAt"]) == ("READY", 1, ready["updatedAt"])
    assert api.usage(user) == {"usedBytes": 1, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 1}
    record = documents.get(user.id, form["documentId"])
    assert (record.object_key, record.size, record.checksum) == (stored, 1, hashlib.md5(b"x").hexdigest())
    assert [item["Key"] for item in objects_under(store, user.id)] == [stored]
    # Where nothing reads it, until the form's expiry deletes it (tests/workers/test_pipeline.py).
    assert staged(store, user.id) == {form["documentId"]: MEGABYTE}


def test_form_posted_again_after_the_document_was_deleted_stores_nothing(api: Api, user: User, store) -> None:
    form = api.request_upload(user, size=len(MEGABYTE))
    post_form(form, b"x")
    api.complete(user, form["documentId"])
    assert api.settled(user, form["documentId"])["status"] == "READY"
    deleted = api.data("DeleteDocument", {"input": {"id": form["documentId"]}}, user.token)["deleteDocument"]
    assert deleted["freedBytes"] == 1

    post_form(form, MEGABYTE)

    assert api.complete(user, form["documentId"])["__typename"] == "UploadNotFoundError"
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 0}
    assert documents_of(user.id) == []
    assert objects_under(store, user.id) == []
    assert staged(store, user.id) == {form["documentId"]: MEGABYTE}


def test_upload_requested_before_staging_keys_completes_and_downloads_in_place(api: Api, user: User, store) -> None:
    form = api.request_upload(user, size=11)
    # A form signed by the code before staging keys posted straight to the document's final key.
    legacy = f"{user.id}/{form['documentId']}/original"
    Document(owner_id=user.id, document_id=form["documentId"]).update(actions=[Document.object_key.set(legacy)])
    store.client.put_object(Bucket=store.bucket, Key=legacy, Body=b"hello world", ContentType="text/plain")

    assert api.complete(user, form["documentId"])["size"] == 11
    assert api.settled(user, form["documentId"])["status"] == "READY"

    assert documents.get(user.id, form["documentId"]).object_key == legacy
    assert [item["Key"] for item in objects_under(store, user.id)] == [legacy]
    assert download(api, user, form["documentId"]) == b"hello world"
    assert api.usage(user)["usedBytes"] == 11
    api.data("DeleteDocument", {"input": {"id": form["documentId"]}}, user.token)
    assert objects_under(store, user.id) == []
