"""Text formats: plain text and Markdown as they are, CSV as tab-separated rows, HTML as the text a
browser would show (inscriptis). Bytes are decoded by their byte-order mark, as UTF-8, or else by the
charset charset-normalizer finds (which heeds a document's own declaration, such as HTML's ``<meta
charset>``)."""

from __future__ import annotations

import codecs
import csv
import io
import re
from typing import TYPE_CHECKING

import charset_normalizer
import inscriptis

from workers.extractors.base import INVALID, Extracted, ExtractionFailed, KiB

if TYPE_CHECKING:
    from pathlib import Path

    from workers.extractors.base import PageProgress

# Longest first: UTF-32's little-endian mark begins with UTF-16's.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

#: How much of a CSV file its dialect (delimiter, quoting) is guessed from.
CSV_SAMPLE = 64 * KiB

# lxml refuses a str that still carries an XML declaration naming an encoding (XHTML often does).
XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*>")


def extract(path: Path, content_type: str, progress: PageProgress) -> Extracted:
    """The text of a text/plain, text/markdown, text/csv or text/html file."""
    text = decode(path.read_bytes())
    if content_type == "text/html":
        text = inscriptis.get_text(XML_DECLARATION.sub("", text))
    elif content_type == "text/csv":
        text = rows(text)
    return Extracted(text, None)


def decode(data: bytes) -> str:
    for mark, encoding in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    guesses = charset_normalizer.from_bytes(data)
    best = guesses.best()
    if best is None:
        raise ExtractionFailed("not a text file (no character encoding fits it)", INVALID)
    # Short Western text often fits several single-byte encodings equally well (é, è and à make
    # sense in Windows-1250 too, as č, ŕ, ...); Windows-1252 is by far the most common of them.
    for guess in guesses:
        if guess.encoding == "cp1252" and (guess.chaos, guess.coherence) == (best.chaos, best.coherence):
            return str(guess)
    return str(best)


def rows(text: str) -> str:
    """A CSV file's rows, one a line, cells separated by tabs (quotes and escapes resolved)."""
    sample = text[:CSV_SAMPLE]
    if len(text) > CSV_SAMPLE:
        sample = sample[: sample.rfind("\n") + 1] or sample  # whole rows only, if any
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:  # one column, or nothing regular enough to tell
        dialect = csv.excel
    try:
        return "\n".join("\t".join(row) for row in csv.reader(io.StringIO(text, newline=""), dialect))
    except csv.Error:  # broken quoting, a cell past csv's field size limit: the text reads well as it is
        return text
