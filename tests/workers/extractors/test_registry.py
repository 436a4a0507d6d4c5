"""The extractors' declarations: one per extractor, and what everything else reads from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.content_types import CONTENT_TYPES
from workers.detect import detect
from workers.extractors import docx, image, pdf, registry
from workers.extractors.registry import EXTRACTABLE, declare

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_the_types_with_text_are_exactly_those_extracted_before_the_declarations() -> None:
    assert {content_type for content_type in CONTENT_TYPES if registry.gives_text(content_type)} == {
        "application/pdf",
        DOCX,
        "text/plain",
        "text/markdown",
        "text/csv",
        "text/html",
        "image/png",
        "image/jpeg",
        "image/tiff",
        "image/webp",
    }


def test_every_declared_type_is_one_docstore_stores() -> None:
    # A type the upload refuses, or the pipeline rejects, would be declared and never extracted.
    assert EXTRACTABLE <= CONTENT_TYPES


@pytest.mark.parametrize("content_type", ["video/mp4", "image/gif", "application/zip", "application/json", "x/none"])
def test_a_type_no_extractor_declares_gives_no_text(content_type) -> None:
    assert registry.gives_text(content_type) is False
    assert content_type not in registry.BY_TYPE


def test_a_type_declared_by_two_extractors_is_refused() -> None:
    other = declare("other", {"text/csv", "application/pdf"}, gives_text=True)

    with pytest.raises(ValueError, match="application/pdf is declared by both pdf and other"):
        registry.by_type((registry.PDF, other))


@pytest.mark.parametrize("content_type", sorted(registry.TEXT.content_types))
def test_text_bytes_are_whichever_of_the_text_extractors_types_the_client_declares(content_type) -> None:
    assert detect(b"name,total\nNorth,10\n", content_type) == content_type


def test_each_extractor_holds_files_to_its_declared_limits() -> None:
    assert (image.MAX_PIXELS, docx.MAX_UNPACKED, pdf.MAX_RENDER_PIXELS) == (50_000_000, 256 * 1024**2, 40_000_000)
    assert {
        declared.name: {name: limit.value for name, limit in declared.limits.items()}
        for declared in registry.DECLARATIONS
    } == {
        "pdf": {"render_pixels": 40_000_000},
        "docx": {"unpacked_bytes": 256 * 1024**2},
        "text": {},
        "image": {"pixels": 50_000_000},
    }


def readme_row(declared: registry.Declaration) -> str:
    types = ", ".join(f"`{content_type}`" for content_type in sorted(declared.content_types))
    limits = "; ".join(str(limit) for limit in declared.limits.values())
    return f"| `{declared.name}` | {types} | {'yes' if declared.gives_text else 'no'} | {limits or '—'} |"


def test_the_readme_lists_every_extractor_as_declared() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()

    assert "\n".join(readme_row(declared) for declared in registry.DECLARATIONS) in readme
