"""Real files of every extracted type, made the way they are made in the wild: fpdf2 and pypdf for
PDFs, python-docx for DOCX, Pillow drawing with a TrueType font for images. Hostile ones too."""

from __future__ import annotations

import io
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import docx
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfWriter
from pypdf.generic import NameObject, NumberObject

# Debian's fonts-dejavu-core (scripts/system-packages.sh).
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
GiB = 1024**3


def picture(*lines: str, size: int = 48) -> Image.Image:
    """Black text on white, large and clear: what a phone's scan of a printed line looks like at best."""
    font = ImageFont.truetype(str(FONT), size)
    width = max(int(font.getlength(line)) for line in lines) + 2 * size
    image = Image.new("RGB", (width, len(lines) * size * 3 // 2 + 2 * size), "white")
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((size, size + number * size * 3 // 2), line, font=font, fill="black")
    return image


def image_file(path: Path, *lines: str, format: str) -> Path:
    picture(*lines).save(path, format)
    return path


def tiff_file(path: Path, *pages: str) -> Path:
    """A multi-page TIFF, one line of text a page, as a fax or a scanner's batch mode makes."""
    first, *rest = [picture(page) for page in pages]
    first.save(path, "TIFF", save_all=True, append_images=rest, compression="tiff_lzw")
    return path


def pdf_file(path: Path, *pages: str | Image.Image, font: Path | None = None) -> Path:
    """A PDF with a page for each of ``pages``: a string becomes a page with a text layer (one line of
    text per line), an image a scanned page (the image and no text at all). The text is in Helvetica
    (a standard font, not embedded), or in the TrueType ``font``, embedded as a subset with a
    ToUnicode map, as office suites export."""
    pdf = FPDF()
    if font is None:
        pdf.set_font("Helvetica", size=14)
    else:
        pdf.add_font("Embedded", fname=str(font))
        pdf.set_font("Embedded", size=14)
    for page in pages:
        pdf.add_page()
        if isinstance(page, str):
            for line in page.splitlines():
                pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.image(page, x=10, y=10, w=150)
    pdf.output(str(path))
    return path


def docx_file(path: Path) -> Path:
    """A Word document with a heading, paragraphs, a table with a merged cell, and a paragraph after."""
    document = docx.Document()
    document.add_heading("Quarterly report", level=1)
    document.add_paragraph("Sales grew in every region.")
    table = document.add_table(rows=3, cols=3)
    for row, values in zip(
        table.rows, [("Region", "Q1", "Q2"), ("North", "10", "12"), ("South", "7", "9")], strict=True
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    merged = table.add_row().cells
    merged[0].merge(merged[2]).text = "Total 38"
    document.add_paragraph("Prepared by the finance team.")
    document.save(str(path))
    return path


# -- hostile files ---------------------------------------------------------------------------------


def looping_pdf(path: Path) -> Path:
    """A PDF whose page tree loops: the root /Pages node lists itself among its /Kids."""
    writer = PdfWriter(clone_from=pdf_file(path, "One page", "Another page"))
    pages = writer.root_object["/Pages"]
    pages["/Kids"].append(pages.indirect_reference)
    writer.write(path)
    return path


def blank_pdf(path: Path, pages: int) -> Path:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    writer.write(path)
    return path


def miscounted_pdf(path: Path, *pages: str, count: int) -> Path:
    """A PDF of ``pages`` whose page tree claims ``count`` pages (its root's /Count), as some broken
    writers leave it: readers that trust /Count see pages that are not there, or miss some."""
    writer = PdfWriter(clone_from=pdf_file(path, *pages))
    writer.root_object["/Pages"][NameObject("/Count")] = NumberObject(count)
    writer.write(path)
    return path


def pdf_bomb(path: Path, unpacked: int, *, where: str = "/Contents") -> Path:
    """A PDF of two text pages whose second page's content stream (``where="/Contents"``), or the
    program of the font it shares with the first (``where="/FontFile2"``), unpacks to ``unpacked``
    bytes of spaces: one deflated block of spaces over and over, the way zip bombs are made."""
    writer = PdfWriter(clone_from=pdf_file(path, "First page", "Second page", font=FONT))
    page = writer.pages[1]
    if where == "/Contents":
        target = page[NameObject("/Contents")].get_object()
    else:
        (font,) = page["/Resources"]["/Font"].values()
        target = font.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"][where].get_object()
    # A zlib stream: its header, deflate blocks ended by full flushes (so every block of spaces
    # deflates the same), and the Adler-32 of everything it unpacks to.
    block = b" " * 2**20
    blocks = unpacked // len(block)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    middle = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(blocks):
        adler = zlib.adler32(block, adler)
    target._data = b"\x78\xda" + middle * blocks + deflate.flush() + struct.pack(">I", adler)
    target[NameObject("/Filter")] = NameObject("/FlateDecode")
    target.pop(NameObject("/DecodeParms"), None)
    writer.write(path)
    return path


def truncated_pdf(path: Path) -> Path:
    """The first half of a three-page PDF, as an interrupted download leaves it."""
    whole = pdf_file(path, "First page", "Second page", "Third page").read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    return path


def encrypted_pdf(path: Path, *, user_password: str) -> Path:
    writer = PdfWriter(clone_from=pdf_file(path, "Top secret"))
    writer.encrypt(user_password=user_password, owner_password="owner secret", algorithm="AES-256")
    writer.write(path)
    return path


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` × ``height`` grayscale pixels, with a few rows of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = (b"\x00" + b"\xff" * width) * 4
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    return path


def docx_bomb(path: Path, unpacked: int = 3 * GiB) -> Path:
    """A real DOCX whose word/document.xml unpacks to ``unpacked`` bytes, one text run of "A"s: a few
    megabytes of the same deflated block over and over, the way zip bombs are made."""
    with zipfile.ZipFile(docx_file(path)) as real:
        parts = {member.filename: real.read(member) for member in real.infolist()}
    xml = parts.pop("word/document.xml")
    body = xml.index(b"<w:body>") + len(b"<w:body>")
    prefix, suffix = xml[:body] + b"<w:p><w:r><w:t>", b"</w:t></w:r></w:p>" + xml[body:]
    block = b"A" * 2**20
    blocks = (unpacked - len(prefix) - len(suffix)) // len(block)
    # After a full flush deflate forgets what came before, so every block of "A"s compresses the same.
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = deflate.compress(prefix) + deflate.flush(zlib.Z_FULL_FLUSH)
    middle = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.compress(suffix) + deflate.flush()
    crc = zlib.crc32(prefix)
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    bomb = (start + middle * blocks + end, crc, len(prefix) + blocks * len(block) + len(suffix))
    members = {name: deflated(data) for name, data in parts.items()}
    path.write_bytes(zip_archive({**members, "word/document.xml": bomb}))
    return path


def deflated(data: bytes) -> tuple[bytes, int, int]:
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflate.compress(data) + deflate.flush(), zlib.crc32(data), len(data)


def zip_archive(members: dict[str, tuple[bytes, int, int]]) -> bytes:
    """A zip of already deflated members (name: (deflated bytes, CRC-32, unpacked size))."""
    local, central = io.BytesIO(), io.BytesIO()
    for name, (data, crc, size) in members.items():
        encoded, offset = name.encode(), local.tell()
        entry = (8, 0, 0x21, crc, len(data), size, len(encoded))  # deflated, 1980-01-01 00:00
        local.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, *entry, 0) + encoded + data)
        central.write(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, *entry, 0, 0, 0, 0, 0, offset) + encoded)
    count, directory = len(members), central.getvalue()
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, len(directory), local.tell(), 0)
    return local.getvalue() + directory + end


def video_file(path: Path, *colours: str, size: str = "640x360", seconds: float = 0.5) -> Path:
    """A video made by ffmpeg (Debian's, scripts/system-packages.sh): ``seconds`` of each of
    ``colours`` in turn, H.264 in the container ``path``'s suffix names (MP4, QuickTime, WebM: VP9)."""
    inputs: list[str] = []
    for colour in colours:
        inputs += ["-f", "lavfi", "-i", f"color=c={colour}:s={size}:r=10:d={seconds}"]
    joined = "".join(f"[{index}:v]" for index in range(len(colours))) + f"concat=n={len(colours)}:v=1[out]"
    codec = ["-c:v", "libvpx-vp9"] if path.suffix == ".webm" else ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-filter_complex", joined, "-map", "[out]"]
    subprocess.run([*command, *codec, str(path)], check=True)
    return path


def truncated_video(path: Path) -> Path:
    """An MP4 cut in half, as an interrupted copy leaves it: ffmpeg writes the index (``moov``) last."""
    video_file(path, "blue", "red", seconds=1.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
