"""The image extractor OCRs PNG, JPEG, TIFF (every page) and WebP, and refuses images too large to decode."""

from __future__ import annotations

import pytesseract
import pytest
from PIL import Image

from tests.workers import files
from workers.extractors import image
from workers.extractors.base import Extracted, ExtractionFailed

LINE = "Invoice 4521 paid in full"


def extract(path, content_type: str) -> Extracted:
    return image.extract(path, content_type, lambda page, pages: None)


@pytest.mark.parametrize(
    ("format", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_a_clear_line_is_read_exactly(format, content_type, tmp_path) -> None:
    path = files.image_file(tmp_path / "scan", LINE, format=format)

    assert extract(path, content_type) == Extracted(LINE, None)


def test_every_page_of_a_tiff_is_read_with_progress(tmp_path) -> None:
    path = files.tiff_file(tmp_path / "fax.tiff", "First scanned page", "Second scanned page")
    calls: list[tuple[int, int]] = []

    extracted = image.extract(path, "image/tiff", lambda page, pages: calls.append((page, pages)))

    assert extracted == Extracted("First scanned page\fSecond scanned page", 2)
    assert calls == [(1, 2), (2, 2)]


def test_photo_is_turned_upright_by_its_exif_orientation(tmp_path) -> None:
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": how a phone held upright stores its picture
    files.picture(LINE).rotate(90, expand=True).save(path, "JPEG", exif=exif)

    assert extract(path, "image/jpeg") == Extracted(LINE, None)


def test_text_on_a_transparent_background_is_read(tmp_path) -> None:
    path = tmp_path / "logo.png"
    black_on_white = files.picture(LINE).convert("L")
    # Black text whose background is transparent black: without compositing on white, all black.
    transparent = Image.new("RGBA", black_on_white.size, (0, 0, 0, 0))
    transparent.putalpha(Image.eval(black_on_white, lambda value: 255 - value))
    transparent.save(path, "PNG")

    assert extract(path, "image/png") == Extracted(LINE, None)


def test_image_claiming_too_many_pixels_is_refused_before_decoding(tmp_path) -> None:
    path = files.png_claiming(tmp_path / "huge.png", 8000, 7000)

    with pytest.raises(ExtractionFailed) as failed:
        extract(path, "image/png")

    assert (failed.value.kind, failed.value.reason) == (
        "TOO_LARGE",
        "the image claims 8000 × 7000 pixels, more than 50 million",
    )


def test_file_of_another_format_is_not_a_valid_image_of_the_type_given(tmp_path) -> None:
    path = files.image_file(tmp_path / "scan", LINE, format="PNG")

    with pytest.raises(ExtractionFailed) as failed:
        extract(path, "image/jpeg")

    assert (failed.value.kind, failed.value.reason) == ("INVALID", "not a valid JPEG image")


def test_truncated_image_is_damaged(tmp_path) -> None:
    path = files.image_file(tmp_path / "scan.png", LINE, format="PNG")
    path.write_bytes(path.read_bytes()[:2000])

    with pytest.raises(ExtractionFailed) as failed:
        extract(path, "image/png")

    assert (failed.value.kind, failed.value.reason) == ("INVALID", "the image data is damaged")


def test_tesseract_failing_fails_the_image_as_an_ocr_failure(tmp_path, monkeypatch) -> None:
    path = files.image_file(tmp_path / "scan.png", LINE, format="PNG")
    failing = tmp_path / "tesseract"
    failing.write_text("#!/bin/sh\necho 'Error: cannot read the image' >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(failing))

    with pytest.raises(ExtractionFailed) as failed:
        extract(path, "image/png")

    assert (failed.value.kind, failed.value.reason) == ("OCR", "OCR failed on this image")
