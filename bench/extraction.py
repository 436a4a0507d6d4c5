"""Text-PDF extraction, pages a second: through the whole pipeline and through the extraction pool,
against pypdf called directly, and against pypdfium2's text extraction.

The same multi-page text PDFs (made here with fpdf2, in two kinds: a standard font that is not
embedded, and an embedded TrueType subset with a ToUnicode map, as office suites export) go through
four sides in one run, alternating. ``workers.pipeline.Pipeline`` handles ``upload.completed`` for a
PREMIUM account's document already PROCESSING in the embedded AWS (moto, in this process, as
``docstore serve`` runs it): the PDF downloaded from S3, its type detected, the document counted in
DynamoDB, the text extracted in the sandbox and stored in S3, the document made READY, the quota
checked again. ``workers.extraction.Extraction`` is the sandbox alone (one process, whose extractor
checks the file with pypdf and reads its text with pypdfium2); then pypdf and pypdfium2 in this process.

Pipeline against direct pypdfium2 is what a text PDF costs on its way to READY beyond reading it; pool
against direct pypdfium2 is the share of the sandbox (a process boundary, JSON over pipes, the
extractor's own checks with pypdf); the pipeline's steps are timed as they run, to show where the rest
goes. pypdf, which the extractor used alone before, stays as the baseline the earlier runs were
measured against. pypdfium2 is the fastest that can be justified: it was already a dependency (pages
without a text layer are rendered with it), its licence is permissive, and its engine is Chrome's
PDFium. (PyMuPDF is not considered: it is AGPL.)
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import anyio
import httpx
import pypdfium2
from fpdf import FPDF
from pypdf import PdfReader
from ulid import ULID

from adapters.blocking import Blocking
from adapters.mail import SesMailer
from adapters.messages import UploadCompleted
from adapters.s3 import S3ObjectStore
from bench.stack import embedded_aws
from domain.documents import DocumentStatus
from domain.plans import Plan
from models import accounts, documents, uploads
from services import uploads as upload_files
from workers.extraction import Extraction
from workers.extractors.pdf import plain
from workers.pipeline import Pipeline

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    from events.envelope import Event
    from settings import Settings
    from workers.extraction import Extracted

P = ParamSpec("P")
T = TypeVar("T")

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
PIPELINE = "pipeline (S3, DynamoDB, sandbox)"
POOL = "pool (sandboxed extractor)"
DIRECT = "pypdf, in-process"
PDFIUM = "pypdfium2, in-process"
SIDES = (PIPELINE, POOL, DIRECT, PDFIUM)
#: The pipeline's timed steps, by the function it runs through ``Blocking.run`` (or ``extract``).
STEPS = {
    "models.documents.get": "read the document (DynamoDB GetItem)",
    "models.accounts.get": "read the account (GetItem), before and after",
    "adapters.s3.S3ObjectStore.download": "download the PDF (S3 GetObject, streamed)",
    "models.processing.count": "count it (DynamoDB transaction: 3 counters, the account, the document)",
    "extract": "extract the text (its own sandboxed pool)",
    "adapters.s3.S3ObjectStore.put_text": "store the text (S3 PutObject)",
    "models.processing.finish": "READY (conditional UpdateItem)",
    "models.quota.evaluate": "quota level (GetItem)",
}


@dataclass
class Side:
    """One side's totals on one kind of PDF over the rounds."""

    pages: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds of this process and the extraction processes meanwhile
    rounds: list[float] = field(default_factory=list)  # pages/s in each round

    @property
    def rate(self) -> float:
        return self.pages / self.seconds

    @property
    def rate_per_core(self) -> float:
        """Pages a CPU second: what one core would do, whatever else the machine was running."""
        return self.pages / self.cpu

    def add(self, pages: int, seconds: float, cpu: float) -> None:
        self.pages, self.seconds, self.cpu = self.pages + pages, self.seconds + seconds, self.cpu + cpu
        self.rounds.append(pages / seconds)


@dataclass(frozen=True)
class Agreement:
    pages: int
    pool_same_text: int  # pages whose text the pool gives exactly as pypdfium2 does, line ends made LF
    pool_same_words: int  # pages where the pool finds the same words, in order, as pypdf
    pdfium_same_words: int  # pages where pypdfium2 finds the same words, in order, as pypdf
    files: int
    pipeline_same_text: int  # files whose text the pipeline stored in S3 is the pool's, exactly


