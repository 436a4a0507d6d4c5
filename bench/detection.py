"""Detection: DocStore's hand-written detector (``workers.detect``) against libmagic (python-magic),
time per file and correctness, on the files the tests make.

Every file type the tests make (``tests/workers/files.py``, ``tests/workers/test_detect.py``,
``tests/workers/test_extraction.py``), hostile ones included, plus two a client sends every day that
the tests hold only the first bytes of (an MP3 with its ID3 tag and its first frames, and an M4A).
Both sides read the same first 8 KiB. libmagic knows nothing of the client's word, so it is given
the same tie-breaks the hand-written detector takes from it (which of the text types text is, which
Office format a zip or an OLE2 file holds), and its names are read as DocStore's
(``text/xml`` is ``application/xml``, ``audio/x-m4a`` is ``audio/mp4``, ...): what is compared is
the signatures. A file is right when a side names the type the file really is.

Timing: each file is detected ``REPEATS`` times in a row by one side, then by the other, the order
swapped every round; a file's time is the median over ``ROUNDS`` rounds.
"""

from __future__ import annotations

import gzip
import importlib
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workers.detect import HEAD_BYTES, OLE2_TYPES, TEXT_TYPES, canonical, detect, zip_based

if TYPE_CHECKING:
    from collections.abc import Callable

NAME = "detection"
ROUNDS = 15
REPEATS = 20
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
OCTET_STREAM = "application/octet-stream"
#: libmagic's names for types DocStore knows by another (besides ``workers.detect.ALIASES``).
LIBMAGIC_NAMES = {
    "text/rtf": "application/rtf",
    "audio/x-m4a": "audio/mp4",
    "audio/x-wav": "audio/wav",
    "application/x-empty": "text/plain",  # DocStore stores an empty file as text
}
#: libmagic's answers that mean "text": the client's word chooses among the text types, as for the other side.
LIBMAGIC_TEXT = frozenset({"text/plain", "text/csv", "text/html", "application/json", "application/xml"})


@dataclass(frozen=True)
class Sample:
    name: str
    head: bytes
    declared: str  # what the client said
    real: str  # what the file is
    made_by_tests: bool = True


