"""DOCX: the text of the body's paragraphs and tables, in document order, with python-docx."""

from __future__ import annotations

import zipfile
from typing import TYPE_CHECKING

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table

from workers.extractors.base import INVALID, TOO_LARGE, Extracted, ExtractionFailed, amount
from workers.extractors.registry import DOCX

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from docx.blkcntnr import BlockItemContainer
    from docx.document import Document
    from docx.table import _Cell

    from workers.extractors.base import PageProgress

#: The most a DOCX may unpack to, all its parts together (declared in ``workers.extractors.registry``).
#: python-docx reads every part into memory and parses the XML ones, several times their size again;
#: real documents, pictures included, stay far below.
MAX_UNPACKED = DOCX.limit("unpacked_bytes")


def extract(path: Path, content_type: str, progress: PageProgress) -> Extracted:
    """Paragraphs one a line; a table row a line, its cells separated by tabs."""
    try:
        with zipfile.ZipFile(path) as package:
            # Python's zipfile never unpacks a member past the size the archive declares for it (a member
            # that lies fails its CRC check instead), so the declared sizes bound what opening it costs.
            unpacked = sum(member.file_size for member in package.infolist())
        if unpacked > MAX_UNPACKED:
            raise ExtractionFailed(
                f"the DOCX unpacks to {amount(unpacked)}, more than {amount(MAX_UNPACKED)}", TOO_LARGE
            )
        document = docx.Document(str(path))
        return Extracted("\n".join(lines(document)), None)
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, SyntaxError) as error:
        # What python-docx raises for a zip that is not a Word document, or a part that is not XML
        # (lxml's XMLSyntaxError is a SyntaxError).
        raise ExtractionFailed("not a valid DOCX", INVALID) from error


def lines(container: BlockItemContainer | Document) -> Iterator[str]:
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells: list[_Cell] = []
                for cell in row.cells:
                    # A cell spanning several columns comes once per column, as the same object.
                    if not cells or cell is not cells[-1]:
                        cells.append(cell)
                # A cell holds paragraphs and tables of its own; its lines stay in the cell.
                yield "\t".join(" ".join(lines(cell)) for cell in cells)
        else:
            yield block.text
