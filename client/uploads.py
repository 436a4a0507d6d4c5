"""Uploading a file as any DocStore client does: ``requestUpload`` reserves room and answers a
signed S3 form; the file goes straight to S3 in a multipart POST (streamed from disk, with a
progress bar); ``completeUpload`` has DocStore keep and count it. Then, if asked, the document is
watched until it is READY (or FAILED or REJECTED).

Nothing is left half done: when the POST or the completion fails, or the person presses Ctrl-C,
the upload is cancelled with ``deleteDocument``, which releases the reservation at once. If even
that call fails, the form expires and the API's sweeper releases it then.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import re
import sys
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, cast

import httpx
from tqdm import tqdm
from tqdm.utils import CallbackIOWrapper

from client.api import ClientError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from client.api import Api

#: Statuses a document passes through on its way to READY, FAILED or REJECTED.
UNSETTLED = frozenset({"PENDING_UPLOAD", "PROCESSING"})
#: The events after which a document's status is read again: those that end its processing.
ENDINGS = frozenset({"DocumentReady", "DocumentFailed", "DocumentDeleted"})
#: Seconds between two checks of a watched document's status, whatever the events say: an event
#: sent before the subscription started is not replayed, and a check catches what it said.
CHECK_SECONDS = 2.0
#: Seconds S3 may take to answer one POST (it streams, so this is per read or write, not overall).
S3_TIMEOUT_SECONDS = 60.0

# The names Python's mimetypes does not know, or knows differently on some systems.
mimetypes.add_type("text/markdown", ".md")
mimetypes.add_type("image/webp", ".webp")
mimetypes.add_type("image/heic", ".heic")


@dataclass(frozen=True)
class Uploaded:
    """A file DocStore took: its document as ``completeUpload`` answered."""

    path: Path
    document: dict[str, Any]


def content_type(path: Path) -> str:
    """The MIME type the file's name says; the API refuses types it does not store, and its
    workers check the bytes."""
    guessed, encoding = mimetypes.guess_type(path.name)
    if encoding == "gzip":
        return "application/gzip"
    return guessed or "application/octet-stream"


def upload(
    api: Api,
    path: Path,
    *,
    tags: Sequence[str] = (),
    kind: str | None = None,
    s3: httpx.Client | None = None,
) -> Uploaded:
    """Upload one file; :class:`ClientError` with the reason when it is refused or fails, and then
    nothing of it remains (no pending document, no reserved bytes)."""
    try:
        file = path.open("rb")
    except OSError as error:
        raise ClientError(f"Cannot read {path}: {error.strerror}.") from None
    with file:
        size = path.stat().st_size
        if size == 0:
            raise ClientError(f"{path} is empty: DocStore keeps files of at least 1 byte.")
        kind = kind or content_type(path)
        request = {"filename": path.name, "contentType": kind, "size": size, "tags": list(tags)}
        form = api.call("RequestUpload", {"input": request})["requestUpload"]
        if form["__typename"] != "UploadForm":
            raise ClientError(f"{path.name}: {form['message']}")
        document_id = form["documentId"]
        try:
            post_form(form, file, path.name, kind, size, s3)
            completed = api.call("CompleteUpload", {"input": {"documentId": document_id}})["completeUpload"]
        except BaseException:
            _cancel(api, document_id)
            raise
    if completed["__typename"] != "Document":
        # A rejected completion has released the reservation itself; cancelling forgets the record.
        _cancel(api, document_id)
        raise ClientError(f"{path.name}: {completed['message']}")
    return Uploaded(path=path, document=completed)


def byte_bar(label: str, total: int | None, *, initial: int = 0, shown: bool = True) -> tqdm[Any]:
    """The progress bar of bytes sent or received, on stderr, and only on a terminal."""
    return tqdm(
        total=total,
        initial=initial,
        desc=label,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=None if shown else True,
    )


def post_form(
    form: dict[str, Any],
    file: IO[bytes],
    name: str,
    kind: str,
    size: int,
    s3: httpx.Client | None,
    *,
    progress: bool = True,
) -> None:
    """POST the form's fields, then the file, streamed from disk with a progress bar (unless not
    ``progress``)."""
    fields = {field["name"]: field["value"] for field in form["fields"]}
    client = s3 or httpx.Client(timeout=S3_TIMEOUT_SECONDS)
    try:
        with byte_bar(name, size, shown=progress) as bar:
            reader = cast("IO[bytes]", CallbackIOWrapper(bar.update, file, "read"))  # file-like, as httpx wants
            response = client.post(form["url"], data=fields, files={"file": (name, reader, kind)})
    except httpx.HTTPError as error:
        raise ClientError(f"{name}: the upload to S3 failed: {error}") from None
    finally:
        if s3 is None:
            client.close()
    if not (response.is_success or response.status_code == 303):
        raise ClientError(f"{name}: S3 refused the file: {_s3_reason(response)}")


def _s3_reason(response: httpx.Response) -> str:
    """S3's own words for a refusal (its XML error's Code and Message), else the HTTP status."""
    code = re.search(r"<Code>([^<]*)</Code>", response.text)
    message = re.search(r"<Message>([^<]*)</Message>", response.text)
    if code:
        return f"{code.group(1)}: {message.group(1) if message else ''}".rstrip(": ")
    return f"HTTP {response.status_code}"


def _cancel(api: Api, document_id: str) -> None:
    """Release an upload that will not complete. Best effort: if the API cannot be reached, the
    form expires and the sweeper releases the reservation then."""
    with contextlib.suppress(ClientError):
        api.call("DeleteDocument", {"input": {"id": document_id}})


def wait_settled(
    api: Api, document_ids: Sequence[str], timeout: float, settled: Callable[[dict[str, Any]], None]
) -> list[str]:
    """Watch the documents until none is PROCESSING, through the ``DocumentEvents`` subscription
    (each event about one of them has its status read again), calling ``settled`` with each
    document once it is done. Returns the ids still unsettled when ``timeout`` seconds passed."""
    return asyncio.run(_watch(api, list(document_ids), timeout, settled))


async def _watch(
    api: Api, document_ids: list[str], seconds: float, settled: Callable[[dict[str, Any]], None]
) -> list[str]:
    woken: asyncio.Queue[str] = asyncio.Queue()
    failure: list[ClientError] = []

    async def listen() -> None:
        try:
            async for event in api.subscribe("DocumentEvents"):
                if event["documentEvents"]["__typename"] in ENDINGS:
                    woken.put_nowait(event["documentEvents"]["documentId"])
        except ClientError as error:
            failure.append(error)
            woken.put_nowait("")

    listener = asyncio.create_task(listen())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    waiting = list(document_ids)
    check = set(waiting)
    try:
        while waiting:
            for document_id in [document_id for document_id in waiting if document_id in check]:
                document = (await asyncio.to_thread(api.call, "Document", {"id": document_id}))["document"]
                if document is None or document["status"] not in UNSETTLED:
                    waiting.remove(document_id)
                    settled(document or {"id": document_id, "status": "DELETED"})
            if failure:
                raise failure[0]
            left = deadline - loop.time()
            if not waiting or left <= 0:
                break
            try:
                check = {await asyncio.wait_for(woken.get(), min(CHECK_SECONDS, left))}
            except TimeoutError:
                check = set(waiting)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    return waiting
