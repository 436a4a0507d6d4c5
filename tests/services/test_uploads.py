"""Completing an upload: the posted file copied to a key of its own, checked and counted once."""

from __future__ import annotations

import hashlib
import json

import pytest
from botocore.exceptions import ReadTimeoutError
from pynamodb.exceptions import TransactWriteError
from ulid import ULID

from domain.plans import GIB, Plan
from models import accounts, uploads
from models.base import transaction_connection
from models.documents import Document
from models.errors import UploadRejected
from models.paths import PathClaim
from services import uploads as upload_files
from tests.conftest import objects_under, staged


def stored_upload(store, plan: str, used_bytes: int) -> tuple[accounts.Account, Document]:
    """An account on ``plan`` using ``used_bytes``, with a 100-byte upload posted and not completed."""
    account = accounts.create(
        email=f"complete-{ULID()}@example.com".lower(), password_hash="x", plan="FREE", home_region="us-west-2"
    )
    document = uploads.start(
        account,
        document_id=str(ULID()),
        name="part.bin",
        content_type="application/zip",
        size=100,
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
    )
    store.client.put_object(
        Bucket=store.bucket, Key=document.object_key, Body=b"x" * 100, ContentType="application/zip"
    )
    accounts.Account(id=account.id).update(
        actions=[accounts.Account.plan.set(plan), accounts.Account.used_bytes.set(used_bytes)]
    )
    return account, document


def test_completing_with_an_out_of_date_lower_plan_counts_against_the_real_limit(target, store) -> None:
    account, document = stored_upload(store, "PREMIUM", 5 * GIB - 10)  # over FREE's limit once counted

    record = upload_files.complete(store, account.id, document.document_id, plan=Plan.FREE)

    assert (record.status, record.size) == ("PROCESSING", 100)
    fresh = accounts.get(account.id)
    assert (fresh.used_bytes, fresh.reserved_bytes, fresh.document_count) == (5 * GIB + 90, 0, 1)
    # The copy made for the refused first try is gone: only the counted one is kept.
    assert [item["Key"] for item in objects_under(store, account.id)] == [record.object_key]


def test_completing_with_an_out_of_date_higher_plan_is_refused_by_the_real_limit(target, store) -> None:
    account, document = stored_upload(store, "FREE", 5 * GIB - 10)

    with pytest.raises(UploadRejected) as refused:
        upload_files.complete(store, account.id, document.document_id, plan=Plan.PREMIUM)

    assert refused.value.reason == uploads.OVER_QUOTA
    fresh = accounts.get(account.id)
    assert (fresh.used_bytes, fresh.reserved_bytes, fresh.allocated_bytes, fresh.document_count) == (
        5 * GIB - 10,
        0,
        0,
        0,
    )
    assert store.head(document.object_key) is None
    assert objects_under(store, account.id) == []


class PostedMeanwhile:
    """The session's S3, where the owner's form is posted again (``then``) right after completion
    copied what the form had posted: the moment a HEAD-then-count completion could be fooled."""

    def __init__(self, store, then) -> None:
        self.store = store
        self.then = then

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def copy(self, source: str, destination: str):
        info = self.store.copy(source, destination)
        then, self.then = self.then, None
        if then is not None:
            then()
        return info


def body(store, key: str) -> bytes:
    return store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()


def test_form_posted_while_completing_changes_nothing_counted_or_stored(target, store) -> None:
    account, document = stored_upload(store, "FREE", 0)  # 100 bytes posted, declared 100
    repost = lambda: store.client.put_object(Bucket=store.bucket, Key=document.object_key, Body=b"y" * 10_000)  # noqa: E731

    record = upload_files.complete(PostedMeanwhile(store, repost), account.id, document.document_id)

    assert (record.status, record.size, body(store, record.object_key)) == ("PROCESSING", 100, b"x" * 100)
    assert [item["Key"] for item in objects_under(store, account.id)] == [record.object_key]
    assert accounts.get(account.id).used_bytes == 100
    assert staged(store, account.id) == {document.document_id: b"y" * 10_000}


def test_two_completions_racing_a_form_posted_again_keep_only_what_was_counted(target, store) -> None:
    account, document = stored_upload(store, "FREE", 0)
    settled: list[Document] = []

    def repost_and_complete() -> None:  # between the first completion's copy and its count
        store.client.put_object(Bucket=store.bucket, Key=document.object_key, Body=b"y" * 7)
        settled.append(upload_files.complete(store, account.id, document.document_id))

    first = upload_files.complete(PostedMeanwhile(store, repost_and_complete), account.id, document.document_id)

    (second,) = settled
    assert first.attribute_values == second.attribute_values  # the second counted; the first took its word
    assert (first.size, body(store, first.object_key)) == (7, b"y" * 7)
    assert [item["Key"] for item in objects_under(store, account.id)] == [first.object_key]
    fresh = accounts.get(account.id)
    assert (fresh.used_bytes, fresh.reserved_bytes, fresh.document_count) == (7, 0, 1)


def test_completion_copies_the_file_and_its_type_to_a_key_of_its_own(target, store) -> None:
    account, document = stored_upload(store, "FREE", 0)

    record = upload_files.complete(store, account.id, document.document_id)

    assert document.object_key == f"staging/{account.id}/{document.document_id}"
    assert record.object_key.startswith(f"{account.id}/{document.document_id}/")
    assert record.object_key.endswith("/original")
    assert (body(store, record.object_key), record.checksum) == (b"x" * 100, hashlib.md5(b"x" * 100).hexdigest())
    assert store.head(record.object_key).content_type == "application/zip"


def test_a_completion_whose_answer_was_lost_keeps_the_copy_it_recorded(target, store) -> None:
    account, document = stored_upload(store, "FREE", 0)
    events = transaction_connection().client.meta.events
    lost: list[bool] = []

    def mark(params, context, **_) -> None:
        context["ours"] = document.document_id in json.dumps(params, default=repr)

    def lose(context, **_) -> None:  # DynamoDB has committed; its answer never arrives
        if context.get("ours") and not lost:
            lost.append(True)
            raise ReadTimeoutError(endpoint_url="dynamodb")

    events.register("before-call.dynamodb.TransactWriteItems", mark)
    events.register("after-call.dynamodb.TransactWriteItems", lose)
    try:
        with pytest.raises(TransactWriteError):
            upload_files.complete(store, account.id, document.document_id)
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", mark)
        events.unregister("after-call.dynamodb.TransactWriteItems", lose)

    record = upload_files.complete(store, account.id, document.document_id)  # the client tries again
    assert (lost, record.status, record.size) == ([True], "PROCESSING", 100)
    assert body(store, record.object_key) == b"x" * 100
    assert [item["Key"] for item in objects_under(store, account.id)] == [record.object_key]


def test_the_sweeper_settling_an_upload_whose_file_never_came_frees_its_path(target, store) -> None:
    account = accounts.create(
        email=f"sweep-path-{ULID()}@example.com".lower(), password_hash="x", plan="FREE", home_region="us-west-2"
    )
    document = uploads.start(
        account,
        document_id=str(ULID()),
        name="never.pdf",
        path="/inbox/never.pdf",
        content_type="application/pdf",
        size=100,
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
    )
    assert [claim.path_key for claim in PathClaim.query(account.id)] == ["/inbox/never.pdf"]

    outcome = upload_files.sweep(store, account.id, document.document_id)

    assert outcome == "rejected:MISSING_OBJECT"
    assert list(PathClaim.query(account.id, consistent_read=True)) == []
    assert accounts.get(account.id).reserved_bytes == 0
