"""The embedded AWS captures what a request changed while other requests change the same objects:
S3's requests run in moto at once, and a capture pickles live objects."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from adapters import moto_state
from adapters.aws import EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY, AwsTarget
from adapters.local_aws import EmbeddedAws

if TYPE_CHECKING:
    from pathlib import Path

PARTS = 64
THREADS = 8
PART_BYTES = 64 << 10


class Part:
    """A part whose pickling adds a part to its upload the first ``times`` times: another
    request's thread, adding a part while the interpreter switched to it."""

    def __init__(self, parts: dict[int, Any], times: int) -> None:
        self.parts = parts
        self.times = times

    def __reduce__(self) -> tuple[Any, ...]:
        if self.times:
            self.times -= 1
            self.parts[len(self.parts) + 1] = "another part"
        return (str, ("a part",))


class Bucket:
    def __init__(self, times: int) -> None:
        self.name = "bucket"
        self.multiparts: dict[int, Any] = {}
        self.multiparts[1] = Part(self.multiparts, times)
        self.multiparts[2] = "a second part"  # a dict of one item is pickled without a loop to check
        self.keys = {"not": "captured with the bucket"}


def test_a_bucket_changed_while_it_is_pickled_is_pickled_again_whole() -> None:
    bucket = Bucket(times=3)

    captured = pickle.loads(moto_state._without(bucket, "keys"))

    assert captured == {
        "name": "bucket",
        "multiparts": {1: "a part", 2: "a second part", 3: "another part", 4: "another part", 5: "another part"},
    }


def test_a_bucket_that_never_stops_changing_fails_its_capture_after_the_last_attempt() -> None:
    bucket = Bucket(times=moto_state.PICKLE_ATTEMPTS)

    with pytest.raises(RuntimeError, match="changed size during iteration"):
        moto_state._without(bucket, "keys")

    assert len(bucket.multiparts) == moto_state.PICKLE_ATTEMPTS + 2


def test_parts_of_one_upload_sent_at_once_are_all_taken_and_kept_across_a_restart(tmp_path: Path) -> None:
    # What the two tests above make certain happens here only now and then (the sync benchmark's
    # 16 MiB parts, 4 at once, met it on its first run): this one checks the whole path, not the race.
    aws = EmbeddedAws(tmp_path / "aws")
    endpoint = aws.start()
    try:
        s3 = AwsTarget("us-west-2", endpoint, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY, pool_size=THREADS).client(
            "s3", timeout=30
        )  # one attempt each: a 500 is not retried away
        s3.create_bucket(Bucket="parts", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        upload = s3.create_multipart_upload(Bucket="parts", Key="big")["UploadId"]

        def send(number: int) -> str:
            answer = s3.upload_part(
                Bucket="parts",
                Key="big",
                UploadId=upload,
                PartNumber=number,
                Body=(b"%d" % number).ljust(PART_BYTES, b"."),
            )
            return str(answer["ETag"])

        with ThreadPoolExecutor(THREADS) as pool:
            etags = list(pool.map(send, range(1, PARTS + 1)))
    finally:
        aws.stop()
    assert len(set(etags)) == PARTS

    endpoint = aws.start()
    try:
        s3 = AwsTarget("us-west-2", endpoint, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY, pool_size=2).client("s3")
        listed = s3.list_parts(Bucket="parts", Key="big", UploadId=upload, MaxParts=1000)["Parts"]
    finally:
        aws.stop()
    assert [(part["PartNumber"], part["ETag"]) for part in listed] == list(zip(range(1, PARTS + 1), etags, strict=True))
