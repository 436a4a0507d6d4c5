"""The extraction pool: every type through its processes, and hostile files that end in a reason
within the limits, after which the same pool extracts the next file."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import anyio
import pytest

from tests.workers import files
from workers.detect import HEAD_BYTES, detect, detect_file
from workers.extraction import Extracted, Extraction, ExtractionFailed
from workers.extractors import registry, sandbox
from workers.extractors.registry import EXTRACTABLE

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LINE = "Invoice 4521 paid in full"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("extraction")


@pytest.fixture(scope="module")
def normal(folder) -> Path:
    """The file each test extracts after its hostile one, to show the pool goes on."""
    return files.pdf_file(folder / "normal.pdf", "An ordinary page", "Another ordinary page")


NORMAL = Extracted("An ordinary page\fAnother ordinary page", 2)


def run(scenario, **limits):
    """Run ``scenario(pool)`` in an event loop with a fresh pool, closed after."""

    async def main():
        pool = Extraction(**limits)
        try:
            return await scenario(pool)
        finally:
            await pool.aclose()

    return anyio.run(main)


async def outcome(pool: Extraction, path: Path, content_type: str) -> Extracted | str:
    """What extracting ``path`` gives: the text, or the failure's class and reason (``"KIND: reason"``)."""
    try:
        return await pool.extract(path, content_type)
    except ExtractionFailed as failure:
        return failed(failure)


def failed(failure: ExtractionFailed) -> str:
    return f"{failure.kind}: {failure.reason}"


def live(name: str) -> list[int]:
    """Processes running ``name`` that are still alive (not zombies)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            command, state = fields[0].split("(", 1)[1], fields[1].split()[0]
        except (OSError, IndexError):
            continue  # ended while we looked
        if command == name and state not in ("Z", "X"):
            pids.append(int(stat.parent.name))
    return pids


def surviving(name: str, within: float) -> list[int]:
    """Processes running ``name`` still alive after up to ``within`` seconds (dying takes a moment)."""
    deadline = time.monotonic() + within
    while live(name) and time.monotonic() < deadline:
        time.sleep(0.02)
    return live(name)


#: Sandboxes this test process had before a test's pool started any: the session's live server
#: runs the workers in-process, and its extraction pool's processes are this process's children too.
OTHERS: set[int] = set()


@pytest.fixture(autouse=True)
def others() -> None:
    OTHERS.clear()
    OTHERS.update(all_sandboxes_of_this_process())


def sandboxes_of_this_process() -> list[int]:
    """The sandbox processes the running test's pools started."""
    return [pid for pid in all_sandboxes_of_this_process() if pid not in OTHERS]


def all_sandboxes_of_this_process() -> list[int]:
    children = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"workers.extractors.sandbox" in cmdline.read_bytes():
                status = (cmdline.parent / "status").read_text()
                if f"\nPPid:\t{os.getpid()}\n" in status and "\nState:\tZ" not in status:
                    children.append(int(cmdline.parent.name))
        except OSError:
            continue
    return children


def test_the_sandbox_reads_each_declared_type_with_its_declared_module() -> None:
    assert {content_type: extractor.__module__ for content_type, extractor in sandbox.EXTRACTORS.items()} == {
        content_type: declared.module for declared in registry.DECLARATIONS for content_type in declared.content_types
    }