def corpus(folder: Path) -> list[Sample]:
    """The files, each as the first ``HEAD_BYTES`` that detection reads."""
    # The tests' own makers, as modules (not type-checked with the bench: tests are typed loosely).
    files: Any = importlib.import_module("tests.workers.files")
    made: Any = importlib.import_module("tests.workers.test_detect")

    def head(path: Path) -> bytes:
        return path.read_bytes()[:HEAD_BYTES]

    frame = b"\xff\xfb\x90\x64" + bytes(413)  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
    return [
        Sample("PDF (fpdf2)", head(files.pdf_file(folder / "a.pdf", "Hello")), "application/pdf", "application/pdf"),
        Sample(
            "PDF, encrypted",
            head(files.encrypted_pdf(folder / "e.pdf", user_password="x")),
            OCTET_STREAM,
            "application/pdf",
        ),
        Sample("PDF, page tree loops", head(files.looping_pdf(folder / "l.pdf")), "application/pdf", "application/pdf"),
        Sample("PDF, truncated", head(files.truncated_pdf(folder / "t.pdf")), "application/pdf", "application/pdf"),
        Sample(
            "PDF, decompression bomb",
            head(files.pdf_bomb(folder / "b.pdf", 64 * 1024**2)),
            "application/pdf",
            "application/pdf",
        ),
        Sample(
            "PDF after 8 bytes of junk",
            b"\x00\x05\x16\x07junk%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
            "text/plain",
            "application/pdf",
        ),
        Sample("DOCX (python-docx)", head(files.docx_file(folder / "a.docx")), DOCX, DOCX),
        Sample("DOCX, declared as a PDF", head(files.docx_file(folder / "b.docx")), "application/pdf", DOCX),
        Sample("DOCX, zip bomb", head(files.docx_bomb(folder / "bomb.docx")), DOCX, DOCX),
        Sample("PNG", made.image_bytes("PNG"), "image/png", "image/png"),
        Sample(
            "PNG claiming 100000 × 100000",
            head(files.png_claiming(folder / "h.png", 100_000, 100_000)),
            "image/png",
            "image/png",
        ),
        Sample("JPEG", made.image_bytes("JPEG"), "image/jpeg", "image/jpeg"),
        Sample("TIFF, 2 pages", head(files.tiff_file(folder / "a.tiff", "one", "two")), "image/tiff", "image/tiff"),
        Sample("WebP", made.image_bytes("WEBP"), "image/webp", "image/webp"),
        Sample("GIF", made.image_bytes("GIF"), "image/gif", "image/gif"),
        Sample("PNG declared as a PDF", made.image_bytes("PNG"), "application/pdf", "image/png"),
        Sample("zip", made.zip_bytes("notes.txt"), "application/zip", "application/zip"),
        Sample("OpenDocument text", made.opendocument(ODT), DOCX, ODT),
        Sample("EPUB", made.opendocument("application/epub+zip"), "application/epub+zip", "application/epub+zip"),
        Sample("gzip", gzip.compress(b"hello"), "application/gzip", "application/gzip"),
        Sample("tar", made.tar_bytes(), "application/x-tar", "application/x-tar"),
        Sample(
            "OLE2 (legacy Word)",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
            "application/msword",
            "application/msword",
        ),
        Sample("MP4", made.MP4, "video/mp4", "video/mp4"),
        Sample("QuickTime", made.QUICKTIME, "video/quicktime", "video/quicktime"),
        Sample("HEIC", made.HEIC, "image/heic", "image/heic"),
        Sample("WebM", made.WEBM, "video/webm", "video/webm"),
        Sample("MP3, first 40 bytes (ID3 tag)", made.MP3, "audio/mpeg", "audio/mpeg"),
        Sample("MP3, ID3 tag and frames", made.MP3 + bytes(10) + frame * 16, "audio/mpeg", "audio/mpeg", False),
        Sample(
            "M4A",
            b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A isommp42\x00\x00\x00\x08free",
            "audio/mp4",
            "audio/mp4",
            False,
        ),
        Sample("ELF executable", b"\x7fELF\x02\x01\x01\x00" + bytes(56), "application/pdf", OCTET_STREAM),
        Sample("random bytes", bytes(range(256)) * 4, "text/plain", OCTET_STREAM),
        Sample("CSV", b"name,total\nNorth,10\n", "text/csv", "text/csv"),
        Sample("Markdown", b"# Title\n\nSome *words*.\n", "text/markdown", "text/markdown"),
        Sample(
            "HTML declared as an image",
            b"\n<!DOCTYPE html>\n<html><body><p>Hi</p></body></html>",
            "image/png",
            "text/html",
        ),
        Sample("HTML after a comment", b"<!-- generated --><HTML lang=en><p>Hi</p></HTML>", "image/png", "text/html"),
        Sample(
            "SVG",
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>Hi</text></svg>',
            "image/png",
            "image/svg+xml",
        ),
        Sample("JSON", b'{"name": "North", "total": 10}\n', "application/json", "application/json"),
        Sample(
            "text quoting a PDF header", b"A PDF file starts with %PDF-1.7 and a comment.\n", "text/plain", "text/plain"
        ),
        Sample("text in Windows-1252", "Grüße, 5 €\n".encode("cp1252"), "text/plain", "text/plain"),
        Sample("text in UTF-16", "Grüße\n".encode("utf-16"), "text/plain", "text/plain"),
        Sample("text longer than 8 KiB", (b"a" * HEAD_BYTES), "text/plain", "text/plain"),
        Sample("empty file", b"", "text/plain", "text/plain"),
    ]


def libmagic_detector() -> Callable[[bytes, str], str]:
    """libmagic in place of the signatures, with the tie-breaks the client's word settles."""
    import magic

    found_by = magic.Magic(mime=True)

    def detect_with_libmagic(head: bytes, declared: str) -> str:
        declared = canonical(declared)
        found = canonical(found_by.from_buffer(head))
        found = LIBMAGIC_NAMES.get(found, found)
        if found in LIBMAGIC_TEXT and declared in TEXT_TYPES:
            return declared
        if found == "application/zip" and zip_based(declared):
            return declared
        if found == "application/x-ole-storage" and declared in OLE2_TYPES:
            return declared
        return found

    return detect_with_libmagic


def per_file_seconds(detector: Callable[[bytes, str], str], sample: Sample) -> float:
    started = time.perf_counter()
    for _ in range(REPEATS):
        detector(sample.head, sample.declared)
    return (time.perf_counter() - started) / REPEATS


