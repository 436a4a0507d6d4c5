"""Requests to the embedded AWS go out with their credential scope and no SigV4 signature
(adapters/embedded_signing.py); S3, presigned forms and any other endpoint keep real SigV4."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from adapters import embedded_signing
from adapters.aws import AwsTarget
from adapters.local_aws import EmbeddedAws
from settings import EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY

SIGNATURE = re.compile(r"Signature=([0-9a-f]{64})$")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    aws = EmbeddedAws(tmp_path_factory.mktemp("signing"))
    yield aws.start()
    aws.stop()


@pytest.fixture(scope="module")
def elsewhere(moto_endpoint: str) -> str:
    """Another AWS-compatible endpoint: requests to it are signed as for AWS."""
    return moto_endpoint


def signatures(client: Any) -> list[str]:
    """Records the signature of every request ``client`` sends from now on."""
    seen: list[str] = []

    def record(request: Any, **_: Any) -> None:
        header = request.headers["Authorization"]
        found = SIGNATURE.search(header.decode() if isinstance(header, bytes) else header)
        seen.append(found.group(1) if found else "none")

    client.meta.events.register("before-send", record)
    return seen


def embedded_target(endpoint: str) -> AwsTarget:
    return AwsTarget("us-east-1", endpoint, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY, pool_size=2)


def test_dynamodb_and_sqs_requests_to_the_embedded_aws_carry_the_scope_only(embedded: str) -> None:
    target = embedded_target(embedded)
    dynamodb, sqs = target.client("dynamodb"), target.client("sqs")
    assert embedded_signing.scope_only(embedded)
    seen = signatures(dynamodb)
    sent = signatures(sqs)
    assert isinstance(dynamodb.list_tables()["TableNames"], list)
    url = sqs.create_queue(QueueName="signing")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]] == ["hello"]
    assert seen == ["0" * 64]
    assert sent == ["0" * 64] * 3


def test_the_scope_names_the_account_and_region_the_embedded_aws_keeps_apart(embedded: str) -> None:
    east = embedded_target(embedded).client("sqs")
    west = AwsTarget("us-west-2", embedded, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY, pool_size=2).client("sqs")
    east.create_queue(QueueName="only-in-east")
    assert any(url.endswith("/only-in-east") for url in east.list_queues().get("QueueUrls", []))
    assert not any(url.endswith("/only-in-east") for url in west.list_queues().get("QueueUrls", []))


def test_s3_and_its_presigned_forms_keep_sigv4(embedded: str, tmp_path: Path) -> None:
    s3 = embedded_target(embedded).client("s3")
    seen = signatures(s3)
    s3.create_bucket(Bucket="signing")
    s3.put_object(Bucket="signing", Key="k", Body=b"x")
    assert len(seen) == 2
    assert all(signature not in ("0" * 64, "none") for signature in seen)
    form = s3.generate_presigned_post("signing", "k2", ExpiresIn=60)
    assert re.fullmatch(r"[0-9a-f]{64}", form["fields"]["x-amz-signature"])
    assert form["fields"]["x-amz-signature"] != "0" * 64


def test_requests_to_any_other_endpoint_are_signed_as_for_aws(embedded: str, elsewhere: str) -> None:
    embedded_target(embedded).client("dynamodb")  # the scope-only signer is in use in this process
    other = boto3.client(
        "dynamodb",
        endpoint_url=elsewhere,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )
    assert not embedded_signing.scope_only(elsewhere)
    seen = signatures(other)
    other.list_tables()
    assert len(seen) == 1
    assert seen[0] not in ("0" * 64, "none")
