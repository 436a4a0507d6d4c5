"""What an extractor is: a function from a file of one detected type to its text.

Every extractor runs inside an extraction process (``workers.extractors.sandbox``), never in a
worker's own process, and is held to this contract:

- It is called with a local path, the type that ``workers.detect`` found in the file's bytes (one its
  declaration names: ``workers.extractors.registry``), and a ``progress`` callback. The type says
  what the file should be, not that it is well formed: anything in the file may be wrong, truncated
  or hostile.
- It returns ``Extracted``: the text, and the page count for paged formats. Paged formats separate
  pages with a form feed (``"\\f"``), so page ``n`` is ``text.split("\\f")[n - 1]``; a page with no
  text is an empty string between two form feeds. A file with no words is a success with
  whitespace-only text, not a failure.
- It calls ``progress(page, pages)`` after each page of a paged format. The callback is cheap (the
  sandbox throttles what reaches the parent); formats without pages never call it.
- It raises ``ExtractionFailed(reason, kind)`` for what it recognises as wrong with the file
  (encrypted, malformed, claiming sizes past its limits), with a reason written for the document's
  owner and one of the few ``kind`` classes that metrics count. Any other exception is reported as
  "the file could not be read" (``UNREADABLE``), with the traceback in the log.
- It refuses input whose declared size is past a limit *before* allocating for it (image pixels,
  unpacked zip sizes), so that the reason names the cause. Beyond that it need not guard its time or
  memory: the process runs under an address-space limit (``MemoryError`` becomes "needed more than
  ... of memory") and is killed, with any subprocess it started, when the wall-clock limit passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    #: ``progress(page, pages)``: ``page`` of ``pages`` is done.
    PageProgress = Callable[[int, int], None]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

#: Separates the pages of a paged format in ``Extracted.text``.
PAGE_BREAK = "\f"


#: Why an extraction failed, as metrics count it (``docstore_extraction_failures_total{reason}``).
TIMEOUT, MEMORY, CRASHED, ENCRYPTED, TOO_LARGE, OCR, INVALID, UNREADABLE, OTHER = (
    "TIMEOUT",
    "MEMORY",
    "CRASHED",
    "ENCRYPTED",
    "TOO_LARGE",
    "OCR",
    "INVALID",
    "UNREADABLE",
    "OTHER",
)


@dataclass(frozen=True)
class Extracted:
    """A file's text; ``pages`` is the page count of a paged format (PDF, TIFF), else None."""

    text: str
    pages: int | None


class ExtractionFailed(Exception):
    """The file cannot be extracted; ``reason`` says why, short and in words for the document's owner,
    and ``kind`` is its class (``INVALID``, ``TOO_LARGE``, ...) for counting."""

    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class Extractor(Protocol):
    """Reads the file at ``path`` of type ``content_type``: see this module's docstring."""

    def __call__(self, path: Path, content_type: str, progress: PageProgress) -> Extracted: ...


def amount(size: int) -> str:
    """A byte count as people write it: ``1 GiB``, ``512 MiB``, ``2.5 GiB``."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if size >= unit:
            return f"{size / unit:.1f} {name}".replace(".0 ", " ")
    return f"{size} bytes"
