"""Any text at all is either answered or refused with a QuerySyntaxError, never another exception."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.search.base import ContentSearchNotAllowed, QuerySyntaxError, SearchFilter, SearchPage
from adapters.search.tantivy_index import TantivyIndex
from tests.adapters.search.helpers import add, doc

A, B = "acct-a", "acct-b"
ODD = ["é", "ß", "İ", "ﬁ", "日本語", "😀", "👩‍👩‍👧", "\u200b", "\u202e", "\x00", "\x07", "\x1f", "\x7f", "\ufeff", "٣"]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> TantivyIndex:
    index = TantivyIndex.open(Path(tmp_path_factory.mktemp("fuzz")) / "search")
    add(
        index,
        doc(A, "a1", "Report (1) [final].pdf", tags=("tax", "2024"), description="the *quarterly* report", content="x"),
        doc(A, "a2", "日本語 notes 😀.txt", description="a:b c\\d", content='quote " and (parens)'),
        doc(B, "b1", "secret.pdf", content="secret words"),
    )
    return index


def answer(index: TantivyIndex, query: str, *, content: bool = True) -> SearchPage | None:
    """The page for ``query``, or None when refused with a QuerySyntaxError (or the content refusal)."""
    refusal: QuerySyntaxError | ContentSearchNotAllowed | None = None
    try:
        index.validate(query, content=content)
    except (QuerySyntaxError, ContentSearchNotAllowed) as error:
        refusal = error
    if isinstance(refusal, QuerySyntaxError):
        assert refusal.message
        assert refusal.position is None or 0 <= refusal.position <= len(query)
    if refusal is not None:
        assert isinstance(refusal, QuerySyntaxError) or not content
        with pytest.raises(type(refusal)):
            index.search(A, query, content=content, flt=SearchFilter(), offset=0, limit=5)
        return None
    found = index.search(A, query, content=content, flt=SearchFilter(), offset=0, limit=5)
    assert {hit.document_id for hit in found.hits} <= {"a1", "a2"}
    return found


def table() -> list[str]:
    queries = []
    for ch in string.punctuation:
        queries += [ch, ch * 2, f"ab{ch}cd", f"{ch}ab", f"ab{ch}", f"name:{ch}", f"({ch})", f'"{ch}"', f"report {ch}"]
        queries += [f"\\{ch}", f"ab\\{ch}", f"{ch}*", f"ab{ch}*", f"-{ch}", f"NOT {ch}", f"report OR {ch}"]
    for ch in ODD:
        queries += [ch, f"ab{ch}cd", f"{ch}*", f"name:{ch}", f'"{ch}"', f"report {ch}"]
    queries += ['"', '""', '"a', 'a"', '"a" "', "(", ")", "(()", "())", "((a)", "(a))", ")(", "( )"]
    queries += ["name:", "tag:", "content:", "description:", "name:(", "name:)", "name:()", 'name:"', "name::"]
    queries += ["*", "**", "a*", "ab*", "*ab", "NOT", "AND", "OR", "NOT NOT", "a AND", "OR a", "- -", "+", "-", "--a"]
    queries += ["\\", "\\\\", "a\\", "\t", "\n\r", "\x00", " \x0b\x0c", "AND OR NOT", "report NOT", "report -"]
    queries += ["(" * 30 + "a" + ")" * 30, "(" * 5000, ")" * 5000, '"' * 9999, "\\" * 10_000, "a" * 10_000]
    queries += ["NOT " * 2500, "- " * 5000, "ab* " * 2000, "report OR " * 999 + "x", "a:" * 100, "日本語" * 3333]
    queries += ["rep*", "repo*", "name:rep*", "tags:20*", "report\u0301", "REPORT", "ｒｅｐｏｒｔ"]
    return queries


@pytest.mark.parametrize("query", table())
@pytest.mark.parametrize("content", [True, False])
def test_special_characters_are_answered_or_refused(index: TantivyIndex, query: str, content: bool) -> None:
    answer(index, query, content=content)


def test_fullwidth_and_case_variants_find_the_document(index: TantivyIndex) -> None:
    for query in ("REPORT", "ｒｅｐｏｒｔ", "rep*", "日本語", "quarterly", "tags:2024"):
        found = answer(index, query)
        assert found is not None, query
        assert found.hits, query


def test_lone_surrogates_are_refused_not_crashed_on(index: TantivyIndex) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        index.search(A, "ok \udc80", content=True, flt=SearchFilter(), offset=0, limit=5)
    assert raised.value.position == 3
    found = index.search(A, "report", content=True, flt=SearchFilter(name_contains="\ud800"), offset=0, limit=5)
    assert found.hits == []


# Words of the other owner's document among the pieces: ``answer`` checks they never bring it back.
OTHER_OWNERS_WORDS = ["secret", "secr*", "se*", '"secret words"', "words", "pdf", "secret.pdf"]
QUERY_CHARS = st.sampled_from(
    [*string.printable, *ODD, *OTHER_OWNERS_WORDS, " ", " OR ", " AND ", "NOT ", "name:", "content:", "tag:", "\\"]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(QUERY_CHARS, max_size=40), content=st.booleans())
def test_generated_queries_are_answered_or_refused(index: TantivyIndex, parts: list[str], content: bool) -> None:
    answer(index, "".join(parts), content=content)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=60))
def test_any_text_is_answered_or_refused(index: TantivyIndex, query: str) -> None:
    answer(index, query)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(substring=st.text(max_size=30))
def test_any_name_substring_filters_without_error(index: TantivyIndex, substring: str) -> None:
    found = index.search(A, "pdf OR txt", content=True, flt=SearchFilter(name_contains=substring), offset=0, limit=5)
    assert {hit.document_id for hit in found.hits} <= {"a1", "a2"}
