"""The multipart mutations and uploadedParts through the API: typed answers for every misuse, and
nothing left behind (record, reservation, S3 upload or object) by one that fails."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import time_machine

from domain.plans import GIB
from tests import plain_http
from tests.client import Api, User, error_codes, post_form
from tests.conftest import documents_of, objects_under

FREE_LIMIT = 5 * GIB
PART = 16 * 1024 * 1024  # DOCSTORE_MULTIPART_PART_BYTES of the session's server
TEXT = b"a small file, sent in one part of a multipart upload\n"
NO_UPLOAD = "No upload with that id in this account."


def start(api: Api, user: User, **input: Any) -> dict[str, Any]:
    fields = {"filename": "notes.txt", "contentType": "text/plain", "size": len(TEXT), **input}
    return api.data("RequestMultipartUpload", {"input": fields}, user.token)["requestMultipartUpload"]


def sign(api: Api, user: User, document_id: str, numbers: list[int]) -> dict[str, Any]:
    variables = {"input": {"documentId": document_id, "partNumbers": numbers}}
    return api.data("SignUploadParts", variables, user.token)["signUploadParts"]


def put(url: str, content: bytes) -> str:
    response = plain_http.put(url, content=content, timeout=60)
    assert response.status_code == 200, response.text
    return response.headers["ETag"]


def complete(api: Api, user: User, document_id: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    variables = {"input": {"documentId": document_id, "parts": parts}}
    return api.data("CompleteMultipartUpload", variables, user.token)["completeMultipartUpload"]


def abort(api: Api, user: User, document_id: str) -> dict[str, Any]:
    return api.data("AbortUpload", {"input": {"documentId": document_id}}, user.token)["abortUpload"]


def sent(api: Api, user: User, content: bytes = TEXT) -> tuple[str, str]:
    """A one-part upload of ``content`` with its part put: the document id and the part's ETag."""
    started = start(api, user, size=len(content))
    (part,) = sign(api, user, started["documentId"], [1])["parts"]
    return started["documentId"], put(part["url"], content)


def open_uploads(store, user: User) -> list[str]:
    listed = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=f"{user.id}/")
    return [upload["Key"] for upload in listed.get("Uploads", [])]


def assert_nothing_held(api: Api, store, user: User) -> None:
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 0}
    assert objects_under(store, user.id) == []
    assert open_uploads(store, user) == []


def test_a_multipart_upload_reserves_its_size_and_is_cut_into_parts_of_the_part_size(
    api: Api, store, user: User
) -> None:
    started = start(api, user, size=2 * PART + 1)

    assert (started["__typename"], started["partSize"], started["partCount"]) == ("MultipartUpload", PART, 3)
    expires = datetime.fromisoformat(started["expiresAt"])
    assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=24)
    assert api.usage(user)["reservedBytes"] == 2 * PART + 1
    (record,) = documents_of(user.id)
    assert (record.status, record.object_key) == ("PENDING_UPLOAD", open_uploads(store, user)[0])
    assert record.object_key.startswith(f"{user.id}/{started['documentId']}/")


