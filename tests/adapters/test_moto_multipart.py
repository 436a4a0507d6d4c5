"""moto's S3 multipart uploads, patched (adapters/moto_multipart.py): S3's answer for an upload
that is gone, an assembly that never joins the file in memory, and, in the embedded AWS, parts
kept on disk across a kill."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.s3.models import FakeMultipart

from adapters import moto_multipart
from tests.adapters.test_embedded_aws import clients, kill, started

MIB = 1024**2
FIRST = os.urandom(5 * MIB)
LAST = os.urandom(1234)


@pytest.fixture(scope="module")
def s3(moto_endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def patched() -> Iterator[None]:
    was_installed = moto_multipart.installed()
    moto_multipart.install()
    yield
    if not was_installed:
        moto_multipart.uninstall()


@pytest.fixture
def unpatched() -> Iterator[None]:
    was_installed = moto_multipart.installed()
    moto_multipart.uninstall()
    yield
    if was_installed:
        moto_multipart.install()


def bucket(s3: Any) -> str:
    name = f"mp-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return name


def two_parts(s3: Any, name: str, key: str = "big.bin") -> tuple[str, list[dict[str, Any]]]:
    upload = s3.create_multipart_upload(Bucket=name, Key=key)["UploadId"]
    parts = [
        {
            "PartNumber": number,
            "ETag": s3.upload_part(Bucket=name, Key=key, UploadId=upload, PartNumber=number, Body=body)["ETag"],
        }
        for number, body in ((1, FIRST), (2, LAST))
    ]
    return upload, parts


def assembled(s3: Any, name: str, key: str = "big.bin") -> tuple[bytes, str, int]:
    got = s3.get_object(Bucket=name, Key=key)
    return got["Body"].read(), got["ETag"], got["ContentLength"]


def code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


EXPECTED_ETAG = '"' + hashlib.md5(hashlib.md5(FIRST).digest() + hashlib.md5(LAST).digest()).hexdigest() + '-2"'


def test_assembly_gives_moto_s_bytes_and_etag_without_joining_the_parts(s3, patched, monkeypatch) -> None:
    def joined(*_: Any, **__: Any) -> Any:
        raise AssertionError("FakeMultipart.complete joins every part in memory")

    monkeypatch.setattr(FakeMultipart, "complete", joined)
    name = bucket(s3)
    upload, parts = two_parts(s3, name)

    s3.complete_multipart_upload(Bucket=name, Key="big.bin", UploadId=upload, MultipartUpload={"Parts": parts})

    assert assembled(s3, name) == (FIRST + LAST, EXPECTED_ETAG, len(FIRST) + len(LAST))
    assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []


def test_unpatched_moto_assembles_the_same_object(s3, unpatched) -> None:
    name = bucket(s3)
    upload, parts = two_parts(s3, name)

    s3.complete_multipart_upload(Bucket=name, Key="big.bin", UploadId=upload, MultipartUpload={"Parts": parts})

    assert assembled(s3, name) == (FIRST + LAST, EXPECTED_ETAG, len(FIRST) + len(LAST))


@pytest.mark.parametrize("which", ["patched", "unpatched"])
def test_refusals_are_moto_s_own(s3, which: str, request) -> None:
    request.getfixturevalue(which)
    name = bucket(s3)
    upload, parts = two_parts(s3, name)
    small = s3.create_multipart_upload(Bucket=name, Key="small.bin")["UploadId"]
    tiny = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(Bucket=name, Key="small.bin", UploadId=small, PartNumber=n, Body=b"x")["ETag"],
        }
        for n in (1, 2)
    ]

    with pytest.raises(ClientError) as wrong_etag:
        s3.complete_multipart_upload(
            Bucket=name,
            Key="big.bin",
            UploadId=upload,
            MultipartUpload={"Parts": [parts[0], {**parts[1], "ETag": parts[0]["ETag"]}]},
        )
    with pytest.raises(ClientError) as too_small:
        s3.complete_multipart_upload(Bucket=name, Key="small.bin", UploadId=small, MultipartUpload={"Parts": tiny})

    assert (code(wrong_etag), code(too_small)) == (("InvalidPart", 400), ("EntityTooSmall", 400))
    # Refused: nothing assembled, both uploads still open.
    assert sorted(item["Key"] for item in s3.list_multipart_uploads(Bucket=name)["Uploads"]) == ["big.bin", "small.bin"]
    assert "Contents" not in s3.list_objects_v2(Bucket=name)


def test_a_part_or_a_completion_for_an_upload_that_is_gone_is_no_such_upload(s3, patched) -> None:
    name = bucket(s3)
    upload, parts = two_parts(s3, name)
    s3.complete_multipart_upload(Bucket=name, Key="big.bin", UploadId=upload, MultipartUpload={"Parts": parts})
    aborted = s3.create_multipart_upload(Bucket=name, Key="aborted.bin")["UploadId"]
    s3.abort_multipart_upload(Bucket=name, Key="aborted.bin", UploadId=aborted)

    with pytest.raises(ClientError) as late_part:
        s3.upload_part(Bucket=name, Key="big.bin", UploadId=upload, PartNumber=1, Body=b"changed")
    with pytest.raises(ClientError) as after_abort:
        s3.complete_multipart_upload(Bucket=name, Key="aborted.bin", UploadId=aborted, MultipartUpload={"Parts": parts})

    assert (code(late_part), code(after_abort)) == (("NoSuchUpload", 404), ("NoSuchUpload", 404))
    assert assembled(s3, name) == (FIRST + LAST, EXPECTED_ETAG, len(FIRST) + len(LAST))


def test_unpatched_moto_answers_500_for_a_part_of_an_upload_that_is_gone(s3, unpatched) -> None:
    name = bucket(s3)
    upload, parts = two_parts(s3, name)
    s3.complete_multipart_upload(Bucket=name, Key="big.bin", UploadId=upload, MultipartUpload={"Parts": parts})

    with pytest.raises(ClientError) as late_part:
        s3.upload_part(Bucket=name, Key="big.bin", UploadId=upload, PartNumber=1, Body=b"changed")

    assert code(late_part)[1] == 500  # what the patch is for; when this fails, moto fixed it upstream


def blob_files(folder: Path) -> list[bytes]:
    return sorted(path.read_bytes() for path in (folder / "aws" / "blobs").rglob("*") if path.is_file())


def test_embedded_parts_are_files_that_survive_a_kill_and_go_once_assembled(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    aws = started(folder)
    _, s3, *_ = clients(aws.endpoint_url)
    name = bucket(s3)
    upload = s3.create_multipart_upload(Bucket=name, Key="big.bin")["UploadId"]
    first = s3.upload_part(Bucket=name, Key="big.bin", UploadId=upload, PartNumber=1, Body=FIRST)["ETag"]
    assert blob_files(folder) == [FIRST]  # the part's bytes are a file, not the server's memory
    kill(aws)

    aws = started(folder)
    _, s3, *_ = clients(aws.endpoint_url)
    listed = s3.list_parts(Bucket=name, Key="big.bin", UploadId=upload)["Parts"]
    assert [(part["PartNumber"], part["ETag"], part["Size"]) for part in listed] == [(1, first, len(FIRST))]
    last = s3.upload_part(Bucket=name, Key="big.bin", UploadId=upload, PartNumber=2, Body=LAST)["ETag"]
    s3.complete_multipart_upload(
        Bucket=name,
        Key="big.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": last}]},
    )
    kill(aws)

    aws = started(folder)
    _, s3, *_ = clients(aws.endpoint_url)
    assert assembled(s3, name) == (FIRST + LAST, EXPECTED_ETAG, len(FIRST) + len(LAST))
    assert blob_files(folder) == [FIRST + LAST]  # the parts' files went with the upload
    assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
    aws.stop()
