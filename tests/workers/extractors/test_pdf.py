"""The PDF extractor reads each page's text layer and OCRs the pages that have none."""

from __future__ import annotations

import pypdfium2
import pytest
from fpdf import FPDF

from tests.workers import files
from workers.extractors import pdf
from workers.extractors.base import Extracted, ExtractionFailed


def extract(path) -> tuple[Extracted, list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []
    extracted = pdf.extract(path, "application/pdf", lambda page, pages: calls.append((page, pages)))
    return extracted, calls


def test_text_pages_are_read_one_after_another_with_progress(tmp_path) -> None:
    path = files.pdf_file(tmp_path / "a.pdf", "Introduction\nWhy we are here", "Results", "Conclusion")

    extracted, calls = extract(path)

    assert extracted == Extracted("Introduction\nWhy we are here\fResults\fConclusion", 3)
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_scanned_page_without_a_text_layer_is_ocred(tmp_path) -> None:
    path = files.pdf_file(tmp_path / "a.pdf", "Typed page", files.picture("Scanned page two"), "Typed again")

    extracted, _ = extract(path)

    assert extracted == Extracted("Typed page\fScanned page two\fTyped again", 3)


def test_pdf_encrypted_with_an_empty_user_password_is_read(tmp_path) -> None:
    # The usual way to forbid printing or copying: anyone may open it, so may DocStore.
    path = files.encrypted_pdf(tmp_path / "a.pdf", user_password="")

    assert extract(path)[0] == Extracted("Top secret", 1)


def test_file_without_a_pdf_header_is_not_a_valid_pdf(tmp_path) -> None:
    path = tmp_path / "a.pdf"
    path.write_text("just some words\n")

    with pytest.raises(ExtractionFailed) as failed:
        extract(path)

    assert (failed.value.kind, failed.value.reason) == ("INVALID", "not a valid PDF")


def test_text_of_an_office_style_pdf_is_read_as_it_is_set(tmp_path) -> None:
    # fpdf2 with an embedded TrueType subset and a ToUnicode map, as office suites export: a justified
    # paragraph wrapped over three lines, a line that ends with a hyphen, a line of its own.
    pdf = FPDF()
    pdf.add_font("Embedded", fname=str(files.FONT))
    pdf.set_font("Embedded", size=14)
    pdf.add_page()
    pdf.multi_cell(
        w=100, h=7, text="Grüße aus Köln: the quarterly report, on time and within budget. Invoice 4521 paid."
    )
    for line in ("A well-", "known total: 38 €"):
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "a.pdf"))

    extracted, _ = extract(tmp_path / "a.pdf")

    # One space between words where the justified lines are spaced out, LF at the end of each line.
    assert extracted == Extracted(
        "Grüße aus Köln: the quarterly report,\non time and within budget. Invoice\n4521 paid.\n"
        "A well-\nknown total: 38 €",
        1,
    )


def test_page_tree_with_a_wrong_page_count_is_read_in_full(tmp_path) -> None:
    # The root says one page; there are three. PDFium believes the root, pypdf walks the tree.
    path = files.miscounted_pdf(tmp_path / "a.pdf", "One", "Two", "Three", count=1)

    assert extract(path) == (Extracted("One\fTwo\fThree", 3), [(1, 3), (2, 3), (3, 3)])


@pytest.mark.parametrize("where", ["/Contents", "/FontFile2"])
def test_pdf_that_unpacks_without_end_is_too_large(tmp_path, where) -> None:
    # 256 MiB of spaces, in a stream that reading the second page's text unpacks: its content, or the
    # program of its (embedded) font.
    path = files.pdf_bomb(tmp_path / "a.pdf", 256 * 1024**2, where=where)

    with pytest.raises(ExtractionFailed) as failed:
        extract(path)

    assert (failed.value.kind, failed.value.reason) == (
        "TOO_LARGE",
        "the PDF unpacks past the PDF reader's safety limits",
    )


# -- PDFium's handles ------------------------------------------------------------------------------


@pytest.fixture
def opened(monkeypatch) -> list[object]:
    """Every PDFium document, page and text page opened while the test runs, held here, so that
    only a close, not the garbage collector, can close them (``raw`` is None once closed)."""
    handles: list[object] = []

    def recording(method):
        def record(*args, **kwargs):
            handle = method(*args, **kwargs)
            handles.append(handle)
            return handle

        return record

    def init(self, *args, **kwargs) -> None:
        document_init(self, *args, **kwargs)
        handles.append(self)

    document_init = pypdfium2.PdfDocument.__init__
    monkeypatch.setattr(pypdfium2.PdfDocument, "__init__", init)
    monkeypatch.setattr(pypdfium2.PdfDocument, "get_page", recording(pypdfium2.PdfDocument.get_page))
    monkeypatch.setattr(pypdfium2.PdfPage, "get_textpage", recording(pypdfium2.PdfPage.get_textpage))
    return handles


def still_open(handles: list[object]) -> list[str]:
    return [type(handle).__name__ for handle in handles if handle.raw is not None]  # type: ignore[attr-defined]


def test_each_page_is_closed_before_the_next_is_read_and_the_document_at_the_end(tmp_path, opened) -> None:
    path = files.pdf_file(tmp_path / "a.pdf", "Typed page", files.picture("Scanned page"), "Typed again")
    open_at_each_page: list[list[str]] = []

    extracted = pdf.extract(path, "application/pdf", lambda page, pages: open_at_each_page.append(still_open(opened)))

    assert extracted == Extracted("Typed page\fScanned page\fTyped again", 3)
    assert open_at_each_page == [["PdfDocument"]] * 3
    # The document, and for each page one page and one text page; the scanned page once more, rendered.
    assert [type(handle).__name__ for handle in opened] == [
        "PdfDocument",
        *["PdfPage", "PdfTextPage"] * 2,
        "PdfPage",
        *["PdfPage", "PdfTextPage"],
    ]
    assert still_open(opened) == []


def test_document_is_closed_when_a_page_fails_the_extraction(tmp_path, opened) -> None:
    path = files.pdf_bomb(tmp_path / "a.pdf", 256 * 1024**2)  # its first page read, its second refused

    with pytest.raises(ExtractionFailed):
        extract(path)

    assert [type(handle).__name__ for handle in opened] == ["PdfDocument", "PdfPage", "PdfTextPage"]
    assert still_open(opened) == []
