"""PDF: the text layer of each page, read by PDFium (pypdfium2); pages without one are rendered and OCRed.

pypdf opens the file first and keeps the checks it does better than PDFium: it refuses a page tree
that loops (PDFium reads such a tree as if the loop were not there) and tells a truncated file from
other damage, and before PDFium reads a page pypdf unpacks, under its size limits, the streams that
reading the page's text unpacks. PDFium has no such limits: past the process's memory limit it
aborts the process, which would make a decompression bomb a crash instead of a reason. PDFium then
reads the text, several times as fast as pypdf (seven to eleven times on embedded fonts, in
docs/BENCHMARKS.md). Where the two disagree on the pages (a page tree whose /Count is wrong, which
PDFium believes and pypdf does not), or PDFium cannot open a file or a page that pypdf can, pypdf
reads the text itself, as it did alone before.
"""

from __future__ import annotations

import math
from contextlib import ExitStack, suppress
from typing import TYPE_CHECKING, Any

import pypdfium2
import pypdfium2.raw as pdfium_c
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError, PdfStreamError
from pypdf.filters import decode_stream_data
from pypdf.generic import ArrayObject, DictionaryObject, StreamObject

from workers.extractors import image
from workers.extractors.base import ENCRYPTED, INVALID, PAGE_BREAK, TOO_LARGE, Extracted, ExtractionFailed
from workers.extractors.registry import PDF

if TYPE_CHECKING:
    from pathlib import Path

    from PIL import Image
    from pypdf import PageObject

    from workers.extractors.base import PageProgress

#: Pages without a text layer are rendered at this resolution for OCR: tesseract reads best near 300.
OCR_DPI = 300
#: ... but never to more pixels than this, however large the page claims to be (declared in
#: ``workers.extractors.registry``).
MAX_RENDER_PIXELS = PDF.limit("render_pixels")

# Content-stream operators that put marks on a page: text, paths, images (XObjects and inline).
# A page without any is blank, and OCR would find nothing on it. (What pypdf looks for; PDFium
# counts the same marks as page objects.)
MARKING = frozenset(
    {b"Tj", b"TJ", b'"', b"'", b"Do", b"INLINE IMAGE", b"sh"}
    | {b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
)

# The entries through which reading a page's text reaches a stream PDFium unpacks: the page's
# content, its resources' form XObjects (and theirs), its fonts' programs, encodings (embedded CMaps)
# and ToUnicode maps, the glyph procedures of Type 3 fonts. Images are not among them: text
# extraction never decodes them.
FOLLOWED = frozenset(
    {"/Contents", "/Resources", "/XObject", "/Font", "/DescendantFonts", "/FontDescriptor", "/ToUnicode"}
    | {"/FontFile", "/FontFile2", "/FontFile3", "/Encoding", "/UseCMap", "/CIDToGIDMap", "/CharProcs"}
)
#: ... of which these are maps from names to what is followed.
MAPS = frozenset({"/XObject", "/Font", "/CharProcs"})


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
            pages = len(reader.pages)  # the whole page tree, walked: a loop is a PdfReadError
            document = opened(path)
            if document is not None:
                stack.callback(document.close)  # and with it any page or text page left open
            pdfium_reads = document is not None and len(document) == pages
            unpacked: set[int] = set()
            texts = []
            for index, page in enumerate(reader.pages):
                found = None
                if pdfium_reads:
                    unpack(page, unpacked)
                    found = read(document, index)
                text, marked = (page.extract_text(), None) if found is None else found
                if not text.strip() and (has_marks(page) if marked is None else marked):
                    if document is None:
                        raise ExtractionFailed("not a valid PDF (pages without text could not be rendered)", INVALID)
                    text = image.ocr(render(document, index))
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


def opened(path: Path) -> pypdfium2.PdfDocument | None:
    """The PDF in PDFium, or None if PDFium cannot open what pypdf could."""
    try:
        return pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError:
        return None


def read(document: pypdfium2.PdfDocument, index: int) -> tuple[str, bool] | None:
    """Page ``index``'s text as PDFium reads it, and whether anything at all is drawn on the page;
    None if PDFium cannot load the page."""
    try:
        page = document[index]
    except pypdfium2.PdfiumError:
        return None
    try:
        text_page = page.get_textpage()
        try:
            text = plain(text_page.get_text_range())
        finally:
            text_page.close()
        return text, bool(text.strip()) or pdfium_c.FPDFPage_CountObjects(page) > 0
    finally:
        page.close()


def plain(text: str) -> str:
    """PDFium's text as pypdf gave it, and as the text of every other type is stored: lines end with
    LF, not CR LF (or a lone CR); a line that ends with a hyphen ends with it, where PDFium joins the
    two lines with U+FFFE (a noncharacter) in place of the hyphen and the line break."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufffe", "-\n")


def unpack(page: PageObject, unpacked: set[int]) -> None:
    """Unpack, and drop, every stream that PDFium unpacks to read ``page``'s text, so that pypdf's
    limits refuse a decompression bomb (``LimitReachedError``) before PDFium meets it. ``unpacked``
    holds the streams already unpacked for earlier pages (a font, say), which are not unpacked again.

    A stream pypdf cannot unpack (a filter it lacks, damaged data) is left to PDFium, which reads
    what it can of it, as for any other damage."""
    pending: list[Any] = [page]
    while pending:
        node = pending.pop().get_object()
        if id(node) in unpacked:
            continue
        unpacked.add(id(node))  # pypdf keeps each object it resolved while the reader is open
        if isinstance(node, ArrayObject):
            pending.extend(node)
            continue
        if not isinstance(node, DictionaryObject):
            continue
        if isinstance(node, StreamObject):
            if node.get("/Subtype") == "/Image":
                continue
            with suppress(PdfReadError, NotImplementedError):
                decode_stream_data(node)
        for key in FOLLOWED.intersection(node):
            value = node[key].get_object()
            if key in MAPS and isinstance(value, DictionaryObject):
                pending.extend(value.values())
            else:
                pending.append(value)


def has_marks(page: PageObject) -> bool:
    """Whether anything is drawn on ``page``, by pypdf: a page without a text layer is OCRed only if so."""
    contents = page.get_contents()
    return contents is not None and any(operator in MARKING for _, operator in contents.operations)


def render(document: pypdfium2.PdfDocument, index: int) -> Image.Image:
    """Page ``index`` as a grayscale image for OCR."""
    page = document[index]
    try:
        width, height = page.get_size()  # in points, 72 to the inch
        scale = min(OCR_DPI / 72, math.sqrt(MAX_RENDER_PIXELS / max(width * height, 1.0)))
        bitmap = page.render(scale=scale, grayscale=True)
        try:  # a bitmap in Python's memory (the default), which the image shares: closing frees PDFium's shell
            rendered: Image.Image = bitmap.to_pil()
            return rendered
        finally:
            bitmap.close()
    finally:
        page.close()
