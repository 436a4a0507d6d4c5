"""A file's real type, from its first bytes: the client's word settles only what the bytes cannot.

Hand-written rather than libmagic's: measured on every file type the tests make (``python -m bench
--only detection``, docs/BENCHMARKS.md), libmagic 5.44 gives no type to MP3s that begin with an ID3
tag (most of them: they would be REJECTED), names text that quotes a PDF header a PDF (it would end
FAILED), and misses a PDF behind a few bytes of junk, which readers accept; and it takes tens to
hundreds of times as long. The one file it names that this does not is a DOCX the client calls
something else (here, a zip: stored, not extracted).
"""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING

from workers.extractors import registry

if TYPE_CHECKING:
    from pathlib import Path

#: How much of a file ``detect`` reads.
HEAD_BYTES = 8 * 1024

OCTET_STREAM = "application/octet-stream"
OFFICE = "application/vnd.openxmlformats-officedocument."
OPENDOCUMENT = "application/vnd.oasis.opendocument."

#: (offset, signature, type): formats that name themselves at a fixed place.
SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF-", "application/pdf"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"{\\rtf", "application/rtf"),
    (0, b"%!PS", "application/postscript"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"Rar!\x1a\x07", "application/vnd.rar"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (0, b"\x28\xb5\x2f\xfd", "application/zstd"),
    (257, b"ustar", "application/x-tar"),
    (0, b"ID3\x02", "audio/mpeg"),
    (0, b"ID3\x03", "audio/mpeg"),
    (0, b"ID3\x04", "audio/mpeg"),
    (0, b"\xff\xfb", "audio/mpeg"),
    (0, b"\xff\xf3", "audio/mpeg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"OggS", "application/ogg"),
    (0, b"FLV\x01", "video/x-flv"),
    (0, b"\x00\x00\x01\xba", "video/mpeg"),
    (0, b"\x00\x00\x01\xb3", "video/mpeg"),
)
#: RIFF containers, by the form type at offset 8.
RIFF = {b"WEBP": "image/webp", b"AVI ": "video/x-msvideo", b"WAVE": "audio/wav"}
#: ISO base media files (MP4 and its kin), by the major brand of their ``ftyp`` box; others are MP4.
BRANDS = {
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"avif": "image/avif",
}
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Legacy Office files share one container (OLE2); what is inside is past the first bytes.
OLE2_TYPES = frozenset({"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"})
ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
ZIP_ENTRY = struct.Struct("<4sHHHHHIIIHH")

#: Text types the client's word chooses between; text bytes fit any of them. Every type the text
#: extractor declares is one, so that a file of it can be named so and extracted.
TEXT_TYPES = registry.TEXT.content_types | {"application/json", "application/xml"}
ALIASES = {
    "text/x-markdown": "text/markdown",
    "text/comma-separated-values": "text/csv",
    "application/csv": "text/csv",
    "application/xhtml+xml": "text/html",
    "text/xml": "application/xml",
}
# What file(1) counts as binary: NUL and the control characters text does not use (it does use
# BEL, BS, HT, LF, VT, FF, CR and ESC), and DEL. Any byte above 127 may be text in some encoding.
NOT_TEXT = frozenset({*range(7), *range(14, 27), *range(28, 32), 127})
TEXT_BYTES = bytes(byte for byte in range(256) if byte not in NOT_TEXT)
# UTF-32 and UTF-16 text is full of NULs, but says what it is first.
WIDE_MARKS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
HTML_START = re.compile(rb"\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE | re.DOTALL)
SVG_START = re.compile(
    rb"\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*|<!doctype\s+svg[^>]*>\s*)*<svg[\s>]", re.IGNORECASE | re.DOTALL
)
MIME = re.compile(r"[a-z]+/[a-z0-9.+-]+")


def detect_file(path: Path, declared: str) -> str:
    """The real MIME type of the file at ``path``, from its first ``HEAD_BYTES``: see ``detect``."""
    with path.open("rb") as file:
        return detect(file.read(HEAD_BYTES), declared)


def detect(head: bytes, declared: str) -> str:
    """The real MIME type of a file from its first bytes (up to ``HEAD_BYTES``).

    ``declared`` (the client's word) only breaks the ties the bytes cannot settle: which of the text
    types (``TEXT_TYPES``) text is, which Office format a zip holds (its first bytes are the zip's,
    and the names inside may lie further on), and which legacy Office format an OLE2 file is. A zip
    that names its own type in its first entry (OpenDocument, EPUB) gets that type. Unknown binary is
    ``application/octet-stream``; an empty file is text.
    """
    declared = canonical(declared)
    head = head[:HEAD_BYTES]
    for offset, signature, content_type in SIGNATURES:
        if head.startswith(signature, offset):
            return content_type
    if head.startswith(b"RIFF") and head[8:12] in RIFF:
        return RIFF[head[8:12]]
    if head[4:8] == b"ftyp":
        return BRANDS.get(head[8:12], "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska; WebM says so in its header
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(ZIP):
        return named_in_zip(head) or (declared if zip_based(declared) else "application/zip")
    if head.startswith(OLE2):
        return declared if declared in OLE2_TYPES else "application/x-ole-storage"
    text = head.startswith(WIDE_MARKS) or not head.translate(None, TEXT_BYTES)
    if not text and b"%PDF-" in head[:1024]:  # readers accept a PDF's header after up to 1 KiB of junk
        return "application/pdf"
    return text_type(head, declared) if text else OCTET_STREAM


def canonical(content_type: str) -> str:
    """``content_type`` lower-cased, without parameters, under its usual name."""
    bare = content_type.split(";", 1)[0].strip().lower()
    return ALIASES.get(bare, bare)


def text_type(head: bytes, declared: str) -> str:
    if declared in TEXT_TYPES:
        return declared
    if SVG_START.match(head):
        return "image/svg+xml"
    if HTML_START.match(head):
        return "text/html"
    return "text/plain"


def zip_based(content_type: str) -> bool:
    return content_type.startswith((OFFICE, OPENDOCUMENT)) or content_type == "application/epub+zip"


def named_in_zip(head: bytes) -> str | None:
    """The type an OpenDocument or EPUB file names in its first entry, ``mimetype``, stored unpacked."""
    if len(head) < ZIP_ENTRY.size:
        return None
    _, _, _, method, _, _, _, size, _, name_length, extra_length = ZIP_ENTRY.unpack_from(head)
    start = ZIP_ENTRY.size + name_length + extra_length
    if method != 0 or head[ZIP_ENTRY.size : ZIP_ENTRY.size + name_length] != b"mimetype":
        return None
    named = head[start : start + size].decode("ascii", errors="replace").strip().lower()
    return named if MIME.fullmatch(named) else None
