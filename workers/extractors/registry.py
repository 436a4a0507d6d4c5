"""Every extractor, declared once: the types it reads, whether it gives the document's text, its limits.

Everything outside an extractor reads its declaration from here, and nothing else lists extractors:

- the extraction process (``workers.extractors.sandbox``) imports each declared ``module`` and
  hands it the files of its ``content_types``;
- the pool (``workers.extraction``) refuses a type no extractor reads;
- the pipeline (a new upload, on the PREMIUM plan) and the backfill (earlier uploads, after an
  upgrade to PREMIUM) extract the types whose extractor ``gives_text``, through the same code;
- detection (``workers.detect``) lets the client's word choose between the text extractor's types,
  which bytes of text cannot tell apart.

A declaration names its extractor's module rather than importing it: the worker's own process reads
the declarations without loading pypdf, PDFium, Pillow or lxml, which only the extraction process
needs. A new extractor is a module with ``extract`` (the contract is in ``workers.extractors.base``)
and one declaration in ``DECLARATIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from workers.extractors import base

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class Limit:
    """A bound an extractor holds each file to: ``value`` ``unit`` of ``what``."""

    value: int
    unit: str
    what: str

    def __str__(self) -> str:
        amount = base.amount(self.value) if self.unit == "bytes" else f"{self.value:,} {self.unit}"
        return f"{self.what}: at most {amount}"


@dataclass(frozen=True)
class Declaration:
    """One extractor, as everything outside it sees it.

    ``module`` holds its ``extract`` function (``workers.extractors.base.Extractor``), called with
    files of ``content_types`` (as ``workers.detect`` names them). ``gives_text``: what it returns is
    the document's text, which the pipeline and the backfill store and the search index reads.
    ``limits`` are the bounds it holds each file to, by name, besides the sandbox's time and memory.
    """

    name: str
    module: str
    content_types: frozenset[str]
    gives_text: bool
    limits: Mapping[str, Limit]

    def limit(self, name: str) -> int:
        """The value of the limit called ``name``."""
        return self.limits[name].value


def declare(
    name: str, content_types: set[str], *, gives_text: bool, limits: dict[str, Limit] | None = None
) -> Declaration:
    """The declaration of the extractor in ``workers.extractors.<name>``."""
    return Declaration(
        name=name,
        module=f"workers.extractors.{name}",
        content_types=frozenset(content_types),
        gives_text=gives_text,
        limits=MappingProxyType(dict(limits or {})),
    )


PDF = declare(
    "pdf",
    {"application/pdf"},
    gives_text=True,
    limits={
        "render_pixels": Limit(
            40_000_000, "pixels", "a page without a text layer is rendered for OCR at 300 dpi, but never larger"
        ),
    },
)
DOCX = declare(
    "docx",
    {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    gives_text=True,
    limits={
        "unpacked_bytes": Limit(256 * base.MiB, "bytes", "what the DOCX's parts unpack to, all together"),
    },
)
TEXT = declare("text", {"text/plain", "text/markdown", "text/csv", "text/html"}, gives_text=True)
IMAGE = declare(
    "image",
    {"image/png", "image/jpeg", "image/tiff", "image/webp"},
    gives_text=True,
    limits={
        # More than an A4 page scanned at 600 dpi (35 million), and 150 MB decoded in RGB.
        "pixels": Limit(50_000_000, "pixels", "the pixels an image, or one page of a TIFF, claims"),
    },
)

#: Every extractor. A type is read by one extractor at most.
DECLARATIONS: tuple[Declaration, ...] = (PDF, DOCX, TEXT, IMAGE)


def by_type(declarations: tuple[Declaration, ...]) -> Mapping[str, Declaration]:
    """Each declared type's extractor; ``ValueError`` if two extractors declare one type."""
    found: dict[str, Declaration] = {}
    for declared in declarations:
        for content_type in declared.content_types:
            if content_type in found:
                raise ValueError(f"{content_type} is declared by both {found[content_type].name} and {declared.name}")
            found[content_type] = declared
    return MappingProxyType(found)


BY_TYPE = by_type(DECLARATIONS)
#: The types an extractor reads (as ``workers.detect`` names them). Others are stored, not extracted.
EXTRACTABLE: frozenset[str] = frozenset(BY_TYPE)


#: The types a document gets thumbnails of (``workers.extractors.thumbnails``), by how they are
#: rendered: an image itself, a PDF's first page (PDFium), a video's first frame (ffmpeg). DOCX and
#: the other office formats get none: rendering them takes an office suite (LibreOffice), far too
#: heavy to install for a thumbnail.
THUMBNAILS: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(("image/png", "image/jpeg", "image/tiff", "image/webp", "image/gif"), "image"),
        "application/pdf": "pdf",
        **dict.fromkeys(("video/mp4", "video/quicktime", "video/webm"), "video"),
    }
)


def makes_thumbnail(content_type: str) -> bool:
    """Whether documents of ``content_type`` (as ``workers.detect`` names it) get thumbnails."""
    return content_type in THUMBNAILS


def gives_text(content_type: str) -> bool:
    """Whether files of ``content_type`` have text to extract: the PREMIUM plan's search reads it."""
    found = BY_TYPE.get(content_type)
    return found is not None and found.gives_text
