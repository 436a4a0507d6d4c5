"""Thumbnails a second: the pipeline's thumbnail code in its sandbox against the rendering library
called directly in this process, for photos (JPEG), screenshots (PNG) and PDF first pages.

The same files go through two sides in one run, alternating which goes first each round:

- **sandbox**: ``workers.extraction.Extraction.thumbnails``, what ``Pipeline.make_thumbnails`` calls:
  the request over the pipes to an extraction process (one, already started), which opens the file
  with its format's own Pillow class, checks the pixels it claims, decodes it (a JPEG at the reduced
  DCT scale the largest size allows), turns it upright and writes both WebP sizes
  (``workers.extractors.thumbnails``); a PDF's first page rendered by PDFium at the scale the largest
  size needs.
- **direct**: the same two WebPs made in this process with the libraries alone, as a short script
  would, doing the same work: ``Image.open``, ``draft`` (a JPEG decoded at the reduced scale), then
  ``thumbnail`` (Lanczos) and ``save`` for each size from the one decoded picture; for a PDF,
  pypdfium2 renders the first page at the largest size's scale and Pillow resizes it.

The ratio (sandbox / direct, in thumbnails a second) is what the sandbox's process boundary and the
checks cost; S3's two PUTs of the pipeline are not in either side.
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
from PIL import Image, ImageDraw

from workers.extraction import Extraction

if TYPE_CHECKING:
    from collections.abc import Callable

NAME = "thumbnails"
SIZES = (256, 1024)
FILES = 8  # of each kind
ROUNDS = 5
SANDBOX = "sandbox (Extraction.thumbnails)"
DIRECT = "direct (Pillow / pypdfium2 in-process)"
SIDES = (SANDBOX, DIRECT)
#: Each kind of file, its type, and how it is made.
KINDS = {
    "JPEG photo, 4000 × 3000": "image/jpeg",
    "PNG screenshot, 1920 × 1080": "image/png",
    "PDF, first page of 10": "application/pdf",
}


@dataclass
class Side:
    thumbnails: int = 0
    seconds: float = 0.0
    rounds: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.thumbnails / self.seconds

    def add(self, thumbnails: int, seconds: float) -> None:
        self.thumbnails, self.seconds = self.thumbnails + thumbnails, self.seconds + seconds
        self.rounds.append(thumbnails / seconds)


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


def run(*, quick: bool, command: str) -> str:
    files, rounds = (2, 2) if quick else (FILES, ROUNDS)
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp:
        folder = Path(tmp)
        corpus = {kind: [make(folder, kind, number) for number in range(files)] for kind in KINDS}
        progress(f"{files} files of each kind made with Pillow and fpdf2")
        results = anyio.run(measure, corpus, folder, rounds)
    return section(results, started=started, command=command, files=files, rounds=rounds)


def make(folder: Path, kind: str, number: int) -> Path:
    """A file of ``kind``: shapes of many colours on a gradient (what a photo's encoder has to work
    with, more or less), or pages of a PDF whose first one holds such a picture and text."""
    shapes = random.Random(number)
    content_type = KINDS[kind]
    size = (4000, 3000) if content_type == "image/jpeg" else (1920, 1080)
    picture = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(picture)
    for _ in range(200):
        x, y = shapes.randrange(size[0]), shapes.randrange(size[1])
        colour = tuple(shapes.randrange(256) for _ in range(3))
        draw.ellipse((x, y, x + shapes.randrange(20, 400), y + shapes.randrange(20, 400)), fill=colour)
    if content_type == "image/jpeg":
        path = folder / f"photo-{number}.jpg"
        picture.save(path, "JPEG", quality=90)
    elif content_type == "image/png":
        path = folder / f"screen-{number}.png"
        picture.save(path, "PNG")
    else:
        path = folder / f"report-{number}.pdf"
        pdf = FPDF()
        pdf.set_font("Helvetica", size=11)
        for page in range(10):
            pdf.add_page()
            if page == 0:
                pdf.image(picture.resize((960, 540)), x=10, y=10, w=190)
            pdf.multi_cell(w=0, h=5, text=f"Page {page + 1}. " + "quarterly revenue by region " * 60)
        pdf.output(str(path))
    return path


# -- the sides -------------------------------------------------------------------------------------


def direct_image(path: Path, out: Path) -> None:
    with Image.open(path) as image:
        image.draft(None, (max(SIZES), max(SIZES)))  # a JPEG decoded at a reduced scale; others as they are
        decoded = image.convert("RGB")
    resized(decoded, out)


def direct_pdf(path: Path, out: Path) -> None:
    document = pypdfium2.PdfDocument(path)
    try:
        page = document[0]
        width, height = page.get_size()
        rendered = page.render(scale=max(SIZES) / max(width, height)).to_pil()
        page.close()
    finally:
        document.close()
    resized(rendered.convert("RGB"), out)


def resized(decoded: Image.Image, out: Path) -> None:
    """Both sizes of ``decoded``, as WebP: what the sandbox does once it has the picture."""
    for size in SIZES:
        image = decoded.copy()
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        image.save(out / f"{size}.webp", "WEBP", quality=80, method=4)


DIRECT_BY_TYPE: dict[str, Callable[[Path, Path], None]] = {
    "image/jpeg": direct_image,
    "image/png": direct_image,
    "application/pdf": direct_pdf,
}


async def through_sandbox(pool: Extraction, paths: list[Path], content_type: str, out: Path) -> tuple[int, float]:
    start = time.perf_counter()
    for path in paths:
        made = await pool.thumbnails(path, content_type, out, SIZES, seconds=60)
        if len(made) != len(SIZES):
            raise RuntimeError(f"{path.name}: {made}")
    return len(paths) * len(SIZES), time.perf_counter() - start


def directly(paths: list[Path], content_type: str, out: Path) -> tuple[int, float]:
    render = DIRECT_BY_TYPE[content_type]
    start = time.perf_counter()
    for path in paths:
        render(path, out)
    return len(paths) * len(SIZES), time.perf_counter() - start


async def measure(corpus: dict[str, list[Path]], folder: Path, rounds: int) -> dict[str, dict[str, Side]]:
    results = {kind: {side: Side() for side in SIDES} for kind in corpus}
    out = folder / "out"
    out.mkdir()
    pool = Extraction(processes=1)
    try:
        # The check, and the process started outside the timing: the pipeline's is started once.
        for kind, paths in corpus.items():
            await through_sandbox(pool, paths[:1], KINDS[kind], out)
            for size in SIZES:
                with Image.open(out / f"{size}.webp") as checked:
                    if checked.format != "WEBP" or max(checked.size) != size:
                        raise RuntimeError(f"{kind}: {checked.format} {checked.size} for {size}")
        for number in range(rounds):
            order = SIDES if number % 2 == 0 else SIDES[::-1]
            for side in order:
                for kind, paths in corpus.items():
                    if side == SANDBOX:
                        made, seconds = await through_sandbox(pool, paths, KINDS[kind], out)
                    else:
                        made, seconds = directly(paths, KINDS[kind], out)
                    results[kind][side].add(made, seconds)
            progress(
                f"round {number + 1}: "
                + "; ".join(
                    f"{kind}: "
                    + ", ".join(f"{side.split(' ')[0]} {totals.rounds[-1]:.1f}/s" for side, totals in sides.items())
                    for kind, sides in results.items()
                )
            )
    finally:
        await pool.aclose()
    return results


def section(results: dict[str, dict[str, Side]], *, started: datetime, command: str, files: int, rounds: int) -> str:
    lines = [
        "## Thumbnails: the sandbox against Pillow and pypdfium2 in-process",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`, on {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, Pillow {metadata.version('pillow')}, pypdfium2 "
        f"{metadata.version('pypdfium2')}; load average {_load()} at the end. **The machine was loaded** by "
        "other work (another helper's tests and the lead's) during the run: the absolute figures are low and "
        "noisy; the ratio, measured side by side in rounds that alternate which side goes first, is the figure. "
        f"{files} files of each kind, each made into both sizes ({SIZES[0]} and {SIZES[1]} px on the longer side) "
        f"once a round, {rounds} rounds. A thumbnail is one WebP.",
        "",
        "| file | sandbox (thumbnails/s) | direct (thumbnails/s) | sandbox / direct |",
        "| --- | ---: | ---: | ---: |",
    ]
    for kind, sides in results.items():
        sandbox, direct = sides[SANDBOX], sides[DIRECT]
        lines.append(f"| {kind} | {sandbox.rate:.1f} | {direct.rate:.1f} | {sandbox.rate / direct.rate:.2f} |")
    lines += [
        "",
        "The sandbox side is `Extraction.thumbnails`, the call `Pipeline.make_thumbnails` makes (S3's PUTs are "
        "in neither side): a request over the pipes to the extraction process, the format's own Pillow class, "
        "the pixel limit checked before decoding, the EXIF orientation applied, both WebPs written. The direct "
        "side does the same work with the libraries alone, in this process: Pillow's `open` and `draft` (a JPEG "
        "decoded at a reduced DCT scale), then `thumbnail` (Lanczos) and `save` for each size from the one "
        "decoded picture (a PDF: pypdfium2 renders the first page at the largest size's scale, Pillow resizes "
        "it). What is left between the two is the process boundary and the sandbox's checks.",
    ]
    return "\n".join(lines)


def _load() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())
