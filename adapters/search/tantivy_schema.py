"""What the tantivy index holds: its schema, its analyzers, and an ``IndexedDocument`` as a tantivy one.

docs/SEARCH.md has the field table. Text fields are analysed by two analyzers registered under our own
names on every opened index (tantivy does not store analyzers): ``ds_fold`` for names and tags, and
``ds_stem`` (the same, then English stems) for descriptions and text.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import tantivy

from adapters.search.base import IndexOutdated

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.search.base import IndexedDocument

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Index fields, the analyzer of each text field, and the boost of each searchable field.
_FOLD = "ds_fold"  # letters and digits, lower case, accents folded: names and tags
_STEM = "ds_stem"  # the same, then English stems: descriptions and text
INDEX_FIELD = {"name": "name", "tags": "tags_text", "description": "description", "content": "content"}
ANALYZER_OF = {"name": _FOLD, "tags": _FOLD, "description": _STEM, "content": _STEM}
BOOST = {"name": 3.0, "tags": 2.0, "description": 1.0, "content": 1.0}


def _analyzer(stem: bool) -> tantivy.TextAnalyzer:
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
    )
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


ANALYZERS = {_FOLD: _analyzer(stem=False), _STEM: _analyzer(stem=True)}


def _build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("owner", stored=True, tokenizer_name="raw")
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("key", tokenizer_name="raw")  # owner/id: what an upsert replaces
    builder.add_text_field("name", stored=True, tokenizer_name=_FOLD)
    # Every suffix of the folded name: "contains X" is "a suffix starts with X", a prefix walk of the
    # term dictionary (a regex .*X.* would walk all of it, and has a size limit).
    builder.add_text_field("name_suffixes", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("tag", tokenizer_name="raw")  # each tag exactly: the tags filter
    builder.add_text_field("tags_text", stored=True, tokenizer_name=_FOLD)
    builder.add_text_field("description", stored=True, tokenizer_name=_STEM)
    builder.add_text_field("content", stored=True, tokenizer_name=_STEM)
    builder.add_text_field("content_type", tokenizer_name="raw")
    # Microseconds since the epoch: tantivy's date fields keep whole seconds, the bounds are exact.
    builder.add_integer_field("created_us", indexed=True, fast=True)
    builder.add_integer_field("updated_us", indexed=True, fast=True)
    return builder.build()


SCHEMA = _build_schema()


def fold(text: str) -> str:
    """NFKC, case-folded: the form ``models.documents.fold`` compares names in."""
    return unicodedata.normalize("NFKC", text).casefold()


def micros(moment: datetime) -> int:
    """Microseconds since 1970 (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def clean(text: str) -> str:
    """``text`` as valid UTF-8: a lone surrogate (JSON allows them) becomes "?"."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode()
    return text


def open_index(path: Path, *, create: bool = False) -> tantivy.Index:
    """The index in ``path`` (a new empty one with ``create``), with our analyzers registered."""
    if create:
        path.mkdir()
    elif not path.is_dir():
        raise FileNotFoundError(f"no search index at {path}")
    try:
        index = tantivy.Index(SCHEMA, path=str(path), reuse=True)
    except ValueError as error:
        if "schema does not match" in str(error):
            raise IndexOutdated(path) from error
        raise
    for name, analyzer in ANALYZERS.items():
        index.register_tokenizer(name, analyzer)
    return index


def key_of(owner_id: str, document_id: str) -> str:
    return clean(f"{owner_id}/{document_id}")


def to_tantivy(document: IndexedDocument) -> tantivy.Document:
    out = tantivy.Document()
    out.add_text("owner", clean(document.owner_id))
    out.add_text("id", clean(document.document_id))
    out.add_text("key", key_of(document.owner_id, document.document_id))
    name = clean(document.name)
    out.add_text("name", name)
    folded = fold(name)
    for start in range(len(folded)):
        out.add_text("name_suffixes", folded[start:])
    for tag in document.tags:
        out.add_text("tag", clean(tag))
        out.add_text("tags_text", clean(tag))
    out.add_text("description", clean(document.description))
    if document.content:
        out.add_text("content", clean(document.content))
    out.add_text("content_type", clean(document.content_type))
    out.add_integer("created_us", micros(document.created_at))
    out.add_integer("updated_us", micros(document.updated_at))
    return out
