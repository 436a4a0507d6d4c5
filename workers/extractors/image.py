"""Images (PNG, JPEG, TIFF, WebP): OCR with tesseract. Also the OCR of PDF pages without a text layer.

Tesseract is Debian's ``tesseract-ocr`` with ``tesseract-ocr-eng`` (``scripts/system-packages.sh``);
pytesseract runs it as a subprocess of the extraction process, so the sandbox's wall-clock kill takes
it down too, and it inherits the memory limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytesseract
from PIL import Image, ImageOps, JpegImagePlugin, PngImagePlugin, TiffImagePlugin, WebPImagePlugin

from workers.extractors.base import INVALID, OCR, PAGE_BREAK, TOO_LARGE, Extracted, ExtractionFailed
from workers.extractors.registry import IMAGE

if TYPE_CHECKING:
    from pathlib import Path

    from PIL.ImageFile import ImageFile

    from workers.extractors.base import PageProgress

#: The most pixels an image (or one TIFF page) may have (declared in ``workers.extractors.registry``).
MAX_PIXELS = IMAGE.limit("pixels")
# A safety net for any other path into Pillow in this process: it refuses past twice this, unasked.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

LANGUAGE = "eng"

# Each format through its own class, which reads the header and no pixels. Image.open would refuse a
# bomb as well, but without the size it claims, and it would guess the format again from the bytes.
FORMATS: dict[str, tuple[str, type[ImageFile]]] = {
    "image/png": ("PNG", PngImagePlugin.PngImageFile),
    "image/jpeg": ("JPEG", JpegImagePlugin.JpegImageFile),
    "image/tiff": ("TIFF", TiffImagePlugin.TiffImageFile),
    "image/webp": ("WebP", WebPImagePlugin.WebPImageFile),
}


def extract(path: Path, content_type: str, progress: PageProgress) -> Extracted:
    """The OCR text of every page of a TIFF, or of the (first frame of the) image otherwise."""
    name, opener = FORMATS[content_type]
    try:
        image = opener(path)
    except (OSError, SyntaxError, ValueError) as error:  # Pillow's ways of saying "not this format"
        raise ExtractionFailed(f"not a valid {name} image", INVALID) from error
    with image:
        if not isinstance(image, TiffImagePlugin.TiffImageFile):
            return Extracted(ocr(checked(image)), None)  # an animated WebP's first frame
        pages = image.n_frames
        texts = []
        for index in range(pages):
            image.seek(index)
            texts.append(ocr(checked(image)))
            progress(index + 1, pages)
        return Extracted(PAGE_BREAK.join(texts), pages)


def checked(image: Image.Image) -> Image.Image:
    """``image``, if its claimed size is within ``MAX_PIXELS``; nothing has been decoded yet."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        millions = MAX_PIXELS // 1_000_000
        raise ExtractionFailed(f"the image claims {width} × {height} pixels, more than {millions} million", TOO_LARGE)
    return image


def ocr(image: Image.Image) -> str:
    """The text tesseract reads in ``image``, upright and on white."""
    try:
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            # Text drawn on a transparent background has no contrast until it sits on white.
            background = Image.new("RGBA", image.size, "white")
            image = Image.alpha_composite(background, image.convert("RGBA"))
        if image.mode not in ("1", "L", "RGB"):
            image = image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt pixel data
        raise ExtractionFailed("the image data is damaged", INVALID) from error
    try:
        text: str = pytesseract.image_to_string(image, lang=LANGUAGE)
    except pytesseract.TesseractError as error:
        raise ExtractionFailed("OCR failed on this image", OCR) from error
    # Tesseract ends each page with a form feed, which here separates pages.
    return text.replace(PAGE_BREAK, "").strip()


def check_installed() -> None:
    """Raise RuntimeError, saying what to install, unless tesseract reads ``LANGUAGE``."""
    try:
        languages = pytesseract.get_languages()
    except pytesseract.TesseractNotFoundError as error:
        raise RuntimeError("tesseract is not installed: run scripts/system-packages.sh (or `make`)") from error
    if LANGUAGE not in languages:
        raise RuntimeError(f"tesseract has no {LANGUAGE!r} data: run scripts/system-packages.sh (or `make`)")
