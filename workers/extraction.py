"""The extraction pool: text extraction and thumbnails in separate processes, with a wall-clock and a memory
limit per file.

A file can make an extractor loop, allocate without end or crash: page trees that loop, decompression
bombs, images that claim billions of pixels. So no extractor runs in the worker's process. Each file
goes to an extraction process (``workers.extractors.sandbox``) that caps its own address space with
RLIMIT_AS; when a file overruns the wall-clock limit, the pool kills that process with SIGKILL,
together with its process group (tesseract, if it is running OCR), and the next file gets a fresh
one. Whatever a file does, ``extract`` returns or raises ``ExtractionFailed``, and the pool goes on.

concurrent.futures' process pool is no use here: killing one of its workers breaks the whole pool
(``BrokenProcessPool``), and it cannot pass progress on while a file is being read.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

from workers.extractors import frames
from workers.extractors.base import CRASHED, TIMEOUT, Extracted, ExtractionFailed, GiB
from workers.extractors.registry import EXTRACTABLE, THUMBNAILS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from anyio.abc import ByteSendStream, Process

__all__ = ["Extracted", "Extraction", "ExtractionFailed", "Thumbnail"]

#: The folder holding the ``workers`` package, where ``python -m`` finds it even if it is not installed.
ROOT = Path(__file__).resolve().parent.parent
#: A process is replaced after this many files, so that memory it leaked or fragmented does not count
#: against the limit of later files.
FILES_PER_PROCESS = 100
#: How long a new process may take to say it is ready: it imports pypdf, pdfium, Pillow, lxml, ...
START_SECONDS = 60.0
#: How long a process that closed its pipes is given to exit by itself.
EXIT_SECONDS = 5.0
#: What an extraction process's log may look like (``adapters.logs``).
LOG_FORMATS = frozenset({"json", "text"})


@dataclass(frozen=True)
class Thumbnail:
    """A thumbnail an extraction process wrote: the WebP at ``path``, ``size`` pixels on its longer
    side at most."""

    size: int
    path: Path


class Extraction:
    """A pool of extraction processes with a wall-clock and a memory limit per file.

    Up to ``processes`` files are extracted at once, each in its own process; processes start when
    first needed and are reused. ``seconds`` limits each file's extraction from the moment it is sent
    (a process's start does not count); ``memory_bytes`` is the address space each process may use;
    the processes log in ``log_format`` (``json`` or ``text``, as ``DOCSTORE_LOG_FORMAT``).
    Open and close it in one event loop.
    """

    def __init__(
        self, *, processes: int = 2, seconds: float = 60.0, memory_bytes: int = GiB, log_format: str = "json"
    ) -> None:
        if processes < 1:
            raise ValueError("an extraction pool needs at least one process")
        if log_format not in LOG_FORMATS:
            raise ValueError(f"an extraction pool logs in one of {sorted(LOG_FORMATS)}, not {log_format!r}")
        self.seconds = seconds
        self.memory_bytes = memory_bytes
        self.log_format = log_format
        self._slots = anyio.Semaphore(processes)
        self._idle: list[_Child] = []
        self._children: set[_Child] = set()
        self._closed = False

    async def extract(
        self,
        path: Path,
        content_type: str,
        progress: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> Extracted:
        """The text of the file at ``path``, of type ``content_type`` (as ``workers.detect`` found it,
        one that an extractor declares: ``workers.extractors.registry``).

        Raises ``ExtractionFailed`` with a reason for the document's owner for anything the file
        causes: unreadable, refused by an extractor, past the time or memory limit, or crashing its
        process; the pool replaces a process it lost. ``progress(page, pages)`` is awaited as pages
        of a paged format complete, at most a few times a second (the extraction process throttles
        it) and always for the last page; the time it takes counts against the limit. Raises
        ``ValueError`` for a type without an extractor, and ``RuntimeError`` if no extraction process
        can start (tesseract missing, say) or the pool is closed: neither is the file's fault.
        """
        if content_type not in EXTRACTABLE:
            raise ValueError(f"no extractor for {content_type}")
        # Absolute: the process runs in ROOT.
        request = {"path": str(await anyio.Path(path).absolute()), "content_type": content_type}
        reply = await self._ask(request, self.seconds, progress)
        return Extracted(reply["text"], reply["pages"])

    async def thumbnails(
        self, path: Path, content_type: str, folder: Path, sizes: Sequence[int], *, seconds: float
    ) -> list[Thumbnail]:
        """Thumbnails of the file at ``path`` (of a type ``registry.THUMBNAILS`` names), one WebP per
        size (its longer side, in pixels) written into ``folder``, made within ``seconds`` in an
        extraction process under the pool's memory limit (``workers.extractors.thumbnails``).

        Raises ``ExtractionFailed`` as ``extract`` does for anything the file causes, ``TIMEOUT``
        past ``seconds``; ``ValueError`` for a type that has no thumbnails."""
        if content_type not in THUMBNAILS:
            raise ValueError(f"no thumbnails of {content_type}")
        request = {
            "thumbnails": {
                "path": str(await anyio.Path(path).absolute()),
                "content_type": content_type,
                "folder": str(await anyio.Path(folder).absolute()),
                "sizes": list(sizes),
            }
        }
        reply = await self._ask(request, seconds, None)
        return [Thumbnail(int(size), Path(written)) for size, written in reply["thumbnails"]]

    async def _ask(
        self, request: dict[str, Any], seconds: float, progress: Callable[[int, int], Awaitable[None]] | None
    ) -> dict[str, Any]:
        """Send ``request`` to an extraction process and return its answer, within ``seconds``."""
        async with self._slots:
            child = await self._take()
            reply: dict[str, Any] = {}
            try:
                with anyio.move_on_after(seconds) as deadline:
                    await child.send(request)
                    while "progress" in (reply := await child.receive()):
                        if progress is not None:
                            await progress(*reply["progress"])
            except _Died:
                with anyio.move_on_after(EXIT_SECONDS):
                    await child.process.wait()  # so that it is its own death, not the kill below, that is reported
                await self._discard(child)
                if self._closed:
                    raise RuntimeError("the extraction pool was closed during the extraction") from None
                raise ExtractionFailed(child.death(), CRASHED) from None
            except BaseException:
                # Cancelled, or ``progress`` failed: the process is mid-file and of no further use.
                await self._discard(child)
                raise
            if deadline.cancelled_caught:
                await self._discard(child)
                raise ExtractionFailed(f"took longer than {seconds:g} s", TIMEOUT)
            child.files += 1
            if reply.get("retire") or child.files >= FILES_PER_PROCESS:
                await self._discard(child)
            else:
                self._idle.append(child)
        if "failed" in reply:
            raise ExtractionFailed(reply["failed"], reply["kind"])
        return reply

    async def aclose(self) -> None:
        """Kill every extraction process; extractions still running raise ``RuntimeError``."""
        self._closed = True
        for child in list(self._children):
            await self._discard(child)

    async def _take(self) -> _Child:
        if self._closed:
            raise RuntimeError("the extraction pool is closed")
        while self._idle:
            child = self._idle.pop()
            if child.process.returncode is None:
                return child
            await self._discard(child)
        child = await _Child.start(self.memory_bytes, self.log_format)
        if self._closed:  # while it started
            await child.kill()
            raise RuntimeError("the extraction pool is closed")
        self._children.add(child)
        return child

    async def _discard(self, child: _Child) -> None:
        self._children.discard(child)
        with suppress(ValueError):
            self._idle.remove(child)
        await child.kill()


class _Died(Exception):
    """The extraction process closed its end of the pipes."""


class _Child:
    """One extraction process and its pipes."""

    def __init__(self, process: Process) -> None:
        if process.stdin is None or process.stdout is None:
            raise TypeError("an extraction process needs its stdin and stdout as pipes")
        self.process = process
        self.stdin: ByteSendStream = process.stdin
        self.stdout = BufferedByteReceiveStream(process.stdout)
        self.files = 0

    @classmethod
    async def start(cls, memory_bytes: int, log_format: str) -> _Child:
        process = await anyio.open_process(
            [sys.executable, "-m", "workers.extractors.sandbox", str(memory_bytes), log_format],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # its log goes where this process's goes
            cwd=ROOT,
            start_new_session=True,  # its own process group, so that a kill takes its subprocesses too
        )
        child = cls(process)
        hello: dict[str, Any] = {}
        try:
            with anyio.move_on_after(START_SECONDS):
                hello = await child.receive()
        except _Died:
            pass
        finally:
            if not hello.get("ready"):
                await child.kill()
        if not hello.get("ready"):
            why = hello.get("error") or "it ended or hung before it was ready (its errors are in this process's log)"
            raise RuntimeError(f"an extraction process did not start: {why}")
        return child

    async def send(self, message: dict[str, Any]) -> None:
        try:
            await self.stdin.send(frames.encode(message))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, BrokenPipeError, ConnectionResetError):
            raise _Died from None

    async def receive(self) -> dict[str, Any]:
        try:
            length = frames.length(await self.stdout.receive_exactly(frames.HEADER.size))
            body = await self.stdout.receive_exactly(length)
        except (anyio.IncompleteRead, anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise _Died from None
        return frames.decode(body)

    def death(self) -> str:
        """Why the process ended, for the owner of the file it was reading."""
        code = self.process.returncode
        if code is not None and code < 0:
            return f"the extraction process crashed ({signal.Signals(-code).name})"
        return f"the extraction process ended unexpectedly (exit status {code})"

    async def kill(self) -> None:
        """SIGKILL the process and its group, and reap it."""
        # The group outlives a leader that died by itself while tesseract, say, still runs in it.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with anyio.CancelScope(shield=True):
            await self.process.aclose()
