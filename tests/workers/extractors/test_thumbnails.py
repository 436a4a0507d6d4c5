"""Thumbnails of real files made by the tools that make them (Pillow, fpdf2, ffmpeg): WebP, the
longer side at each size, upright, from the first page or frame; and hostile files, through the
extraction pool's sandbox, ending in a reason within the limits while the pool goes on."""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio
import pytest
from PIL import Image, ImageDraw

from tests.workers import files
from workers.extraction import Extraction, ExtractionFailed, Thumbnail
from workers.extractors import thumbnails
from workers.extractors.base import INVALID, TIMEOUT, TOO_LARGE

SIZES = (256, 1024)


def webp(path: Path) -> Image.Image:
    """The WebP at ``path``, decoded, checked to be one."""
    image = Image.open(path)
    assert image.format == "WEBP"
    image.load()
    return image


def near(pixel: tuple[int, ...], colour: tuple[int, ...], tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


def rendered(source: Path, content_type: str, folder: Path) -> dict[int, Image.Image]:
    written = thumbnails.render(source, content_type, folder, SIZES)
    assert [size for size, _ in written] == list(SIZES)
    assert [path for _, path in written] == [folder / "256.webp", folder / "1024.webp"]
    return {size: webp(path) for size, path in written}


def halves(size: tuple[int, int], left: str, right: str, mode: str = "RGB") -> Image.Image:
    """An image whose left half is ``left`` and right half ``right``."""
    image = Image.new(mode, size, right)
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2 - 1, size[1] - 1), fill=left)
    return image


@pytest.mark.parametrize("format", ["PNG", "JPEG"])
def test_an_image_gives_both_sizes_by_its_longer_side(format, tmp_path: Path) -> None:
    source = tmp_path / f"photo.{format.lower()}"
    halves((2000, 1000), "red", "blue").save(source, format)

    made = rendered(source, f"image/{format.lower()}", tmp_path)

    assert made[256].size == (256, 128)
    assert made[1024].size == (1024, 512)
    assert made[256].mode == "RGB"
    assert near(made[256].getpixel((32, 64)), (255, 0, 0))
    assert near(made[256].getpixel((224, 64)), (0, 0, 255))


def test_a_cmyk_jpeg_is_shown_in_its_colours(tmp_path: Path) -> None:
    source = tmp_path / "print.jpg"
    Image.new("CMYK", (1600, 1200), (0, 255, 255, 0)).save(source, "JPEG")  # red ink on paper

    made = rendered(source, "image/jpeg", tmp_path)

    assert made[1024].size == (1024, 768)
    assert made[1024].mode == "RGB"
    assert near(made[1024].getpixel((512, 384)), (255, 0, 0))


def test_a_transparent_png_keeps_its_transparency(tmp_path: Path) -> None:
    source = tmp_path / "logo.png"
    halves((600, 300), (0, 0, 0, 0), (0, 128, 0, 255), mode="RGBA").save(source, "PNG")

    made = rendered(source, "image/png", tmp_path)

    assert made[256].size == (256, 128)
    assert made[256].mode == "RGBA"
    assert made[256].getpixel((32, 64))[3] == 0
    assert near(made[256].getpixel((224, 64)), (0, 128, 0, 255))
    # Smaller than the large size: kept as it is, not enlarged.
    assert made[1024].size == (600, 300)


def test_an_exif_rotated_jpeg_is_upright(tmp_path: Path) -> None:
    # A phone held upright stores its landscape sensor's pixels and says "rotate 90° clockwise"
    # (orientation 6): the stored left half is the top of the picture.
    source = tmp_path / "portrait.jpg"
    stored = halves((2000, 1000), "red", "blue")
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(source, "JPEG", exif=exif)

    made = rendered(source, "image/jpeg", tmp_path)

    assert made[256].size == (128, 256)
    assert made[1024].size == (512, 1024)
    assert near(made[256].getpixel((64, 32)), (255, 0, 0))  # top
    assert near(made[256].getpixel((64, 224)), (0, 0, 255))  # bottom


def test_a_pdf_gives_its_first_page(tmp_path: Path) -> None:
    source = files.pdf_file(tmp_path / "two.pdf", Image.new("RGB", (300, 300), "green"), "Second page")

    made = rendered(source, "application/pdf", tmp_path)

    # A4 portrait, 595.28 × 841.89 points: the longer side exact, the other as PDFium rounds it.
    assert made[256].size == (181, 256)
    assert made[1024].size[1] == 1024
    assert made[1024].size[0] in (724, 725)
    # fpdf2 puts the picture 10 mm from the top left, 150 mm wide: green near the top, white below it.
    assert near(made[1024].getpixel((300, 300)), (0, 128, 0))
    assert near(made[1024].getpixel((300, 900)), (255, 255, 255))


