"""A multipart upload's parts sent as any client sends them: ``uploadedParts`` says what S3 holds
already, ``signUploadParts`` signs a PUT URL for each part missing, the parts go straight to S3
several at a time (threads, each reading its part of the file), with one progress bar for the
file; ``uploadedParts`` again gives the list ``completeMultipartUpload`` takes.

Sending only what is missing is what makes an interrupted upload resumable: run again with the
same ``documentId``, it sends the parts that did not arrive and none of those that did.
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

import httpx

from client.api import ClientError
from client.uploads import byte_bar

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from client.api import Api

#: Parts one signUploadParts call asks for (the API's default most, DOCSTORE_MULTIPART_SIGN_MAX_PARTS).
SIGN_BATCH = 100
#: Bytes of a part handed to the socket at a time, so the progress bar moves within a part.
CHUNK = 1024 * 1024
#: Seconds S3 may take to answer one read or write of a part.
S3_TIMEOUT_SECONDS = 120.0


def part_length(number: int, size: int, part_size: int) -> int:
    """The size of part ``number`` (from 1) of a ``size``-byte file cut in ``part_size`` parts."""
    return max(0, min(part_size, size - (number - 1) * part_size))


def held(api: Api, document_id: str) -> dict[int, dict[str, Any]]:
    """The parts S3 holds for the upload, by number."""
    parts = api.call("UploadedParts", {"documentId": document_id})["uploadedParts"]
    return {part["number"]: part for part in parts}


def send(
    api: Api,
    document_id: str,
    path: Path,
    *,
    size: int,
    part_size: int,
    parallel: int,
    s3: httpx.Client,
    label: str,
) -> list[dict[str, Any]]:
    """Send the parts of ``path`` that S3 does not hold (or holds at another size), ``parallel``
    at a time; the parts to complete the upload with, ``[{number, etag}]``. :class:`ClientError`
    when a part cannot be sent: the parts sent so far stay, for the next attempt."""
    count = -(-size // part_size)
    there = held(api, document_id)
    missing = [
        number
        for number in range(1, count + 1)
        if number not in there or there[number]["size"] != part_length(number, size, part_size)
    ]
    done_bytes = size - sum(part_length(number, size, part_size) for number in missing)
    lock = threading.Lock()
    with (
        byte_bar(label, size, initial=done_bytes) as bar,
        path.open("rb") as file,
        ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="docstore-part") as pool,
    ):

        def moved(amount: int) -> None:
            with lock:
                bar.update(amount)

        for start in range(0, len(missing), SIGN_BATCH):
            batch = missing[start : start + SIGN_BATCH]
            urls = _signed(api, document_id, batch)
            futures = [
                pool.submit(
                    _put,
                    s3,
                    urls[number],
                    file.fileno(),
                    (number - 1) * part_size,
                    part_length(number, size, part_size),
                    moved,
                )
                for number in batch
            ]
            finished, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            for future in finished:
                error = future.exception()
                if error is not None:
                    wait(pending)
                    raise error
    return [{"number": part["number"], "etag": part["etag"]} for _, part in sorted(held(api, document_id).items())]


def _signed(api: Api, document_id: str, numbers: list[int]) -> dict[int, str]:
    answer = api.call("SignUploadParts", {"input": {"documentId": document_id, "partNumbers": numbers}})
    signed = answer["signUploadParts"]
    if signed["__typename"] != "SignedUploadParts":
        raise ClientError(signed["message"])
    return {part["number"]: part["url"] for part in signed["parts"]}


def _put(s3: httpx.Client, url: str, descriptor: int, offset: int, length: int, moved: Any) -> None:
    """PUT one part, read with ``pread`` (the threads share the file), in chunks that move the bar."""

    def chunks() -> Iterator[bytes]:
        sent = 0
        while sent < length:
            chunk = os.pread(descriptor, min(CHUNK, length - sent), offset + sent)
            if not chunk:
                raise ClientError("the file got shorter while it was being sent")
            sent += len(chunk)
            yield chunk
            moved(len(chunk))

    try:
        response = s3.put(url, content=chunks(), headers={"Content-Length": str(length)}, timeout=S3_TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        raise ClientError(f"a part could not be sent to S3: {error}") from None
    if not response.is_success:
        code = re.search(r"<Code>([^<]*)</Code>", response.text)
        raise ClientError(f"S3 refused a part: {code.group(1) if code else f'HTTP {response.status_code}'}")
