"""A botocore request's head and body leave in one write (adapters/one_send.py): the same bytes as
botocore's two writes, and the same answers; a large body, or one that waits for 100 Continue,
still follows its head."""

from __future__ import annotations

import http.client
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from adapters import one_send


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every write of a request to a socket by http.client (under botocore's and urllib3's sends),
    made by the test's own thread: the threads of a server another test left running in this
    process (the session's live servers, a pytest-xdist worker's earlier modules) send too."""
    written: list[bytes] = []
    send = http.client.HTTPConnection.send
    test = threading.get_ident()

    def recorded(self: Any, data: Any) -> None:
        if threading.get_ident() == test:
            written.append(bytes(data))
        send(self, data)

    monkeypatch.setattr(http.client.HTTPConnection, "send", recorded)
    return written


@pytest.fixture
def as_it_was() -> Iterator[None]:
    was = one_send.installed()
    yield
    if was:
        one_send.install()
    else:
        one_send.uninstall()


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def queue_calls(endpoint: str) -> tuple[list[str], str]:
    """A queue made, a message sent and received, the queue deleted: the bodies received, its name."""
    sqs = client(endpoint, "sqs")
    name = f"one-send-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])]
    sqs.delete_queue(QueueUrl=url)
    return bodies, name


def test_head_and_body_go_in_one_write_with_the_same_bytes(
    moto_endpoint: str, writes: list[bytes], as_it_was: None
) -> None:
    one_send.uninstall()
    bodies, first = queue_calls(moto_endpoint)
    apart = list(writes)
    writes.clear()
    one_send.install()

    again, second = queue_calls(moto_endpoint)

    assert bodies == again == ["hello"]
    assert len(apart) == 8  # four requests, each head, then body
    assert all(write.startswith(b"POST / HTTP/1.1\r\n") for write in apart[::2])
    assert len(writes) == 4
    # The same bytes as the two writes, but for what differs between two runs anyway.
    for together, head, body in zip(writes, apart[::2], apart[1::2], strict=True):
        assert together.endswith(b"\r\n\r\n" + body.replace(first.encode(), second.encode()))
        assert len(together) == len(head) + len(body)


def test_a_large_body_follows_its_head(moto_endpoint: str, writes: list[bytes], as_it_was: None) -> None:
    one_send.install()
    s3 = client(moto_endpoint, "s3")
    bucket = f"one-send-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    writes.clear()
    body = b"x" * (one_send.MAX_BODY + 1)

    s3.put_object(Bucket=bucket, Key="large", Body=body)
    put = list(writes)

    assert s3.get_object(Bucket=bucket, Key="large")["Body"].read() == body
    assert put[0].startswith(b"PUT /")
    assert put[0].endswith(b"\r\n\r\n")
    assert b"".join(put[1:]) == body