def test_every_declared_type_is_detected_and_extracted_through_the_pool(folder) -> None:
    made = {
        "application/pdf": files.pdf_file(folder / "a.pdf", "Typed page", files.picture("Scanned page")),
        DOCX: files.docx_file(folder / "a.docx"),
        "text/plain": folder / "a.txt",
        "text/markdown": folder / "a.md",
        "text/csv": folder / "a.csv",
        "text/html": folder / "a.html",
        "image/png": files.image_file(folder / "a.png", LINE, format="PNG"),
        "image/jpeg": files.image_file(folder / "a.jpg", LINE, format="JPEG"),
        "image/tiff": files.tiff_file(folder / "a.tiff", "Page one", "Page two"),
        "image/webp": files.image_file(folder / "a.webp", LINE, format="WEBP"),
    }
    made["text/plain"].write_text("Grüße aus Köln\n")
    made["text/markdown"].write_text("# Title\n\nSome *words*.\n")
    made["text/csv"].write_text("a,b\n1,2\n")
    made["text/html"].write_text("<html><body><h1>Title</h1><p>Some <i>words</i>.</p></body></html>")
    # A new declaration needs a file here: what the pipeline would detect, and what the pool makes of it.
    assert set(made) == EXTRACTABLE
    assert {content_type: detect_file(path, content_type) for content_type, path in made.items()} == {
        content_type: content_type for content_type in made
    }

    async def scenario(pool: Extraction) -> dict[str, Extracted | str]:
        return {content_type: await outcome(pool, path, content_type) for content_type, path in made.items()}

    assert run(scenario) == {
        "application/pdf": Extracted("Typed page\fScanned page", 2),
        DOCX: Extracted(
            "Quarterly report\nSales grew in every region.\nRegion\tQ1\tQ2\nNorth\t10\t12\nSouth\t7\t9\nTotal 38\n"
            "Prepared by the finance team.",
            None,
        ),
        "text/plain": Extracted("Grüße aus Köln\n", None),
        "text/markdown": Extracted("# Title\n\nSome *words*.\n", None),
        "text/csv": Extracted("a\tb\n1\t2", None),
        "text/html": Extracted("Title\n\nSome words.\n", None),
        "image/png": Extracted(LINE, None),
        "image/jpeg": Extracted(LINE, None),
        "image/tiff": Extracted("Page one\fPage two", 2),
        "image/webp": Extracted(LINE, None),
    }


def test_progress_is_awaited_in_page_order_up_to_the_last_page(folder) -> None:
    path = files.pdf_file(folder / "progress.pdf", *[files.picture(f"Scanned page {n}") for n in range(1, 5)])
    calls: list[tuple[int, int]] = []

    async def progress(page: int, pages: int) -> None:
        calls.append((page, pages))

    async def scenario(pool: Extraction) -> Extracted:
        return await pool.extract(path, "application/pdf", progress)

    extracted = run(scenario)

    assert extracted.pages == 4
    assert calls[-1] == (4, 4)
    assert [page for page, _ in calls] == sorted({page for page, _ in calls})
    assert {pages for _, pages in calls} == {4}


# -- hostile files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "content_type", "reason"),
    [
        (
            lambda folder: files.looping_pdf(folder / "loop.pdf"),
            "application/pdf",
            "INVALID: not a valid PDF (its page tree loops)",
        ),
        (
            lambda folder: files.truncated_pdf(folder / "cut.pdf"),
            "application/pdf",
            "INVALID: not a valid PDF (truncated?)",
        ),
        (
            lambda folder: files.encrypted_pdf(folder / "locked.pdf", user_password="secret"),
            "application/pdf",
            "ENCRYPTED: the PDF needs a password",
        ),
        (
            # 2 GiB of spaces in the second page's content: PDFium, given it, aborts its process past
            # the memory limit; pypdf's limits refuse it first.
            lambda folder: files.pdf_bomb(folder / "bomb.pdf", 2 * 1024**3),
            "application/pdf",
            "TOO_LARGE: the PDF unpacks past the PDF reader's safety limits",
        ),
        (
            lambda folder: files.png_claiming(folder / "huge.png", 100_000, 100_000),
            "image/png",
            "TOO_LARGE: the image claims 100000 × 100000 pixels, more than 50 million",
        ),
        (
            lambda folder: files.docx_bomb(folder / "bomb.docx"),
            DOCX,
            "TOO_LARGE: the DOCX unpacks to 3 GiB, more than 256 MiB",
        ),
    ],
    ids=[
        "pdf-page-tree-loop",
        "truncated-pdf",
        "encrypted-pdf",
        "pdf-decompression-bomb",
        "png-claiming-100000x100000",
        "docx-zip-bomb",
    ],
)
def test_hostile_file_fails_with_its_reason_and_the_pool_goes_on(make, content_type, reason, folder, normal) -> None:
    hostile = make(folder)
    assert detect(hostile.read_bytes()[:HEAD_BYTES], content_type) == content_type  # as the pipeline sees it

    async def scenario(pool: Extraction) -> tuple[Extracted | str, Extracted | str]:
        return await outcome(pool, hostile, content_type), await outcome(pool, normal, "application/pdf")

    assert run(scenario, processes=1, seconds=10) == (reason, NORMAL)