#: Results by kind of PDF, then by side.
Results = dict[str, dict[str, Side]]
#: The documents handed to the pipeline in one round (the first is the check), by kind of PDF.
Batch = dict[str, list[documents.Document]]


def run(*, quick: bool, command: str) -> str:
    """Make the PDFs, upload them, check the sides agree, time them in rotating order; the markdown section."""
    files, pages, rounds = (2, 10, 2) if quick else (FILES, PAGES, ROUNDS)
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp:
        corpus = {
            kind: [make_pdf(Path(tmp) / f"{index}-{number}.pdf", pages, font, seed=number) for number in range(files)]
            for index, (kind, font) in enumerate(KINDS.items())
        }
        progress(f"{files} PDFs of {pages} pages of each kind made with fpdf2")
        with embedded_aws(Path(tmp)) as (settings, target):
            objects = S3ObjectStore(target, settings.bucket)
            batches = upload(objects, settings, corpus, rounds + 1)
            progress(f"embedded AWS at {settings.aws_endpoint_url}: each PDF uploaded {rounds + 1} times, PROCESSING")
            steps, dropped = Timed(), Dropped()
            pipeline = Pipeline(
                blocking=TimedBlocking(settings.blocking_threads, steps),
                objects=objects,
                publisher=dropped,
                extraction=TimedExtraction(steps),
                mailer=SesMailer(target, settings.mail_from),
            )
            results, agreement = anyio.run(measure, corpus, pipeline, steps, batches)
    return section(
        results,
        agreement,
        steps,
        dropped,
        started=started,
        command=command,
        files=files,
        pages=pages,
        rounds=rounds,
    )


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


def upload(objects: S3ObjectStore, settings: Settings, corpus: dict[str, list[Path]], rounds: int) -> list[Batch]:
    """Each PDF as ``rounds`` documents of one PREMIUM account, completed as ``completeUpload`` does
    (the reservation, a presigned POST to S3, the check and count): PROCESSING, with no queue message,
    so only this benchmark's pipeline acts on them. A document is processed once, hence one a round."""
    account = accounts.create(
        email=f"bench-{ULID()}@example.com".lower(), password_hash="-", plan=Plan.PREMIUM, home_region=settings.region
    )
    batches: list[Batch] = []
    with httpx.Client(timeout=60) as http:
        for _ in range(rounds):
            batch: Batch = {kind: [] for kind in corpus}
            for kind, paths in corpus.items():
                for path in paths:
                    content = path.read_bytes()
                    record = uploads.start(
                        account,
                        document_id=str(ULID()),
                        name=path.name,
                        content_type="application/pdf",
                        size=len(content),
                        tags=[],
                        description="",
                        form_seconds=settings.upload_form_seconds,
                        sweep_grace_seconds=settings.sweep_grace_seconds,
                    )
                    form = objects.upload_post(
                        record.object_key,
                        content_type="application/pdf",
                        max_bytes=len(content),
                        metadata={},
                        expires_in=settings.upload_form_seconds,
                    )
                    posted = http.post(form.url, data=form.fields, files={"file": (path.name, content)})
                    if posted.status_code not in (201, 303):
                        raise RuntimeError(f"S3 POST failed ({posted.status_code}): {posted.text[:500]}")
                    record = upload_files.complete(objects, account.id, record.document_id)
                    if record.status != DocumentStatus.PROCESSING:
                        raise RuntimeError(f"{path.name}: {record.status} after completing, not PROCESSING")
                    batch[kind].append(record)
            batches.append(batch)
    return batches


# -- the sides -------------------------------------------------------------------------------------


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


IN_PROCESS: dict[str, Callable[[Path], list[str]]] = {DIRECT: with_pypdf, PDFIUM: with_pdfium}


async def with_pool(pool: Extraction, path: Path) -> list[str]:
    return (await pool.extract(path, "application/pdf")).text.split("\f")


def completed(record: documents.Document) -> UploadCompleted:
    return UploadCompleted(account_id=record.owner_id, document_id=record.document_id)


async def ready(pipeline: Pipeline, record: documents.Document) -> documents.Document:
    """The document after the pipeline, which must have made it READY with its text stored."""
    final = await pipeline.blocking.run(documents.get, record.owner_id, record.document_id)
    if final.status != DocumentStatus.READY or final.pages is None or final.text_key is None:
        raise RuntimeError(f"{record.name}: {final.status} ({final.failure_reason}) after the pipeline, not READY")
    return final


class Dropped:
    """Publisher that drops every event, counting them by type: pub/sub is not what is measured
    (bench/event_latency.py is about it)."""

    def __init__(self) -> None:
        self.events: Counter[str] = Counter()

    async def publish(self, event: Event) -> None:
        self.events[event.type.value] += 1


