"""The S3 adapter: what a signed form's policy really says, and how downloads are named."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.s3 import ObjectInfo, S3ObjectStore, content_disposition
from runtime.services import provision
from services.validation import metadata_value


def decoded_policy(fields: dict[str, str]) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


def test_policy_binds_every_field_and_the_size_range(store: S3ObjectStore) -> None:
    before = datetime.now(UTC)

    post = store.upload_post(
        "acct/doc/original",
        content_type="application/pdf",
        max_bytes=2048,
        metadata={"tags": "a,b", "description": metadata_value("Ünïcode")},
        expires_in=90,
    )

    policy = decoded_policy(post.fields)
    conditions = policy["conditions"]
    assert {"bucket": store.bucket} in conditions
    assert {"key": "acct/doc/original"} in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"x-amz-meta-tags": "a,b"} in conditions
    assert {"x-amz-meta-description": "%C3%9Cn%C3%AFcode"} in conditions
    assert {"success_action_status": "201"} in conditions
    assert ["content-length-range", 1, 2048] in conditions
    assert {"x-amz-algorithm": "AWS4-HMAC-SHA256"} in conditions
    assert {"x-amz-credential": post.fields["x-amz-credential"]} in conditions
    assert {"x-amz-date": post.fields["x-amz-date"]} in conditions
    assert len(conditions) == 10
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + timedelta(seconds=88) <= expires <= before + timedelta(seconds=92)
    assert post.url.endswith(f"/{store.bucket}")


def test_every_form_field_but_the_signature_is_a_policy_condition(store: S3ObjectStore) -> None:
    post = store.upload_post(
        "k", content_type="text/plain", max_bytes=1, metadata={}, expires_in=90, redirect_url="https://a.example/x"
    )

    conditions = decoded_policy(post.fields)["conditions"]
    for name, value in post.fields.items():
        if name not in {"policy", "x-amz-signature"}:
            assert {name: value} in conditions, name
    assert "success_action_status" not in post.fields


def test_metadata_must_already_be_ascii(store: S3ObjectStore) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        store.upload_post("k", content_type="text/plain", max_bytes=1, metadata={"tags": "ü"}, expires_in=90)


def test_head_of_a_missing_object_is_none(store: S3ObjectStore) -> None:
    assert store.head("no/such/object") is None


def test_deleting_a_missing_object_is_not_an_error(store: S3ObjectStore) -> None:
    store.delete("no/such/object")

    assert store.head("no/such/object") is None


@pytest.mark.parametrize(
    ("filename", "header"),
    [
        ("report.pdf", "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"),
        ('say "hi".txt', "attachment; filename=\"say _hi_.txt\"; filename*=UTF-8''say%20%22hi%22.txt"),
        ("résumé.docx", "attachment; filename=\"r_sum_.docx\"; filename*=UTF-8''r%C3%A9sum%C3%A9.docx"),
        ("a;b\\c.txt", "attachment; filename=\"a;b_c.txt\"; filename*=UTF-8''a%3Bb%5Cc.txt"),
    ],
)
def test_download_names_survive_quotes_and_unicode(filename: str, header: str) -> None:
    assert content_disposition(filename) == header


def test_copy_keeps_bytes_type_and_metadata_and_describes_the_copy(store: S3ObjectStore) -> None:
    store.client.put_object(
        Bucket=store.bucket,
        Key="copy/source",
        Body=b"%PDF-1.4 body",
        ContentType="application/pdf",
        Metadata={"tags": "a"},
    )

    info = store.copy("copy/source", "copy/destination")

    assert info == ObjectInfo(size=13, etag=hashlib.md5(b"%PDF-1.4 body").hexdigest(), content_type="application/pdf")
    copied = store.client.get_object(Bucket=store.bucket, Key="copy/destination")
    assert (copied["Body"].read(), copied["ContentType"], copied["Metadata"]) == (
        b"%PDF-1.4 body",
        "application/pdf",
        {"tags": "a"},
    )
    assert store.head("copy/source") is not None


def test_copy_of_a_missing_object_is_none_and_writes_nothing(store: S3ObjectStore) -> None:
    assert store.copy("copy/no-such-source", "copy/never-written") is None

    assert store.head("copy/never-written") is None


def test_delete_older_deletes_only_under_the_prefix_and_before_the_time(store: S3ObjectStore) -> None:
    for key in ("older/a", "older/b", "older-not/c", "elsewhere/older/d"):
        store.client.put_object(Bucket=store.bucket, Key=key, Body=b"x")

    assert store.delete_older("older/", datetime.now(UTC) - timedelta(minutes=1)) == 0
    assert store.delete_older("older/", datetime.now(UTC) + timedelta(minutes=1)) == 2

    assert [store.head(key) is None for key in ("older/a", "older/b", "older-not/c", "elsewhere/older/d")] == [
        True,
        True,
        False,
        False,
    ]


STAGING_RULE = {
    "ID": "docstore-staging-expiry",
    "Filter": {"Prefix": "staging/"},
    "Status": "Enabled",
    "Expiration": {"Days": 1},
}


ABORT_RULE = {
    "ID": "docstore-multipart-abort",
    "Filter": {"Prefix": ""},
    "Status": "Enabled",
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
}


def test_provisioned_bucket_expires_staging_objects_and_aborts_multipart_uploads_after_a_day(
    store: S3ObjectStore,
) -> None:
    rules = store.client.get_bucket_lifecycle_configuration(Bucket=store.bucket)["Rules"]

    # moto stores lifecycle rules without running them: the sweeper does their work in tests.
    assert rules == [STAGING_RULE, ABORT_RULE]


@pytest.mark.parametrize(("seconds", "days"), [(3600, 1), (86400, 1), (86401, 2), (3 * 86400, 3)])
def test_provisioning_aborts_multipart_uploads_after_the_settings_lifetime_in_whole_days_rounded_up(
    settings, target, seconds: int, days: int
) -> None:
    bucket = f"lifecycle-abort-{seconds}"

    provision(dataclasses.replace(settings, bucket_name=bucket, multipart_upload_seconds=seconds), target)

    rules = S3ObjectStore(target, bucket).client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules == [STAGING_RULE, {**ABORT_RULE, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days}}]


def test_provisioned_bucket_lets_browsers_put_parts_and_read_their_etags(store: S3ObjectStore) -> None:
    (rule,) = store.client.get_bucket_cors(Bucket=store.bucket)["CORSRules"]

    assert (rule["AllowedMethods"], rule["ExposeHeaders"]) == (["POST", "PUT", "GET", "HEAD"], ["ETag", "Location"])


def test_ensure_bucket_keeps_the_buckets_other_lifecycle_rules(target) -> None:
    bucket = S3ObjectStore(target, "lifecycle-kept")
    bucket.ensure_bucket((), expiring_prefix="staging/", expiry_days=1)
    theirs = {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}}
    bucket.client.put_bucket_lifecycle_configuration(
        Bucket=bucket.bucket, LifecycleConfiguration={"Rules": [theirs, STAGING_RULE]}
    )

    bucket.ensure_bucket((), expiring_prefix="staging/", expiry_days=3, abort_multipart_days=2)

    rules = bucket.client.get_bucket_lifecycle_configuration(Bucket=bucket.bucket)["Rules"]
    assert rules == [
        theirs,
        {**STAGING_RULE, "Expiration": {"Days": 3}},
        {**ABORT_RULE, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
    ]
