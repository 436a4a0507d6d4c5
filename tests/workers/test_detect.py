"""detect() names a file's type from its first bytes; the client's word only breaks ties."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.workers import files
from workers.detect import HEAD_BYTES, detect

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"


def head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(HEAD_BYTES)


def image_bytes(format: str) -> bytes:
    buffer = io.BytesIO()
    files.picture("Hello").save(buffer, format)
    return buffer.getvalue()


def zip_bytes(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(name, f"contents of {name}")
    return buffer.getvalue()


def opendocument(content_type: str) -> bytes:
    """A zip laid out as OpenDocument and EPUB require: ``mimetype`` first, stored, unpacked."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", content_type, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", "<office:document-content/>", compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def tar_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("notes.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"notes"))
    return buffer.getvalue()


# The first bytes of video and audio files, box by box as encoders write them.
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41\x00\x00\x00\x08free"
QUICKTIME = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  \x00\x00\x00\x08wide"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x23TSSE\x00\x00\x00\x0f\x00\x00\x03Lavf60.16.100"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: head(files.pdf_file(tmp / "a.pdf", "Hello")), "application/pdf"),
        (lambda tmp: image_bytes("PNG"), "image/png"),
        (lambda tmp: image_bytes("JPEG"), "image/jpeg"),
        (lambda tmp: image_bytes("TIFF"), "image/tiff"),
        (lambda tmp: image_bytes("WEBP"), "image/webp"),
        (lambda tmp: image_bytes("GIF"), "image/gif"),
        (lambda tmp: zip_bytes("notes.txt"), "application/zip"),
        (lambda tmp: opendocument(ODT), ODT),
        (lambda tmp: opendocument("application/epub+zip"), "application/epub+zip"),
        (lambda tmp: gzip.compress(b"hello"), "application/gzip"),
        (lambda tmp: tar_bytes(), "application/x-tar"),
        (lambda tmp: MP4, "video/mp4"),
        (lambda tmp: QUICKTIME, "video/quicktime"),
        (lambda tmp: HEIC, "image/heic"),
        (lambda tmp: WEBM, "video/webm"),
        (lambda tmp: MP3, "audio/mpeg"),
    ],
    ids=[
        "pdf",
        "png",
        "jpeg",
        "tiff",
        "webp",
        "gif",
        "zip",
        "odt",
        "epub",
        "gzip",
        "tar",
        "mp4",
        "mov",
        "heic",
        "webm",
        "mp3",
    ],
)
@pytest.mark.parametrize("declared", ["application/octet-stream", "text/plain", "application/pdf", "image/png"])
def test_binary_formats_are_known_by_their_bytes_whatever_the_client_says(make, expected, declared, tmp_path) -> None:
    assert detect(make(tmp_path), declared) == expected


@pytest.mark.parametrize("declared", ["text/plain", "text/markdown", "text/csv", "text/html", "application/json"])
def test_text_is_the_text_type_the_client_declared(declared) -> None:
    assert detect(b"name,total\nNorth,10\n", declared) == declared


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\n<!DOCTYPE html>\n<html><body><p>Hi</p></body></html>", "text/html"),
        (b"<!-- generated --><HTML lang=en><p>Hi</p></HTML>", "text/html"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>Hi</text></svg>', "image/svg+xml"),
        (b"# Notes\n\nPlain words, and an <em>inline</em> tag.\n", "text/plain"),
        ("Grüße, 5 €\n".encode("cp1252"), "text/plain"),
        ("Grüße\n".encode("utf-16"), "text/plain"),
        (b"", "text/plain"),
    ],
    ids=["doctype", "html-after-comment", "svg", "markdown-like", "cp1252", "utf-16", "empty"],
)
def test_text_declared_as_another_type_is_named_from_its_bytes(head, expected) -> None:
    assert detect(head, "image/png") == expected


def test_declared_type_is_read_without_case_parameters_or_aliases() -> None:
    assert detect(b"a;b\n1;2\n", "Text/CSV; charset=utf-8") == "text/csv"
    assert detect(b"# Title\n", "text/x-markdown") == "text/markdown"
    assert detect(b"<p>Hi</p>", "application/xhtml+xml") == "text/html"


def test_zip_is_the_declared_office_type_only_when_that_type_is_a_zip(tmp_path) -> None:
    document = head(files.docx_file(tmp_path / "report.docx"))

    assert detect(document, DOCX) == DOCX
    # The first bytes of a zip cannot tell a DOCX from a spreadsheet: the DOCX extractor checks.
    assert detect(document, XLSX) == XLSX
    assert detect(document, "application/pdf") == "application/zip"
    assert detect(document, "text/plain") == "application/zip"


def test_opendocument_names_its_own_type_whatever_the_client_says() -> None:
    assert detect(opendocument(ODT), DOCX) == ODT


def test_legacy_office_container_takes_the_declared_legacy_office_type() -> None:
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)

    assert detect(ole2, "application/msword") == "application/msword"
    assert detect(ole2, "application/pdf") == "application/x-ole-storage"


def test_unknown_binary_is_an_octet_stream() -> None:
    assert detect(b"\x7fELF\x02\x01\x01\x00" + bytes(56), "application/pdf") == "application/octet-stream"
    assert detect(bytes(range(256)) * 4, "text/plain") == "application/octet-stream"


def test_pdf_header_after_binary_junk_is_a_pdf_but_text_quoting_one_is_text() -> None:
    assert detect(b"\x00\x05\x16\x07junk" + b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "text/plain") == "application/pdf"
    assert detect(b"A PDF file starts with %PDF-1.7 and a comment.\n", "text/plain") == "text/plain"


def test_only_the_first_8_kib_are_read() -> None:
    assert detect(b"a" * HEAD_BYTES + b"\x00\x01\x02", "text/plain") == "text/plain"