@pytest.mark.parametrize(("suffix", "content_type"), [(".mp4", "video/mp4"), (".webm", "video/webm")])
def test_a_video_gives_its_first_frame(suffix, content_type, tmp_path: Path) -> None:
    source = files.video_file(tmp_path / f"clip{suffix}", "blue", "red")

    made = rendered(source, content_type, tmp_path)

    assert made[256].size == (256, 144)
    assert made[1024].size == (640, 360)  # not enlarged
    assert near(made[256].getpixel((128, 72)), (0, 0, 255), tolerance=40)
    assert not (tmp_path / "frame.png").exists()


# Through the sandbox: the pool's own process, with its limits.


def run(scenario, **limits):
    async def main():
        pool = Extraction(processes=1, **limits)
        try:
            return await scenario(pool)
        finally:
            await pool.aclose()

    return anyio.run(main)


async def outcome(pool: Extraction, path: Path, content_type: str, folder: Path, seconds: float = 20) -> object:
    await anyio.Path(folder).mkdir(exist_ok=True)
    try:
        return await pool.thumbnails(path, content_type, folder, SIZES, seconds=seconds)
    except ExtractionFailed as failure:
        return f"{failure.kind}: {failure.reason}"


def test_the_pool_makes_thumbnails_in_its_process(tmp_path: Path) -> None:
    source = tmp_path / "a.png"
    Image.new("RGB", (512, 2048), "yellow").save(source)

    made = run(lambda pool: outcome(pool, source, "image/png", tmp_path / "out"))

    assert made == [Thumbnail(256, tmp_path / "out" / "256.webp"), Thumbnail(1024, tmp_path / "out" / "1024.webp")]
    assert webp(tmp_path / "out" / "256.webp").size == (64, 256)


def test_ffmpeg_reads_a_video_under_the_sandboxs_memory_limit(tmp_path: Path) -> None:
    source = files.video_file(tmp_path / "clip.mov", "yellow", "black", size="1280x720")

    made = run(lambda pool: outcome(pool, source, "video/quicktime", tmp_path / "out"), memory_bytes=1024**3)

    assert [thumbnail.size for thumbnail in made] == list(SIZES)
    large = webp(tmp_path / "out" / "1024.webp")
    assert large.size == (1024, 576)
    assert near(large.getpixel((512, 288)), (255, 255, 0), tolerance=40)


def test_a_decompression_bomb_is_refused_and_the_pool_goes_on(tmp_path: Path) -> None:
    bomb = files.png_claiming(tmp_path / "bomb.png", 50_000, 50_000)
    normal = tmp_path / "normal.png"
    Image.new("RGB", (300, 200), "red").save(normal)

    async def scenario(pool):
        return [
            await outcome(pool, bomb, "image/png", tmp_path / "bomb"),
            await outcome(pool, normal, "image/png", tmp_path / "normal"),
        ]

    refused, after = run(scenario)

    assert refused == f"{TOO_LARGE}: the image claims 50000 × 50000 pixels, more than 50 million"
    assert list((tmp_path / "bomb").iterdir()) == []
    assert [thumbnail.size for thumbnail in after] == list(SIZES)


def test_a_truncated_video_gives_no_thumbnail(tmp_path: Path) -> None:
    source = files.truncated_video(tmp_path / "cut.mp4")

    refused = run(lambda pool: outcome(pool, source, "video/mp4", tmp_path / "out"))

    assert refused == f"{INVALID}: no frame could be read from the video"
    assert list((tmp_path / "out").iterdir()) == []


def test_a_video_that_never_ends_decoding_is_killed_with_its_ffmpeg(tmp_path: Path, monkeypatch) -> None:
    source = files.video_file(tmp_path / "clip.mp4", "blue")
    # A stand-in for an ffmpeg that loops on a crafted file, at the process boundary: the real
    # ffmpeg would read this file in milliseconds.
    fake = tmp_path / "bin"
    fake.mkdir()
    pid_file = tmp_path / "ffmpeg.pid"
    (fake / "ffmpeg").write_text(f"#!/bin/sh\necho $$ > {pid_file}\nwhile :; do :; done\n")
    (fake / "ffmpeg").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    normal = tmp_path / "normal.png"
    Image.new("RGB", (300, 200), "red").save(normal)

    async def scenario(pool):
        return [
            await outcome(pool, source, "video/mp4", tmp_path / "out", seconds=2),
            await outcome(pool, normal, "image/png", tmp_path / "normal"),
        ]

    killed, after = run(scenario)

    assert killed == f"{TIMEOUT}: took longer than 2 s"
    assert list((tmp_path / "out").iterdir()) == []
    assert [thumbnail.size for thumbnail in after] == list(SIZES)
    looping = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(looping) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(looping)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has not been reaped yet, but runs no more.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_type_without_thumbnails_is_refused_before_any_process(tmp_path: Path) -> None:
    docx = files.docx_file(tmp_path / "a.docx")
    kind = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    async def scenario(pool):
        with pytest.raises(ValueError, match="no thumbnails of"):
            await pool.thumbnails(docx, kind, tmp_path, SIZES, seconds=5)
        return len(pool._children)

    assert run(scenario) == 0
