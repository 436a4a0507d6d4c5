"""Text-PDF extraction, pages a second: through the extraction pool against pypdf called directly,
and against pypdfium2's text extraction.

The same multi-page text PDFs (made here with fpdf2, in two kinds: a standard font that is not
embedded, and an embedded TrueType subset with a ToUnicode map, as office suites export) go through
three extractors in one run, alternating: ``workers.extraction.Extraction`` (one sandboxed process,
which reads with pypdf), pypdf in this process, and pypdfium2 in this process. Pool against direct
pypdf is the price of the sandbox (a process boundary, JSON over pipes, the extractor's own checks);
pypdfium2 against pypdf is what a faster extractor would gain. pypdfium2 is the fastest that can be
justified: it is already a dependency (pages without a text layer are rendered with it), its licence
is permissive, and its engine is Chrome's PDFium. (PyMuPDF is not considered: it is AGPL.)
"""

from __future__ import annotations

import os
import platform
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pypdfium2
from fpdf import FPDF
from pypdf import PdfReader

from workers.extraction import Extraction

if TYPE_CHECKING:
    from collections.abc import Callable

NAME = "extraction"
FILES = 6  # of each kind
PAGES = 25
ROUNDS = 5
#: Common English words: the PDFs read as text, with the usual spread of word lengths.
VOCABULARY = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there been one all we their has would when if so no more what up out about who "
    "report quarterly revenue region customer contract delivery invoice payment schedule approval budget "
    "meeting summary decision project milestone review document archive policy security storage account"
)
WORDS = VOCABULARY.split()
# Debian's fonts-dejavu-core (scripts/system-packages.sh).
TRUETYPE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
#: The kinds of PDF, by how their text is set: the font fpdf2 uses, and whether it is embedded.
KINDS = {
    "Helvetica, not embedded": None,
    "DejaVu Sans, embedded subset": TRUETYPE,
}
EXTRACTORS = ("pool (sandboxed pypdf)", "pypdf, in-process", "pypdfium2, in-process")


@dataclass
class Side:
    """One extractor's totals on one kind of PDF over the rounds."""

    pages: int = 0
    seconds: float = 0.0
    rounds: list[float] = field(default_factory=list)  # pages/s in each round

    @property
    def rate(self) -> float:
        return self.pages / self.seconds


@dataclass(frozen=True)
class Agreement:
    pages: int
    pool_same_text: int  # pages whose text the pool gives exactly as pypdf does
    pdfium_same_words: int  # pages where pypdfium2 finds the same words, in order, as pypdf


#: Results by kind of PDF, then by extractor.
Results = dict[str, dict[str, Side]]


def run(*, quick: bool, command: str) -> str:
    """Make the PDFs, check the extractors agree, time them in rotating order; the markdown section."""
    files, pages, rounds = (2, 10, 2) if quick else (FILES, PAGES, ROUNDS)
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp:
        corpus = {
            kind: [make_pdf(Path(tmp) / f"{index}-{number}.pdf", pages, font, seed=number) for number in range(files)]
            for index, (kind, font) in enumerate(KINDS.items())
        }
        progress(f"{files} PDFs of {pages} pages of each kind made with fpdf2")
        results, agreement = anyio.run(measure, corpus, rounds)
    return section(results, agreement, started=started, command=command, files=files, pages=pages, rounds=rounds)


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


def make_pdf(path: Path, pages: int, font: Path | None, *, seed: int) -> Path:
    """A PDF of ``pages`` full pages of text at 10 pt, as a report exported to PDF looks."""
    words = random.Random(seed)
    pdf = FPDF()
    if font is None:
        pdf.set_font("Helvetica", size=10)
    else:
        pdf.add_font("Embedded", fname=str(font))
        pdf.set_font("Embedded", size=10)
    for number in range(pages):
        pdf.add_page()
        pdf.multi_cell(w=0, h=5, text=f"Page {number + 1}. " + " ".join(words.choices(WORDS, k=520)))
    pdf.output(str(path))
    return path


# -- the extractors --------------------------------------------------------------------------------


def with_pypdf(path: Path) -> list[str]:
    with PdfReader(path) as reader:
        return [page.extract_text() for page in reader.pages]


def with_pdfium(path: Path) -> list[str]:
    document = pypdfium2.PdfDocument(path)
    try:
        texts = []
        for page in document:
            text_page = page.get_textpage()
            texts.append(text_page.get_text_range())
            text_page.close()
            page.close()
        return texts
    finally:
        document.close()


async def with_pool(pool: Extraction, path: Path) -> list[str]:
    return (await pool.extract(path, "application/pdf")).text.split("\f")


# -- measuring -------------------------------------------------------------------------------------


