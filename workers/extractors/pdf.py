"""PDF: the text layer of each page with pypdf; pages without one are rendered (pypdfium2) and OCRed."""

from __future__ import annotations

import math
from contextlib import ExitStack
from typing import TYPE_CHECKING

import pypdfium2
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError, PdfStreamError

from workers.extractors import image
from workers.extractors.base import ENCRYPTED, INVALID, PAGE_BREAK, TOO_LARGE, Extracted, ExtractionFailed

if TYPE_CHECKING:
    from pathlib import Path

    from PIL import Image
    from pypdf import PageObject

    from workers.extractors.base import PageProgress

#: Pages without a text layer are rendered at this resolution for OCR: tesseract reads best near 300.
OCR_DPI = 300
#: ... but never to more pixels than this, however large the page claims to be.
MAX_RENDER_PIXELS = 40_000_000

# Content-stream operators that put marks on a page: text, paths, images (XObjects and inline).
# A page without any is blank, and OCR would find nothing on it.
MARKING = frozenset(
    {b"Tj", b"TJ", b"'", b'"', b"Do", b"INLINE IMAGE", b"sh"}
    | {b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
)


def extract(path: Path, content_type: str, progress: PageProgress) -> Extracted:
    """Every page's text, OCR standing in for a missing text layer; the page count."""
    with path.open("rb") as file:
        if b"%PDF-" not in file.read(1024):
            raise ExtractionFailed("not a valid PDF", INVALID)
    with ExitStack() as stack:
        try:
            reader = stack.enter_context(PdfReader(path))
            # Many PDFs are encrypted with an empty user password, only to restrict printing or copying.
            if reader.is_encrypted and not reader.decrypt(""):
                raise ExtractionFailed("the PDF needs a password", ENCRYPTED)
            pages = len(reader.pages)
            rendered: pypdfium2.PdfDocument | None = None
            texts = []
            for index, page in enumerate(reader.pages):
                text = page.extract_text()
                if not text.strip() and has_marks(page):
                    if rendered is None:
                        rendered = pypdfium2.PdfDocument(path)
                        stack.callback(rendered.close)
                    text = image.ocr(render(rendered, index))
                texts.append(text.replace(PAGE_BREAK, "\n"))
                progress(index + 1, pages)
        except FileNotDecryptedError as error:
            raise ExtractionFailed("the PDF needs a password", ENCRYPTED) from error
        except PdfReadError as error:
            raise ExtractionFailed(invalid(error), INVALID) from error
        except LimitReachedError as error:  # pypdf's guards against streams that unpack without end
            raise ExtractionFailed("the PDF unpacks past the PDF reader's safety limits", TOO_LARGE) from error
        except pypdfium2.PdfiumError as error:
            raise ExtractionFailed("not a valid PDF (pages without text could not be rendered)", INVALID) from error
    return Extracted(PAGE_BREAK.join(texts), pages)


def invalid(error: PdfReadError) -> str:
    """The reason for a PDF that pypdf cannot read."""
    if "cyclic" in str(error):  # "Detected cyclic page references."
        return "not a valid PDF (its page tree loops)"
    if isinstance(error, PdfStreamError) or "EOF" in str(error) or "startxref" in str(error):
        return "not a valid PDF (truncated?)"
    return "not a valid PDF"


def has_marks(page: PageObject) -> bool:
    """Whether anything is drawn on ``page``: a page without a text layer is OCRed only if so."""
    contents = page.get_contents()
    return contents is not None and any(operator in MARKING for _, operator in contents.operations)


def render(document: pypdfium2.PdfDocument, index: int) -> Image.Image:
    """Page ``index`` as a grayscale image for OCR."""
    page = document[index]
    try:
        width, height = page.get_size()  # in points, 72 to the inch
        scale = min(OCR_DPI / 72, math.sqrt(MAX_RENDER_PIXELS / max(width * height, 1.0)))
        bitmap = page.render(scale=scale, grayscale=True)
        rendered: Image.Image = bitmap.to_pil()
        return rendered
    finally:
        page.close()