class Timed:
    """Where the pipeline's time goes: each ``Blocking.run`` call (by the function it runs) and
    each extraction, timed while ``kind`` names the kind of PDF being measured, and only then."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.seconds: dict[str, dict[str, float]] = {}  # by kind, then by step
        self.calls: dict[str, dict[str, int]] = {}
        self.documents: dict[str, int] = {}  # handled while timed, by kind
        self.cpu: dict[str, float] = {}  # this process's CPU time meanwhile (moto's included), by kind

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        kind, start = self.kind, time.perf_counter()
        try:
            yield
        finally:
            if kind is not None:
                seconds, calls = self.seconds.setdefault(kind, {}), self.calls.setdefault(kind, {})
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
                calls[name] = calls.get(name, 0) + 1


class TimedBlocking(Blocking):
    """The pipeline's ``Blocking``, each call timed by the function it runs."""

    def __init__(self, threads: int, timed: Timed) -> None:
        super().__init__(threads)
        self.timed = timed

    async def run(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        with self.timed.step(f"{func.__module__}.{getattr(func, '__qualname__', func)}"):
            return await super().run(func, *args, **kwargs)


class TimedExtraction(Extraction):
    """The pipeline's own pool of one process (a worker has its own), each extraction timed."""

    def __init__(self, timed: Timed) -> None:
        super().__init__(processes=1)
        self.timed = timed

    async def extract(
        self, path: Path, content_type: str, progress: Callable[[int, int], Awaitable[None]] | None = None
    ) -> Extracted:
        with self.timed.step("extract"):
            return await super().extract(path, content_type, progress)


# -- measuring -------------------------------------------------------------------------------------


async def measure(
    corpus: dict[str, list[Path]], pipeline: Pipeline, steps: Timed, batches: list[Batch]
) -> tuple[Results, Agreement]:
    pool = Extraction(processes=1)
    results: Results = {kind: {side: Side() for side in SIDES} for kind in corpus}
    try:
        agreement = await agree(pool, pipeline, corpus, batches[0])
        progress(
            f"pool = pypdfium2 on {agreement.pool_same_text}/{agreement.pages} pages, "
            f"with pypdf's words on {agreement.pool_same_words}/{agreement.pages}; "
            f"pypdfium2 has pypdf's words on {agreement.pdfium_same_words}/{agreement.pages}; "
            f"the pipeline stored the pool's text for {agreement.pipeline_same_text}/{agreement.files} files"
        )
        for number, batch in enumerate(batches[1:]):
            # Each round starts with another side, so drift over the run falls on all of them.
            for index in [(number + shift) % len(SIDES) for shift in range(len(SIDES))]:
                for kind, paths in corpus.items():
                    cpu = cpu_seconds(pool, pipeline.extraction)
                    if SIDES[index] == PIPELINE:
                        pages, seconds = await through_pipeline(pipeline, steps, kind, batch[kind])
                    else:
                        pages, seconds = await extracting(SIDES[index], pool, paths)
                    results[kind][SIDES[index]].add(pages, seconds, cpu_seconds(pool, pipeline.extraction) - cpu)
            progress(
                f"round {number + 1}: "
                + "; ".join(
                    f"{kind}: " + ", ".join(f"{side} {totals.rounds[-1]:.0f}" for side, totals in sides.items())
                    for kind, sides in results.items()
                )
            )
    finally:
        await pool.aclose()
        await pipeline.extraction.aclose()
    return results, agreement


def cpu_seconds(*pools: Extraction) -> float:
    """CPU seconds spent so far by this process (its threads, moto's included) and by the pools'
    extraction processes, read from /proc since they are not reaped. A process replaced meanwhile
    would take its time with it; none is, since a run gives each pool fewer than
    ``FILES_PER_PROCESS`` files."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = time.process_time()
    for pool in pools:
        for child in pool._children:  # no API tells a process's CPU time; a benchmark may look inside
            with contextlib.suppress(OSError):
                utime, stime = Path(f"/proc/{child.process.pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]
                total += (int(utime) + int(stime)) / ticks
    return total


async def extracting(side: str, pool: Extraction, paths: list[Path]) -> tuple[int, float]:
    """Every file read once by one extractor; pages and seconds."""
    extract = IN_PROCESS.get(side)
    start, pages = time.perf_counter(), 0
    for path in paths:
        pages += len(await with_pool(pool, path) if extract is None else extract(path))
    return pages, time.perf_counter() - start


async def through_pipeline(
    pipeline: Pipeline, steps: Timed, kind: str, records: list[documents.Document]
) -> tuple[int, float]:
    """``upload.completed`` handled for each document, one at a time; the pages, counted afterwards
    from the READY documents, and the seconds."""
    steps.kind = kind
    try:
        start, cpu = time.perf_counter(), time.process_time()
        for record in records:
            await pipeline.handle(completed(record))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        steps.kind = None
    steps.documents[kind] = steps.documents.get(kind, 0) + len(records)
    steps.cpu[kind] = steps.cpu.get(kind, 0.0) + cpu
    pages = 0
    for record in records:
        pages += int((await ready(pipeline, record)).pages)
    return pages, seconds


async def agree(pool: Extraction, pipeline: Pipeline, corpus: dict[str, list[Path]], batch: Batch) -> Agreement:
    """How far the sides agree (and a warm-up for each, the pools' process starts included)."""
    pages = same = pool_words = words = files = stored = 0
    for kind, paths in corpus.items():
        for path, record in zip(paths, batch[kind], strict=True):
            direct, sandboxed, pdfium = with_pypdf(path), await with_pool(pool, path), with_pdfium(path)
            pages += len(direct)
            same += sum(plain(a) == b for a, b in zip(pdfium, sandboxed, strict=True))
            pool_words += sum(a.split() == b.split() for a, b in zip(direct, sandboxed, strict=True))
            words += sum(a.split() == b.split() for a, b in zip(direct, pdfium, strict=True))
            await pipeline.handle(completed(record))
            final = await ready(pipeline, record)
            text = await pipeline.blocking.run(pipeline.objects.get_text, str(final.text_key))
            files += 1
            stored += int(text == "\f".join(sandboxed) and int(final.pages) == len(sandboxed))
    return Agreement(pages, same, pool_words, words, files, stored)


# -- the report ------------------------------------------------------------------------------------


def section(
    results: Results,
    agreement: Agreement,
    steps: Timed,
    dropped: Dropped,
    *,
    started: datetime,
    command: str,
    files: int,
    pages: int,
    rounds: int,
) -> str:
    packages = ("pypdf", "pypdfium2", "fpdf2", "moto", "boto3", "pynamodb")
    versions = ", ".join(f"{package} {metadata.version(package)}" for package in packages)
    made_by = " (what `make bench` runs)" if command == "python -m bench" else ""
    rows = [
        f"| {kind} | {name} | {side.pages} | {side.seconds:.2f} | {side.rate:.1f} | {1000 / side.rate:.2f} | "
        f"{side.cpu:.2f} | **{side.rate_per_core:.0f}** |"
        for kind, sides in results.items()
        for name, side in sides.items()
    ]
    ratios = [
        f"| {kind} | **{sides[PIPELINE].rate / sides[PDFIUM].rate:.3f}** | "
        f"{per_round(sides, PIPELINE, '.3f', PDFIUM)} | "
        f"**{sides[POOL].rate / sides[PDFIUM].rate:.3f}** | {per_round(sides, POOL, '.3f', PDFIUM)} |"
        for kind, sides in results.items()
    ]
    against_pypdf = [
        f"| {kind} | **{sides[PIPELINE].rate / sides[DIRECT].rate:.2f}** | {per_round(sides, PIPELINE, '.2f')} | "
        f"**{sides[POOL].rate / sides[DIRECT].rate:.2f}** | {per_round(sides, POOL, '.2f')} | "
        f"**{sides[PDFIUM].rate / sides[DIRECT].rate:.1f}** | {per_round(sides, PDFIUM, '.1f')} |"
        for kind, sides in results.items()
    ]
    handled = agreement.files + sum(steps.documents.values())
    events = ", ".join(f"{kind} {count / handled:g}" for kind, count in dropped.events.items())
    return "\n".join(
        [
            "## Text-PDF extraction: the pipeline and the sandboxed pool against pypdfium2 and pypdf in-process",
            "",
            f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`{made_by}, on {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; {versions}.",
            "",
            f"{files} PDFs of {pages} pages of each kind, made by fpdf2: full pages of text at 10 pt, about 520 "
            "words a page, in Helvetica (a standard font, not embedded) or in DejaVu Sans embedded as a subset "
            "with a ToUnicode map (as office suites export). In each round each side reads every file once, "
            "one file at a time, and the side that goes first rotates from round to round; "
            f"{rounds} rounds after a warm-up. The pipeline is `workers.pipeline.Pipeline` handling "
            "`upload.completed` for documents of one PREMIUM account, uploaded before the timing (each file once "
            "a round, since a document is processed once) and PROCESSING in the embedded AWS, moto, which runs "
            "in this process as under `docstore serve`: it downloads the PDF from S3, detects its type, counts "
            "it in DynamoDB, extracts the text with its own pool of one process, stores the text in S3, makes "
            "the document READY and checks the account's quota level. Its events go to a publisher that drops "
            "them (pub/sub is not measured here); its mailer is moto's SES, which sent nothing (no quota level "
            "was crossed). The pool is `workers.extraction.Extraction` with one process and the default limits, "
            "awaited from this process's event loop; the in-process extractors are plain calls. Pages a second "
            "are wall-clock; pages a CPU second count the CPU time of this process (moto's threads included) and "
            "of the extraction processes (read from /proc) while a side ran, which is what one core would do "
            "on a machine that other work shares.",
            "",
            "| PDF text in | side | pages | seconds | pages/s | ms/page | CPU seconds | pages a CPU second |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            "| PDF text in | pipeline / pypdfium2 | per round | pool / pypdfium2 | per round |",
            "| --- | ---: | --- | ---: | --- |",
            *ratios,
            "",
            "| PDF text in | pipeline / pypdf | per round | pool / pypdf | per round | pypdfium2 / pypdf | per round |",
            "| --- | ---: | --- | ---: | --- | ---: | --- |",
            *against_pypdf,
            "",
            *breakdown(results, steps),
            "",
            f"The text the pipeline stored in S3 is the pool's, exactly, for {agreement.pipeline_same_text} of "
            f"{agreement.files} files (each checked once, before the timing). "
            f"The pool's text is pypdfium2's with its line ends made LF (`workers.extractors.pdf.plain`), page for "
            f"page, on {agreement.pool_same_text} of {agreement.pages} pages, and has pypdf's words in pypdf's order "
            f"on {agreement.pool_same_words} of {agreement.pages}. "
            f"pypdfium2 finds the same words in the same order as pypdf on {agreement.pdfium_same_words} of "
            f"{agreement.pages} pages; its whitespace differs (it ends lines with CR LF, and where these justified "
            "lines are spaced out pypdf puts two spaces between words, pypdfium2 one). "
            f"Events the pipeline published, a document: {events}.",
        ]
    )


def per_round(sides: dict[str, Side], side: str, spec: str, baseline: str = DIRECT) -> str:
    pairs = zip(sides[side].rounds, sides[baseline].rounds, strict=True)
    return ", ".join(f"{a / b:{spec}}" for a, b in pairs)


def breakdown(results: Results, steps: Timed) -> list[str]:
    """The pipeline's time a document, step by step, beside the pool's and pypdf's for a file."""
    kinds = list(results)

    def row(label: str, seconds: dict[str, float], calls: str = "") -> str:
        cells = (f"{1000 * seconds[kind] / steps.documents[kind]:.1f}" for kind in kinds)
        return f"| {label} | {calls} | " + " | ".join(cells) + " |"

    def side(name: str) -> dict[str, float]:
        return {kind: results[kind][name].seconds for kind in kinds}

    total = side(PIPELINE)
    return [
        "Where the pipeline's time goes, in ms a document (one file): each step timed as it ran in the rounds "
        "above; a blocking step includes its hop to a worker thread and moto's work, in this process.",
        "",
        "| step | calls a document | " + " | ".join(f"{kind} ms" for kind in kinds) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in kinds) + " |",
        *(
            row(
                STEPS.get(name, name),
                {kind: steps.seconds[kind].get(name, 0.0) for kind in kinds},
                f"{calls / steps.documents[kinds[0]]:g}",
            )
            for name, calls in steps.calls[kinds[0]].items()
        ),
        row(
            "the rest: temporary folder, type detection, events, the event loop",
            {kind: total[kind] - sum(steps.seconds[kind].values()) for kind in kinds},
        ),
        row("**the pipeline, in all**", total),
        row(
            "the pipeline outside the extraction",
            {kind: total[kind] - steps.seconds[kind]["extract"] for kind in kinds},
        ),
        row("CPU time of this process meanwhile (moto, boto3 and PynamoDB, the event loop)", steps.cpu),
        row("the pool, for the same file", side(POOL)),
        row("pypdfium2 in-process, for the same file", side(PDFIUM)),
        row("pypdf in-process, for the same file", side(DIRECT)),
    ]