async def measure(corpus: dict[str, list[Path]], rounds: int) -> tuple[Results, Agreement]:
    pool = Extraction(processes=1)
    in_process: list[Callable[[Path], list[str]] | None] = [None, with_pypdf, with_pdfium]
    results: Results = {kind: {extractor: Side() for extractor in EXTRACTORS} for kind in corpus}
    try:
        agreement = await agree(pool, [path for paths in corpus.values() for path in paths])
        progress(
            f"pool = pypdf on {agreement.pool_same_text}/{agreement.pages} pages; "
            f"pypdfium2 has pypdf's words on {agreement.pdfium_same_words}/{agreement.pages}"
        )
        for number in range(rounds):
            # Each round starts with another extractor, so drift over the run falls on all of them.
            for index in [(number + shift) % len(EXTRACTORS) for shift in range(len(EXTRACTORS))]:
                extract = in_process[index]
                for kind, paths in corpus.items():
                    start, pages = time.perf_counter(), 0
                    for path in paths:
                        pages += len(await with_pool(pool, path) if extract is None else extract(path))
                    seconds = time.perf_counter() - start
                    side = results[kind][EXTRACTORS[index]]
                    side.pages, side.seconds = side.pages + pages, side.seconds + seconds
                    side.rounds.append(pages / seconds)
            progress(
                f"round {number + 1}: "
                + "; ".join(
                    f"{kind}: " + ", ".join(f"{extractor} {side.rounds[-1]:.0f}" for extractor, side in sides.items())
                    for kind, sides in results.items()
                )
            )
    finally:
        await pool.aclose()
    return results, agreement


async def agree(pool: Extraction, paths: list[Path]) -> Agreement:
    """How far the three agree (and a warm-up for each, the pool's process start included)."""
    pages = same = words = 0
    for path in paths:
        direct, sandboxed, pdfium = with_pypdf(path), await with_pool(pool, path), with_pdfium(path)
        pages += len(direct)
        same += sum(a == b for a, b in zip(direct, sandboxed, strict=True))
        words += sum(a.split() == b.split() for a, b in zip(direct, pdfium, strict=True))
    return Agreement(pages, same, words)


# -- the report ------------------------------------------------------------------------------------


def section(
    results: Results, agreement: Agreement, *, started: datetime, command: str, files: int, pages: int, rounds: int
) -> str:
    pool, direct, pdfium = EXTRACTORS
    versions = ", ".join(f"{package} {metadata.version(package)}" for package in ("pypdf", "pypdfium2", "fpdf2"))
    made_by = " (what `make bench` runs)" if command == "python -m bench" else ""
    rows = [
        f"| {kind} | {extractor} | {side.pages} | {side.seconds:.2f} | {side.rate:.1f} | {1000 / side.rate:.2f} |"
        for kind, sides in results.items()
        for extractor, side in sides.items()
    ]
    ratios = [
        f"| {kind} | **{sides[pool].rate / sides[direct].rate:.3f}** | "
        f"{', '.join(f'{a / b:.3f}' for a, b in zip(sides[pool].rounds, sides[direct].rounds, strict=True))} | "
        f"**{sides[pdfium].rate / sides[direct].rate:.1f}** | "
        f"{', '.join(f'{a / b:.1f}' for a, b in zip(sides[pdfium].rounds, sides[direct].rounds, strict=True))} |"
        for kind, sides in results.items()
    ]
    return "\n".join(
        [
            "## Text-PDF extraction: the sandboxed pool against pypdf in-process, and pypdfium2",
            "",
            f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`{made_by}, on {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; {versions}.",
            "",
            f"{files} PDFs of {pages} pages of each kind, made by fpdf2: full pages of text at 10 pt, about 520 "
            "words a page, in Helvetica (a standard font, not embedded) or in DejaVu Sans embedded as a subset "
            "with a ToUnicode map (as office suites export). In each round each extractor reads every file once, "
            "one file at a time, and the extractor that goes first rotates from round to round; "
            f"{rounds} rounds after a warm-up. The pool is `workers.extraction.Extraction` with one process "
            "and the default limits, awaited from this process's event loop; the in-process extractors are "
            "plain calls. Pages a second are wall-clock.",
            "",
            "| PDF text in | extractor | pages | seconds | pages/s | ms/page |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            "| PDF text in | pool / pypdf | per round | pypdfium2 / pypdf | per round |",
            "| --- | ---: | --- | ---: | --- |",
            *ratios,
            "",
            f"The pool's text is pypdf's, page for page, on {agreement.pool_same_text} of {agreement.pages} pages. "
            f"pypdfium2 finds the same words in the same order as pypdf on {agreement.pdfium_same_words} of "
            f"{agreement.pages} pages; its whitespace differs (it ends lines with CR LF, and where these justified "
            "lines are spaced out pypdf puts two spaces between words, pypdfium2 one).",
        ]
    )
