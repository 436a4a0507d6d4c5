"""The DOCX extractor reads the body's paragraphs and tables in document order."""

from __future__ import annotations

import zipfile

import pytest

from tests.workers import files
from workers.extractors import docx
from workers.extractors.base import Extracted, ExtractionFailed

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_paragraphs_and_table_rows_come_in_document_order(tmp_path) -> None:
    path = files.docx_file(tmp_path / "report.docx")

    extracted = docx.extract(path, DOCX, lambda page, pages: None)

    assert extracted == Extracted(
        "Quarterly report\n"
        "Sales grew in every region.\n"
        "Region\tQ1\tQ2\n"
        "North\t10\t12\n"
        "South\t7\t9\n"
        "Total 38\n"  # one cell merged across three columns, once
        "Prepared by the finance team.",
        None,
    )


@pytest.mark.parametrize(
    "contents", [b"PK\x03\x04 and then nothing of a zip", None], ids=["broken-zip", "zip-without-a-document"]
)
def test_zip_that_is_no_word_document_is_not_a_valid_docx(contents, tmp_path) -> None:
    path = tmp_path / "report.docx"
    if contents is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.txt", "not a Word document")
    else:
        path.write_bytes(contents)

    with pytest.raises(ExtractionFailed) as failed:
        docx.extract(path, DOCX, lambda page, pages: None)

    assert (failed.value.kind, failed.value.reason) == ("INVALID", "not a valid DOCX")
