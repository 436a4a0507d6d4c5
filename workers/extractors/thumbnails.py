"""Thumbnails: a document's first image, page or frame, as WebP pictures of a few sizes.

Run in an extraction process (``workers.extractors.sandbox``), never in a worker's own, under the
same address-space limit and a wall-clock limit of its own (``DOCSTORE_THUMBNAIL_SECONDS``): a
decompression bomb, a PDF that makes PDFium run away or a video that makes ffmpeg loop costs at most
that process, and the document only its thumbnail. The types and how each is rendered are declared
in ``workers.extractors.registry.THUMBNAILS``:

- ``image``: the image itself (a TIFF's or an animated image's first frame), turned upright by its
  EXIF orientation, its transparency kept; refused before any pixel is decoded when it claims more
  pixels than the image extractor's limit. A JPEG is decoded at a reduced scale where that still
  covers the largest thumbnail (libjpeg's DCT scaling), so a large photo is not decoded whole.
- ``pdf``: the first page, rendered by PDFium at the scale the largest thumbnail needs (and never
  past the PDF extractor's ``render_pixels``).
- ``video``: the first frame, decoded by ffmpeg (Debian's ``ffmpeg``, ``scripts/system-packages.sh``)
  as a subprocess of the extraction process: it inherits the memory limit, and the pool's kill at the
  time limit takes it down with the process group. Its rotation metadata is applied (ffmpeg's
  autorotate), then the frame goes through the image path, limit included.

Each size is the longer side of the picture in pixels; a picture smaller than a size is not
enlarged. What goes wrong is an ``ExtractionFailed`` with a reason, as for an extractor.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from typing import TYPE_CHECKING

import pypdfium2
from PIL import GifImagePlugin, Image, ImageOps, JpegImagePlugin

from workers.extractors import image as images
from workers.extractors.base import INVALID, OTHER, ExtractionFailed
from workers.extractors.registry import PDF, THUMBNAILS

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from PIL.ImageFile import ImageFile

#: WebP's lossy quality for thumbnails: small files, no visible loss at these sizes.
QUALITY = 80
#: A PDF page is rendered to at most this many pixels, whatever size it claims.
MAX_RENDER_PIXELS = PDF.limit("render_pixels")
#: The image types, each through its own Pillow class (it reads the header, and no pixels, first).
OPENERS: dict[str, tuple[str, type[ImageFile]]] = {
    **images.FORMATS,
    "image/gif": ("GIF", GifImagePlugin.GifImageFile),
}


def render(path: Path, content_type: str, folder: Path, sizes: Sequence[int]) -> list[tuple[int, Path]]:
    """Write ``folder/{size}.webp`` for each of ``sizes`` from the file at ``path``; each size and
    its file. ``ExtractionFailed`` when the file gives no picture."""
    kind = THUMBNAILS.get(content_type)
    if kind is None:
        raise ExtractionFailed(f"no thumbnails of {content_type}", OTHER)
    largest = max(sizes)
    if kind == "pdf":
        picture = first_page(path, largest)
    elif kind == "video":
        frame = folder / "frame.png"
        first_frame(path, frame)
        try:
            picture = opened(frame, "image/png", largest)
        finally:
            frame.unlink(missing_ok=True)
    else:
        picture = opened(path, content_type, largest)
    written = []
    for size in sorted(sizes):
        small = picture.copy()
        small.thumbnail((size, size), Image.Resampling.LANCZOS)
        target = folder / f"{size}.webp"
        small.save(target, "WEBP", quality=QUALITY, method=4)
        written.append((size, target))
    return written


def opened(path: Path, content_type: str, largest: int) -> Image.Image:
    """The image at ``path``, decoded (at a reduced scale where ``largest`` allows), upright, in RGB
    or RGBA."""
    name, opener = OPENERS[content_type]
    try:
        picture = opener(path)
    except (OSError, SyntaxError, ValueError) as error:  # Pillow's ways of saying "not this format"
        raise ExtractionFailed(f"not a valid {name} image", INVALID) from error
    with picture:
        images.checked(picture)  # before any pixel is decoded
        try:
            if isinstance(picture, JpegImagePlugin.JpegImageFile):
                picture.draft(None, (largest, largest))  # decode at 1/2, 1/4 or 1/8 where that suffices
            upright = ImageOps.exif_transpose(picture)
            return _plain(upright)
        except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt pixel data
            raise ExtractionFailed("the image data is damaged", INVALID) from error


def _plain(picture: Image.Image) -> Image.Image:
    """``picture`` in a mode WebP keeps: RGBA where it has transparency, RGB otherwise."""
    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        return picture.convert("RGBA")
    return picture.convert("RGB")


def first_page(path: Path, largest: int) -> Image.Image:
    """The PDF's first page, rendered so that its longer side is ``largest`` pixels (or less, within
    ``MAX_RENDER_PIXELS``)."""
    try:
        document = pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError as error:
        raise ExtractionFailed("not a valid PDF", INVALID) from error
    try:
        if len(document) == 0:
            raise ExtractionFailed("the PDF has no pages", INVALID)
        page = document[0]
        try:
            width, height = page.get_size()  # in points
            scale = min(largest / max(width, height, 1.0), math.sqrt(MAX_RENDER_PIXELS / max(width * height, 1.0)))
            bitmap = page.render(scale=scale, may_draw_forms=True)
            try:
                return _plain(bitmap.to_pil())
            finally:
                bitmap.close()
        finally:
            page.close()
    except pypdfium2.PdfiumError as error:
        raise ExtractionFailed("the PDF's first page could not be rendered", INVALID) from error
    finally:
        document.close()


def first_frame(path: Path, frame: Path) -> None:
    """Have ffmpeg write the video's first frame to ``frame`` as a PNG."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ExtractionFailed("ffmpeg is not installed (scripts/system-packages.sh)", OTHER)
    # One thread: the pool runs processes side by side already, and ffmpeg's threads would each
    # reserve address space under the process's memory limit.
    command = [ffmpeg, "-nostdin", "-v", "error", "-threads", "1", "-i", str(path)]
    command += ["-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn", "-y", "-f", "image2", "-c:v", "png", str(frame)]
    finished = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if finished.returncode != 0 or not frame.exists() or frame.stat().st_size == 0:
        raise ExtractionFailed("no frame could be read from the video", INVALID)