def run(*, quick: bool, command: str) -> str:
    """Build the files, check each side's answers, time them alternating; the markdown section."""
    rounds = 3 if quick else ROUNDS
    started = datetime.now(UTC)
    try:
        with_libmagic = libmagic_detector()
    except ImportError as error:  # python-magic is a dev dependency; libmagic1 comes with Debian
        raise SystemExit(f"[{NAME}] needs python-magic and Debian's libmagic1: {error}") from error
    sides: dict[str, Callable[[bytes, str], str]] = {"hand-written": detect, "libmagic": with_libmagic}
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp:
        samples = corpus(Path(tmp))
    print(f"[{NAME}] {len(samples)} files; {rounds} rounds of {REPEATS} detections a file and side", flush=True)
    answers = {side: [detector(s.head, s.declared) for s in samples] for side, detector in sides.items()}
    times: dict[str, list[list[float]]] = {side: [[] for _ in samples] for side in sides}
    for number in range(rounds):
        order = list(sides) if number % 2 == 0 else list(reversed(sides))
        for index, sample in enumerate(samples):
            for side in order:
                times[side][index].append(per_file_seconds(sides[side], sample))
    medians = {side: [statistics.median(each) for each in times[side]] for side in sides}
    return section(samples, answers, medians, started=started, command=command, rounds=rounds)


def section(
    samples: list[Sample],
    answers: dict[str, list[str]],
    medians: dict[str, list[float]],
    *,
    started: datetime,
    command: str,
    rounds: int,
) -> str:
    import magic

    libmagic_version: int = magic.version()  # type: ignore[no-untyped-call]

    def micro(seconds: float) -> str:
        return f"{seconds * 1e6:.1f}"

    def short(content_type: str) -> str:
        return content_type.replace("application/vnd.openxmlformats-officedocument.", "…").replace(
            "application/vnd.oasis.", "…"
        )

    def verdict(found: str, real: str) -> str:
        return "right" if found == real else f"**wrong**: `{short(found)}`"

    made = [index for index, s in enumerate(samples) if s.made_by_tests]
    right = {side: [found == s.real for found, s in zip(answers[side], samples, strict=True)] for side in answers}
    hand, libmagic = medians["hand-written"], medians["libmagic"]
    lines = [
        "## File type detection: the hand-written detector against libmagic",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`, on {_cores()} cores, Python {platform.python_version()}; "
        f"libmagic {libmagic_version / 100:.2f}, python-magic {metadata.version('python-magic')}; load average "
        f"{_load()} at the end. {len(samples)} files: every type the tests make ({len(made)}, hostile ones "
        "included), and an MP3 and an M4A as clients send them. Both sides read a file's first 8 KiB; libmagic "
        "gets the same tie-breaks from the client's word as the hand-written detector (which text type, which "
        "Office format in a zip or OLE2 file) and its names read as DocStore's, so what is compared is the "
        f"signatures. Time: {REPEATS} detections of a file in a row by one side, then the other, the order "
        f"swapped every round; a file's time is its median over {rounds} rounds.",
        "",
        f"Right: hand-written **{sum(right['hand-written'])} of {len(samples)}** "
        f"({sum(right['hand-written'][i] for i in made)} of the {len(made)} the tests make), libmagic "
        f"**{sum(right['libmagic'])} of {len(samples)}** ({sum(right['libmagic'][i] for i in made)} of "
        f"{len(made)}). The files either gets wrong:",
        "",
        "| file | client said | really | hand-written | libmagic |",
        "| --- | --- | --- | --- | --- |",
    ]
    for index, sample in enumerate(samples):
        if right["hand-written"][index] and right["libmagic"][index]:
            continue
        name = sample.name if sample.made_by_tests else f"{sample.name} (not made by the tests)"
        found = {side: verdict(answers[side][index], sample.real) for side in answers}
        lines.append(
            f"| {name} | `{short(sample.declared)}` | `{short(sample.real)}` "
            f"| {found['hand-written']} | {found['libmagic']} |"
        )
    lines += [
        "",
        "| time per file (µs) | files | hand-written p50 | hand-written max | libmagic p50 | libmagic max "
        "| libmagic / hand-written (p50) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    groups = {
        "all but `text/*`": [i for i, s in enumerate(samples) if not s.real.startswith("text/")],
        "`text/*`": [i for i, s in enumerate(samples) if s.real.startswith("text/")],
        "all": list(range(len(samples))),
    }
    for group, indexes in groups.items():
        mine, theirs = [hand[i] for i in indexes], [libmagic[i] for i in indexes]
        ratio = statistics.median(theirs) / statistics.median(mine)
        lines.append(
            f"| {group} | {len(indexes)} | {micro(statistics.median(mine))} | {micro(max(mine))} "
            f"| {micro(statistics.median(theirs))} | {micro(max(theirs))} | **{ratio:.0f}×** |"
        )
    return "\n".join(lines)


def _cores() -> int:
    return os.cpu_count() or 0


def _load() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())
