"""The extraction process: ``python -m workers.extractors.sandbox MEMORY_BYTES LOG_FORMAT``, started
and killed by ``workers.extraction``; it extracts one file at a time, under an address-space limit,
and logs in the worker's format (``json`` or ``text``). It reads no settings of its own: the pool
passes them.

It speaks on stdin and stdout in frames (``workers.extractors.frames``: an 8-byte big-endian length
and that many bytes of UTF-8 JSON; anything else written to stdout, by a library, goes to stderr
instead). Once started it says
``{"ready": true}``, or ``{"error": why}`` and exits. Then, for each request ``{"path": ...,
"content_type": ...}`` it answers with any number of ``{"progress": [page, pages]}`` and one of
``{"text": ..., "pages": ...}`` or ``{"failed": reason, "kind": class}``. For a request of thumbnails
``{"thumbnails": {"path": ..., "content_type": ..., "folder": ..., "sizes": [...]}}`` it writes them
into ``folder`` (``workers.extractors.thumbnails``) and answers ``{"thumbnails": [[size, path], ...]}``
or the same ``failed``. ``"retire": true`` in an answer means it exits after it (its memory may be
spent); so does the end of stdin.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from adapters import logs
from workers.extractors import frames, image, registry, thumbnails
from workers.extractors.base import MEMORY, OTHER, UNREADABLE, ExtractionFailed, amount
from workers.extractors.frames import encode

if TYPE_CHECKING:
    from collections.abc import Sequence

    from workers.extractors.base import Extractor

log = logging.getLogger(__name__)

#: The extractor for each type, from the declarations (``workers.extractors.registry``).
EXTRACTORS: dict[str, Extractor] = {
    content_type: importlib.import_module(declared.module).extract
    for content_type, declared in registry.BY_TYPE.items()
}

LONE_SURROGATE = re.compile("[\ud800-\udfff]")

#: Progress is passed on at most this often, the last page always: the one throttle between an
#: extractor's pages and the pipeline's progress events.
PROGRESS_SECONDS = 0.25


class Channel:
    """Length-prefixed JSON messages over a pair of pipes."""

    def __init__(self, incoming: BinaryIO, outgoing: BinaryIO) -> None:
        self.incoming = incoming
        self.outgoing = outgoing

    def receive(self) -> dict[str, Any] | None:
        """The next message, or None at the end of the input."""
        header = self.incoming.read(frames.HEADER.size)
        if len(header) < frames.HEADER.size:
            return None
        return frames.decode(self.incoming.read(frames.length(header)))

    def send(self, message: dict[str, Any]) -> None:
        self.outgoing.write(encode(message))
        self.outgoing.flush()


class Progress:
    """``progress(page, pages)`` for an extractor: passed on to the parent, throttled."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.last = time.monotonic()

    def __call__(self, page: int, pages: int) -> None:
        now = time.monotonic()
        if page == pages or now - self.last >= PROGRESS_SECONDS:
            self.last = now
            self.channel.send({"progress": [page, pages]})


def answer(request: dict[str, Any], channel: Channel, memory_bytes: int) -> tuple[bytes, bool]:
    """The encoded answer to one request, and whether this process should exit after it. (Encoded
    here, so that running out of memory while encoding a large text counts as running out while
    extracting it.)"""
    if "thumbnails" in request:
        return thumbnail(request["thumbnails"], memory_bytes)
    content_type: str = request["content_type"]
    extractor = EXTRACTORS.get(content_type)
    if extractor is None:
        return encode({"failed": f"no extractor for {content_type}", "kind": OTHER}), False
    try:
        extracted = extractor(Path(request["path"]), content_type, Progress(channel))
        # Broken font maps can give lone surrogates, which no UTF-8 encoder downstream would take.
        text = LONE_SURROGATE.sub("\ufffd", extracted.text)
        return encode({"text": text, "pages": extracted.pages}), False
    except ExtractionFailed as failure:
        return encode({"failed": failure.reason, "kind": failure.kind}), False
    except MemoryError:
        # What is left of the heap may be too fragmented to trust with the next file.
        reason = f"needed more than {amount(memory_bytes)} of memory"
        return encode({"failed": reason, "kind": MEMORY, "retire": True}), True
    except Exception:
        log.exception("extracting %s (%s) failed", request["path"], content_type)
        return encode({"failed": "the file could not be read", "kind": UNREADABLE}), False


def thumbnail(request: dict[str, Any], memory_bytes: int) -> tuple[bytes, bool]:
    """The encoded answer to a request of thumbnails, and whether this process should exit after it."""
    try:
        written = thumbnails.render(
            Path(request["path"]), request["content_type"], Path(request["folder"]), request["sizes"]
        )
        return encode({"thumbnails": [[size, str(path)] for size, path in written]}), False
    except ExtractionFailed as failure:
        return encode({"failed": failure.reason, "kind": failure.kind}), False
    except MemoryError:
        reason = f"needed more than {amount(memory_bytes)} of memory"
        return encode({"failed": reason, "kind": MEMORY, "retire": True}), True
    except Exception:
        log.exception("thumbnails of %s (%s) failed", request["path"], request["content_type"])
        return encode({"failed": "the file could not be read", "kind": UNREADABLE}), False


def limit_memory(memory_bytes: int) -> None:
    """Cap this process's address space (and so its heap) at ``memory_bytes``; children inherit it."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        memory_bytes = min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def main(argv: Sequence[str] | None = None) -> int:
    memory, log_format = sys.argv[1:] if argv is None else argv
    memory_bytes = int(memory)
    # The messages get stdout to themselves: what libraries print goes to stderr with their logging.
    outgoing = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    channel = Channel(sys.stdin.buffer, outgoing)
    # The worker's log format (DOCSTORE_LOG_FORMAT, passed in), secrets scrubbed, on the stderr they share.
    logs.configure(log_format, level=logging.WARNING)
    # pypdf warns about every flaw it works around; what matters reaches the owner as the reason.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    # The pool runs processes side by side already. Tesseract's OpenMP threads bring little speed for
    # much CPU in recognition, by its maintainers' account (tesseract-ocr/tesseract#3744).
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    try:
        image.check_installed()
    except RuntimeError as error:
        channel.send({"error": str(error)})
        return 1
    limit_memory(memory_bytes)
    channel.send({"ready": True})
    while (request := channel.receive()) is not None:
        reply, retire = answer(request, channel, memory_bytes)
        outgoing.write(reply)
        outgoing.flush()
        if retire:
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