def test_one_part_is_signed_put_listed_completed_and_counted(api: Api, store, user: User) -> None:
    document_id, etag = sent(api, user)

    listed = api.data("UploadedParts", {"documentId": document_id}, user.token)["uploadedParts"]
    assert listed == [{"number": 1, "etag": etag.strip('"'), "size": len(TEXT)}]
    document = complete(api, user, document_id, [{"number": 1, "etag": etag}])

    assert (document["__typename"], document["id"], document["status"], document["size"]) == (
        "Document",
        document_id,
        "PROCESSING",
        len(TEXT),
    )
    ready = api.settled(user, document_id)
    assert ready["status"] == "READY"
    assert plain_http.get(ready["downloadUrl"]).content == TEXT
    assert document["checksum"] == hashlib.md5(hashlib.md5(TEXT).digest()).hexdigest() + "-1"
    assert api.usage(user) == {"usedBytes": len(TEXT), "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 1}
    assert open_uploads(store, user) == []


def test_a_bad_request_names_every_field_and_reserves_nothing(api: Api, store, user: User) -> None:
    refused = start(api, user, filename="a/b", contentType="application/x-msdownload", size=0)

    assert refused["__typename"] == "ValidationError"
    assert [problem["field"] for problem in refused["fields"]] == ["filename", "contentType", "size"]
    assert documents_of(user.id) == []
    assert_nothing_held(api, store, user)


def test_an_upload_past_the_quota_is_refused_and_leaves_no_s3_upload(api: Api, store, user: User) -> None:
    refused = start(api, user, size=FREE_LIMIT + 1)

    assert refused["__typename"] == "QuotaExceededError"
    assert (refused["limitBytes"], refused["requestedBytes"]) == (FREE_LIMIT, FREE_LIMIT + 1)
    assert documents_of(user.id) == []
    assert_nothing_held(api, store, user)


def test_a_premium_upload_may_pass_the_single_post_limit(api: Api, store) -> None:
    user = api.sign_up(plan="PREMIUM")

    started = start(api, user, size=6 * GIB)

    assert (started["__typename"], started["partSize"], started["partCount"]) == ("MultipartUpload", PART, 384)
    assert abort(api, user, started["documentId"]) == {
        "__typename": "AbortedUpload",
        "documentId": started["documentId"],
        "freedBytes": 6 * GIB,
    }
    assert (documents_of(user.id), open_uploads(store, user)) == ([], [])


def test_part_numbers_out_of_range_or_too_many_are_refused(api: Api, user: User) -> None:
    started = start(api, user, size=2 * PART)  # 2 parts

    out_of_range = sign(api, user, started["documentId"], [1, 3])
    too_many = sign(api, user, started["documentId"], [1] * 101)
    none = sign(api, user, started["documentId"], [])

    assert [answer["fields"] for answer in (out_of_range, too_many, none)] == [
        [{"field": "partNumbers", "message": "Part numbers go from 1 to 2; 3 is not one of them."}],
        [{"field": "partNumbers", "message": "At most 100 part numbers per call, not 101."}],
        [{"field": "partNumbers", "message": "Name at least one part number."}],
    ]
    signed = sign(api, user, started["documentId"], [2, 1, 2])
    assert [part["number"] for part in signed["parts"]] == [2, 1]
    abort(api, user, started["documentId"])


def test_a_parts_list_that_cannot_be_the_uploads_changes_nothing(api: Api, store, user: User) -> None:
    document_id, etag = sent(api, user)

    twice = complete(api, user, document_id, [{"number": 1, "etag": etag}, {"number": 1, "etag": etag}])
    out_of_range = complete(api, user, document_id, [{"number": 2, "etag": etag}])

    assert [answer["fields"] for answer in (twice, out_of_range)] == [
        [{"field": "parts", "message": "The upload has 1 parts; 2 were named."}],
        [{"field": "parts", "message": "Part numbers go from 1 to 1; 2 is not one of them."}],
    ]
    assert api.usage(user)["reservedBytes"] == len(TEXT)
    assert len(open_uploads(store, user)) == 1
    assert complete(api, user, document_id, [{"number": 1, "etag": etag}])["status"] == "PROCESSING"


def test_a_part_larger_than_declared_is_rejected_leaving_nothing(api: Api, store, user: User) -> None:
    started = start(api, user, size=len(TEXT))
    (part,) = sign(api, user, started["documentId"], [1])["parts"]
    # Its URL is signed for len(TEXT) bytes: real S3 refuses this PUT (SignatureDoesNotMatch). The
    # embedded S3 checks no signature and takes it, so completion's check of the parts must refuse it.
    etag = put(part["url"], TEXT + b"and more")

    rejected = complete(api, user, started["documentId"], [{"number": 1, "etag": etag}])

    assert rejected == {
        "__typename": "UploadRejectedError",
        "message": "The file is larger than the size declared when the upload was requested.",
        "reason": "TOO_LARGE",
    }
    assert_nothing_held(api, store, user)
    assert [(record.status, record.failure_reason) for record in documents_of(user.id)] == [("REJECTED", "TOO_LARGE")]
    assert plain_http.put(part["url"], content=TEXT).status_code == 404  # S3's upload is aborted


def test_a_part_that_was_never_put_is_rejected_leaving_nothing(api: Api, store, user: User) -> None:
    started = start(api, user)

    rejected = complete(api, user, started["documentId"], [{"number": 1, "etag": "0" * 32}])

    assert (rejected["__typename"], rejected["reason"]) == ("UploadRejectedError", "PARTS_MISMATCH")
    assert_nothing_held(api, store, user)


def test_completing_twice_answers_the_same_document(api: Api, user: User) -> None:
    document_id, etag = sent(api, user)
    first = complete(api, user, document_id, [{"number": 1, "etag": etag}])

    second = complete(api, user, document_id, [{"number": 1, "etag": etag}])

    # The pipeline may have moved it on meanwhile (status, updatedAt): the same document all the same.
    same = ("__typename", "id", "name", "size", "checksum", "createdAt")
    assert [second[field] for field in same] == [first[field] for field in same]
    assert second["status"] in {"PROCESSING", "READY"}
    assert api.usage(user)["documentCount"] == 1


def test_after_completion_the_upload_is_no_longer_in_progress(api: Api, user: User) -> None:
    document_id, etag = sent(api, user)
    complete(api, user, document_id, [{"number": 1, "etag": etag}])

    answers = [abort(api, user, document_id), sign(api, user, document_id, [1])]

    for answer in answers:  # PROCESSING, or READY if the pipeline was quick
        assert answer == {
            "__typename": "UploadCompletedError",
            "message": (
                f"This upload was completed: its document is {answer['status']}. Delete it with deleteDocument instead."
            ),
            "documentId": document_id,
            "status": answer["status"],
        }
        assert answer["status"] in {"PROCESSING", "READY"}
    listed = api.call("UploadedParts", {"documentId": document_id}, user.token)
    assert (listed["data"], error_codes(listed)) == (None, ["NOT_FOUND"])
    assert api.data("Document", {"id": document_id}, user.token)["document"]["id"] == document_id
    assert api.usage(user)["documentCount"] == 1


def test_after_an_abort_the_upload_is_gone(api: Api, store, user: User) -> None:
    document_id, etag = sent(api, user)
    assert abort(api, user, document_id)["freedBytes"] == len(TEXT)
    gone = {"__typename": "UploadNotFoundError", "message": NO_UPLOAD, "documentId": document_id}

    assert complete(api, user, document_id, [{"number": 1, "etag": etag}]) == gone
    assert abort(api, user, document_id) == gone
    assert sign(api, user, document_id, [1]) == gone
    assert documents_of(user.id) == []
    assert_nothing_held(api, store, user)


def test_each_kind_of_upload_completes_only_through_its_own_mutation(api: Api, store, user: User) -> None:
    document_id, etag = sent(api, user)
    form = api.request_upload(user)

    assert api.complete(user, document_id)["__typename"] == "UploadNotFoundError"
    assert complete(api, user, form["documentId"], [{"number": 1, "etag": etag}])["__typename"] == (
        "UploadNotFoundError"
    )
    assert abort(api, user, form["documentId"])["__typename"] == "UploadNotFoundError"
    assert api.usage(user)["reservedBytes"] == len(TEXT) + 11
    assert len(open_uploads(store, user)) == 1


# --- another account's ids --------------------------------------------------------------------


def world(api: Api, store, *users: User) -> list[dict[str, Any]]:
    return [
        {
            "records": [record.attribute_values for record in documents_of(user.id)],
            "usage": api.usage(user),
            "objects": objects_under(store, user.id),
            "uploads": open_uploads(store, user),
            "parts": [
                (part["PartNumber"], part["ETag"], part["Size"])
                for record in documents_of(user.id)
                if record.upload_id
                for part in store.client.list_parts(
                    Bucket=store.bucket, Key=record.object_key, UploadId=record.upload_id
                )["Parts"]
            ],
        }
        for user in users
    ]


@pytest.mark.parametrize("field", ["signUploadParts", "uploadedParts", "completeMultipartUpload", "abortUpload"])
def test_another_accounts_multipart_upload_is_not_found_and_untouched(
    api: Api, store, user: User, other_user: User, field: str
) -> None:
    document_id, etag = sent(api, user)
    before = world(api, store, user, other_user)
    not_found = {"__typename": "UploadNotFoundError", "message": NO_UPLOAD, "documentId": document_id}

    if field == "signUploadParts":
        assert sign(api, other_user, document_id, [1]) == not_found
    elif field == "uploadedParts":
        body = api.call("UploadedParts", {"documentId": document_id}, other_user.token)
        assert body["data"] is None
        assert [(error["message"], error["extensions"]) for error in body["errors"]] == [
            ("No multipart upload in progress with that id in this account.", {"code": "NOT_FOUND"})
        ]
    elif field == "completeMultipartUpload":
        assert complete(api, other_user, document_id, [{"number": 1, "etag": etag}]) == not_found
    else:
        assert abort(api, other_user, document_id) == not_found

    assert world(api, store, user, other_user) == before
    assert complete(api, user, document_id, [{"number": 1, "etag": etag}])["status"] == "PROCESSING"


@pytest.mark.parametrize(
    "field",
    ["requestMultipartUpload", "signUploadParts", "uploadedParts", "completeMultipartUpload", "abortUpload"],
)
@pytest.mark.parametrize("token", [None, "dst_" + "A" * 43])
def test_every_multipart_field_is_unauthenticated_without_a_working_token(
    api: Api, store, user: User, field: str, token: str | None
) -> None:
    document_id, etag = sent(api, user)
    calls = {
        "requestMultipartUpload": (
            "RequestMultipartUpload",
            {"input": {"filename": "a.txt", "contentType": "text/plain", "size": 1}},
        ),
        "signUploadParts": ("SignUploadParts", {"input": {"documentId": document_id, "partNumbers": [1]}}),
        "uploadedParts": ("UploadedParts", {"documentId": document_id}),
        "completeMultipartUpload": (
            "CompleteMultipartUpload",
            {"input": {"documentId": document_id, "parts": [{"number": 1, "etag": etag}]}},
        ),
        "abortUpload": ("AbortUpload", {"input": {"documentId": document_id}}),
    }
    before = world(api, store, user)
    operation, variables = calls[field]

    body = api.call(operation, variables, token)

    assert body["data"] is None
    assert [(error["message"], error["path"], error["extensions"]) for error in body["errors"]] == [
        ("Sign in first: send `Authorization: Bearer <token>`.", [field], {"code": "UNAUTHENTICATED"})
    ]
    assert world(api, store, user) == before


def test_deleting_a_multipart_upload_in_progress_aborts_it(api: Api, store, user: User) -> None:
    document_id, _ = sent(api, user)

    deleted = api.data("DeleteDocument", {"input": {"id": document_id}}, user.token)["deleteDocument"]

    assert (deleted["__typename"], deleted["freedBytes"]) == ("DeleteDocumentPayload", len(TEXT))
    assert_nothing_held(api, store, user)
    assert error_codes(api.call("Document", {"id": document_id}, user.token)) == ["NOT_FOUND"]
    assert abort(api, user, document_id)["__typename"] == "UploadNotFoundError"


def test_a_multipart_upload_goes_to_its_path_and_a_taken_one_is_numbered(api: Api, user: User) -> None:
    first = start(api, user, path="/Big/archive.txt")
    second = start(api, user, path="/big/ARCHIVE.txt")

    placed = [api.data("Document", {"id": s["documentId"]}, user.token)["document"]["path"] for s in (first, second)]

    assert placed == ["/Big/archive.txt", "/big/ARCHIVE (1).txt"]


def test_a_bad_multipart_path_is_refused_and_nothing_started(api: Api, store, user: User) -> None:
    result = start(api, user, path="/big/../escape.txt")

    assert result == {
        "__typename": "ValidationError",
        "message": "The path may not have . or .. segments.",
        "fields": [{"field": "path", "message": "The path may not have . or .. segments."}],
    }
    assert documents_of(user.id) == []
    assert open_uploads(store, user) == []


def test_an_update_at_a_stale_version_is_a_conflict_leaving_no_s3_upload(api: Api, store, user: User) -> None:
    first = api.upload(user, TEXT, filename="notes.txt", contentType="text/plain")
    form = api.request_upload(user, size=len(TEXT), path="/notes.txt", mode="OVERWRITE")
    post_form(form, TEXT)
    assert api.complete(user, form["documentId"])["id"] == first["id"]
    assert api.settled(user, first["id"])["status"] == "READY"
    before = api.usage(user)

    stale = start(api, user, size=len(TEXT), path="/notes.txt", mode="UPDATE", ifVersion=1)
    free = start(api, user, size=len(TEXT), path="/other.txt", mode="UPDATE", ifVersion=1)

    assert stale == {
        "__typename": "VersionConflictError",
        "message": "The document is at version 2 now, not the version named.",
        "currentVersion": 2,
    }
    assert free == {
        "__typename": "VersionConflictError",
        "message": "There is no document at that path to update.",
        "currentVersion": None,
    }
    assert before == {"usedBytes": 2 * len(TEXT), "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 1}
    assert api.usage(user) == before
    assert [record.document_id for record in documents_of(user.id)] == [first["id"]]
    assert open_uploads(store, user) == []


def signed_length(store, url: str, candidates: Sequence[int]) -> int | None:
    """Which of ``candidates`` a part's URL is signed for. The length is in no parameter, only in
    the signature: the same PUT is signed again for each candidate, at the URL's own time, with the
    same credentials, and the signatures compared (as S3 checks the request it gets)."""
    parsed = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parsed.query).items()}
    at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    params = {
        "Bucket": store.bucket,
        "Key": unquote(parsed.path).removeprefix(f"/{store.bucket}/"),
        "UploadId": query["uploadId"],
        "PartNumber": int(query["partNumber"]),
    }
    for length in candidates:
        with time_machine.travel(at, tick=False):
            again = store.client.generate_presigned_url(
                "upload_part", Params={**params, "ContentLength": length}, ExpiresIn=int(query["X-Amz-Expires"])
            )
        if parse_qs(urlsplit(again).query)["X-Amz-Signature"] == [query["X-Amz-Signature"]]:
            return length
    return None


def test_each_part_url_is_signed_for_its_own_length_the_last_for_what_remains(api: Api, store, user: User) -> None:
    started = start(api, user, size=PART + 1000)  # two parts: 16 MiB and 1,000 bytes

    urls = [part["url"] for part in sign(api, user, started["documentId"], [1, 2])["parts"]]

    assert [parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"] for url in urls] == [["content-length;host"]] * 2
    assert [signed_length(store, url, (PART, 1000, PART + 1000)) for url in urls] == [PART, 1000]