def test_pdf_of_10000_blank_pages_is_read_without_text(folder, normal) -> None:
    # Nothing is drawn on a blank page, so none is rendered for OCR: 10,000 of them take seconds,
    # and the document is READY with no words (page breaks only).
    blank = files.blank_pdf(folder / "blank.pdf", 10_000)

    async def scenario(pool: Extraction) -> tuple[Extracted | str, Extracted | str]:
        return await outcome(pool, blank, "application/pdf"), await outcome(pool, normal, "application/pdf")

    assert run(scenario, processes=1, seconds=10) == (Extracted("\f" * 9_999, 10_000), NORMAL)


def test_file_whose_name_lies_is_extracted_as_what_its_bytes_are(folder, normal) -> None:
    # A PNG uploaded as "scan.pdf", declared application/pdf.
    liar = files.image_file(folder / "scan.pdf", LINE, format="PNG")
    detected = detect(liar.read_bytes()[:HEAD_BYTES], "application/pdf")

    async def scenario(pool: Extraction) -> tuple[Extracted | str, ...]:
        return (
            await outcome(pool, liar, detected),
            # Had the client's word been taken, the PDF extractor would have refused it; no harm done.
            await outcome(pool, liar, "application/pdf"),
            await outcome(pool, normal, "application/pdf"),
        )

    assert detected == "image/png"
    assert run(scenario, processes=1, seconds=10) == (Extracted(LINE, None), "INVALID: not a valid PDF", NORMAL)


def test_file_past_the_wall_clock_limit_is_killed_with_its_ocr(folder, normal) -> None:
    # Pages of dense scanned text: tesseract takes seconds over each, so it is mid-page at the kill.
    page = files.picture(*[f"Line {n}: the quick brown fox jumps over the lazy dog" for n in range(80)], size=32)
    slow = files.pdf_file(folder / "slow.pdf", *[page] * 5)

    async def scenario(pool: Extraction) -> tuple[Extracted | str, list[int], Extracted | str]:
        timed_out = await outcome(pool, slow, "application/pdf")
        return timed_out, surviving("tesseract", within=0.3), await outcome(pool, normal, "application/pdf")

    assert run(scenario, processes=1, seconds=1) == ("TIMEOUT: took longer than 1 s", [], NORMAL)


def test_process_that_crashes_mid_file_fails_that_file_and_is_replaced(folder, normal) -> None:
    scans = files.pdf_file(folder / "crash.pdf", *[files.picture(f"Scanned page {n}") for n in range(20)])
    crashes: list[int] = []

    async def crash_once(page: int, pages: int) -> None:  # progress: the process is mid-file
        if not crashes:
            (process,) = sandboxes_of_this_process()
            os.kill(process, signal.SIGSEGV)
            crashes.append(process)

    async def scenario(pool: Extraction) -> tuple[Extracted | str, Extracted | str]:
        try:
            crashed: Extracted | str = await pool.extract(scans, "application/pdf", crash_once)
        except ExtractionFailed as failure:
            crashed = failed(failure)
        return crashed, await outcome(pool, normal, "application/pdf")

    assert run(scenario, processes=1, seconds=30) == ("CRASHED: the extraction process crashed (SIGSEGV)", NORMAL)
    assert len(crashes) == 1


