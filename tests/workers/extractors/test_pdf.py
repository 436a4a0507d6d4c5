"""The PDF extractor reads each page's text layer and OCRs the pages that have none."""

from __future__ import annotations

import pytest

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
