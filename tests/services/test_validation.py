"""The path rules of ``services.validation``: what a path and a listing's prefix may be."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from services import validation
from services.validation import InvalidInput, PathLimits, Problem

LIMITS = PathLimits(max_bytes=20, max_depth=3)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [("/a/b/c.txt", "/a/b/c.txt"), ("/cafe\u0301", "/caf\u00e9"), ("/" + "x" * 19, "/" + "x" * 19)],
)
def test_a_path_within_the_limits_is_kept_in_nfc(raw: str, kept: str) -> None:
    assert validation.path(raw, LIMITS) == kept


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("/" + "x" * 20, "The path is longer than 20 bytes."),
        ("/a/b/c/d", "The path has more than 3 segments."),
        ("/a/", "The path has an empty segment (// or a / at its end)."),
        ("/a\u202eb", "path contains a control or invisible character (U+202E)."),
    ],
)
def test_a_path_past_a_rule_names_the_field(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validation.path(raw, LIMITS)

    assert refused.value.problems == (Problem("path", message),)


@pytest.mark.parametrize(("raw", "kept"), [("/", "/"), ("/a/", "/a/"), ("/a/b/c/", "/a/b/c/"), ("/a/re", "/a/re")])
def test_a_prefix_may_end_with_a_slash_and_be_the_root(raw: str, kept: str) -> None:
    assert validation.path(raw, LIMITS, prefix=True) == kept


@pytest.mark.parametrize(
    ("raw", "message"),
    [("//", "The path has an empty segment (// or a / at its end)."), ("a/", "The path must start with /.")],
)
def test_a_bad_prefix_is_refused(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validation.path(raw, LIMITS, "filter.pathPrefix", prefix=True)

    assert refused.value.problems == (Problem("filter.pathPrefix", message),)


def upload(**fields: object) -> SimpleNamespace:
    given = {"filename": "report.pdf", "path": None, "content_type": "application/pdf", "size": 10}
    return SimpleNamespace(**{**given, "tags": [], "description": "", "redirect_url": None, **fields})


def test_an_upload_without_a_path_goes_to_its_name() -> None:
    assert validation.upload(upload(), (), LIMITS).path == "/report.pdf"


def test_a_name_whose_default_path_is_too_long_is_refused_on_the_name() -> None:
    with pytest.raises(InvalidInput) as refused:
        validation.upload(upload(filename="a-rather-long-name.pdf"), (), LIMITS)

    assert refused.value.problems == (Problem("filename", "The path is longer than 20 bytes."),)