def test_file_past_the_memory_limit_fails_and_the_next_gets_a_fresh_process(folder, normal) -> None:
    large = folder / "large.txt"
    with large.open("wb") as file:
        file.truncate(192 * 1024**2)  # 192 MiB of NULs, read whole into a process capped at 256 MiB

    async def scenario(pool: Extraction) -> tuple[Extracted | str, Extracted | str]:
        return await outcome(pool, large, "text/plain"), await outcome(pool, normal, "application/pdf")

    memory = 256 * 1024**2
    assert run(scenario, processes=1, seconds=10, memory_bytes=memory) == (
        "MEMORY: needed more than 256 MiB of memory",
        NORMAL,
    )


def test_files_are_extracted_side_by_side(folder, normal) -> None:
    scan = files.image_file(folder / "side.png", LINE, format="PNG")

    async def scenario(pool: Extraction) -> list[Extracted | str]:
        results: list[Extracted | str] = [NORMAL, NORMAL]

        async def one(index: int, path: Path, content_type: str) -> None:
            results[index] = await outcome(pool, path, content_type)

        async with anyio.create_task_group() as group:
            group.start_soon(one, 0, scan, "image/png")
            group.start_soon(one, 1, normal, "application/pdf")
        return results

    assert run(scenario, processes=2) == [Extracted(LINE, None), NORMAL]


def test_closing_the_pool_ends_its_processes(normal) -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        pool = Extraction(processes=2)
        async with anyio.create_task_group() as group:
            for _ in range(2):
                group.start_soon(pool.extract, normal, "application/pdf")
        running = sandboxes_of_this_process()
        await pool.aclose()
        return running, sandboxes_of_this_process()

    running, after = anyio.run(scenario)

    assert (len(running), after) == (2, [])


def test_type_without_an_extractor_is_a_caller_error(normal) -> None:
    async def scenario(pool: Extraction) -> None:
        await pool.extract(normal, "video/mp4")

    with pytest.raises(ValueError, match="no extractor for video/mp4"):
        run(scenario)


def test_an_error_the_extractor_did_not_expect_fails_the_file_as_unreadable(monkeypatch, folder) -> None:
    def breaks(path: Path, content_type: str, progress: object) -> Extracted:
        raise RuntimeError("a bug in an extractor")

    monkeypatch.setitem(sandbox.EXTRACTORS, "text/plain", breaks)
    request = {"path": str(folder / "any.txt"), "content_type": "text/plain"}

    answer, retire = sandbox.answer(request, channel=None, memory_bytes=1024**3)  # type: ignore[arg-type]

    assert (answer, retire) == (
        sandbox.encode({"failed": "the file could not be read", "kind": "UNREADABLE"}),
        False,
    )


@pytest.mark.parametrize(("given", "environment"), [("text", "json"), ("json", "text")])
def test_the_sandbox_logs_in_the_format_the_pool_gives_it_not_the_environments(
    monkeypatch, capfd, folder, given: str, environment: str
) -> None:
    monkeypatch.setenv("DOCSTORE_LOG_FORMAT", environment)

    async def scenario(pool: Extraction) -> Extracted | str:
        return await outcome(pool, folder, "text/plain")  # a folder: reading it raises what no extractor expects

    assert run(scenario, processes=1, log_format=given) == "UNREADABLE: the file could not be read"
    message = f"extracting {folder} (text/plain) failed"
    (line,) = [line for line in capfd.readouterr().err.splitlines() if message in line]
    if given == "json":
        assert (json.loads(line)["level"], json.loads(line)["message"]) == ("ERROR", message)
    else:
        assert line.endswith(f" ERROR __main__ [-]: {message}")  # run as python -m


def test_a_pool_refuses_a_log_format_no_process_could_use() -> None:
    with pytest.raises(ValueError, match="an extraction pool logs in one of \\['json', 'text'\\], not 'xml'"):
        Extraction(log_format="xml")
