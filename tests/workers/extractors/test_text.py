"""The text extractor decodes text by its mark, as UTF-8 or by a charset guess, and reads CSV and HTML."""

from __future__ import annotations

import csv

import pytest

from workers.extractors import text
from workers.extractors.base import Extracted

WESTERN = "Café crème à la carte — 5 €. Naïve façade, déjà vu."


def extract(tmp_path, data: bytes, content_type: str = "text/plain") -> Extracted:
    path = tmp_path / "file"
    path.write_bytes(data)
    return text.extract(path, content_type, lambda page, pages: None)


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (WESTERN.encode(), "utf-8"),
        (WESTERN.encode("utf-8-sig"), "utf-8 with a byte-order mark"),
        (WESTERN.encode("utf-16"), "utf-16 with a byte-order mark"),
        (WESTERN.encode("cp1252"), "windows-1252, guessed"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_plain_text_is_decoded(encoded, encoding, tmp_path) -> None:
    assert extract(tmp_path, encoded) == Extracted(WESTERN, None)


def test_russian_in_windows_1251_is_guessed(tmp_path) -> None:
    russian = "Съешь же ещё этих мягких французских булок, да выпей чаю. Широкая электрификация южных губерний."

    assert extract(tmp_path, russian.encode("cp1251")) == Extracted(russian, None)


def test_markdown_is_kept_as_written(tmp_path) -> None:
    source = "# Plan\n\n- **Ship** the [beta](https://example.com)\n- Write `docs`\n"

    assert extract(tmp_path, source.encode(), "text/markdown") == Extracted(source, None)


def test_csv_becomes_tab_separated_rows_with_quoting_resolved(tmp_path) -> None:
    path = tmp_path / "people.csv"
    with path.open("w", newline="") as file:  # as Python's csv writes it: \r\n, quotes only where needed
        csv.writer(file).writerows([["name", "note"], ["Smith, Jane", 'said "hi"\nthen left'], ["Doe", "ok"]])

    assert extract(tmp_path, path.read_bytes(), "text/csv") == Extracted(
        'name\tnote\nSmith, Jane\tsaid "hi"\nthen left\nDoe\tok', None
    )


def test_csv_with_semicolons_is_recognised(tmp_path) -> None:
    assert extract(tmp_path, b"city;price\nLyon;3,50\nNice;4,20\n", "text/csv") == Extracted(
        "city\tprice\nLyon\t3,50\nNice\t4,20", None
    )


def test_html_becomes_the_text_a_browser_shows_in_its_declared_charset(tmp_path) -> None:
    page = (
        '<?xml version="1.0" encoding="windows-1252"?>\n<!DOCTYPE html>\n'
        '<html><head><meta charset="windows-1252"><title>Menu</title><style>p { color: red }</style>'
        '<script>var hidden = "never shown";</script></head>'
        "<body><h1>Café menu</h1><p>Crème brûlée &amp; <b>espresso</b>: 5&nbsp;&euro;</p>"
        "<ul><li>Tea</li><li>Coffee</li></ul></body></html>"
    )

    extracted = extract(tmp_path, page.encode("cp1252"), "text/html")

    assert extracted == Extracted("Café menu\n\nCrème brûlée & espresso: 5 €\n\n  * Tea\n  * Coffee", None)
