"""The tantivy search backend: what matches, in which order, with which snippets, for whom."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from adapters.search.base import (
    MAX_QUERY_CHARS,
    ContentSearchNotAllowed,
    Highlight,
    PageTooDeep,
    QuerySyntaxError,
    SearchFilter,
)
from adapters.search.tantivy_index import TantivyIndex
from tests.adapters.search.helpers import T0, add, doc, ids, page

A, B = "acct-a", "acct-b"


# Owners -----------------------------------------------------------------------------------------


@pytest.fixture
def two_owners(index: TantivyIndex) -> TantivyIndex:
    add(
        index,
        doc(A, "a1", "alpha plan.pdf", tags=("work",), description="alpha notes", content="alpha text"),
        doc(
            B,
            "b1",
            "zebra secret.pdf",
            tags=("zebratag",),
            description="zebra stripes",
            content="zebra crossing quagga",
            content_type="text/plain",
        ),
    )
    return index


@pytest.mark.parametrize(
    "query",
    [
        "zebra",
        "zeb*",
        '"zebra secret"',
        '"zebra cross"*',
        "name:zebra",
        "tag:zebratag",
        "description:stripes",
        "content:quagga",
        "quagga",
        "alpha OR zebra",
        "zebra OR (alpha -alpha)",
    ],
)
def test_words_of_another_owner_never_match(two_owners: TantivyIndex, query: str) -> None:
    assert set(ids(two_owners, A, query)) <= {"a1"}
    assert "b1" in ids(two_owners, B, query.replace("alpha", "zebra"))


def test_filters_never_reach_another_owner(two_owners: TantivyIndex) -> None:
    for flt in (
        SearchFilter(name_contains="zebra"),
        SearchFilter(tags=("zebratag",)),
        SearchFilter(content_type="text/plain"),
    ):
        assert ids(two_owners, A, "zebra OR alpha", flt=flt) == []
        assert ids(two_owners, B, "zebra OR alpha", flt=flt) == ["b1"]


# FREE and PREMIUM -------------------------------------------------------------------------------


def test_metadata_search_never_matches_content(two_owners: TantivyIndex) -> None:
    assert ids(two_owners, B, "quagga", content=False) == []
    assert ids(two_owners, B, "quagga", content=True) == ["b1"]
    assert ids(two_owners, B, "zebra", content=False) == ["b1"]


@pytest.mark.parametrize(
    "query", ["content:quagga", "zebra OR content:x", "zebra -content:x", "(name:a OR content:(b c))"]
)
def test_content_field_in_a_metadata_search_is_refused(two_owners: TantivyIndex, query: str) -> None:
    with pytest.raises(ContentSearchNotAllowed):
        page(two_owners, B, query, content=False)
    with pytest.raises(ContentSearchNotAllowed):
        two_owners.validate(query, content=False)
    two_owners.validate(query, content=True)


def test_metadata_highlights_never_show_content(two_owners: TantivyIndex) -> None:
    (hit,) = page(two_owners, B, "zebra", content=False).hits
    assert [highlight.field for highlight in hit.highlights] == ["name", "description"]
    (hit,) = page(two_owners, B, "zebra", content=True).hits
    assert [highlight.field for highlight in hit.highlights] == ["name", "description", "content"]


# The language -----------------------------------------------------------------------------------


@pytest.fixture
def fruit(index: TantivyIndex) -> TantivyIndex:
    add(
        index,
        doc(A, "d1", "apple banana.txt"),
        doc(A, "d2", "apple cherry.txt"),
        doc(A, "d3", "cherry.txt"),
        doc(A, "d4", "banana.txt"),
    )
    return index


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("apple", {"d1", "d2"}),
        ("apple banana", {"d1"}),
        ("apple AND banana", {"d1"}),
        ("apple banana OR cherry", {"d1", "d2", "d3"}),
        ("cherry OR apple banana", {"d1", "d2", "d3"}),
        ("apple (banana OR cherry)", {"d1", "d2"}),
        ("(apple OR banana) -cherry", {"d1", "d4"}),
        ("apple -banana", {"d2"}),
        ("apple AND NOT cherry", {"d1"}),
        ("cherry OR NOT apple", {"d2", "d3", "d4"}),
        ("+apple +cherry", {"d2"}),
        ("NOT NOT apple", {"d1", "d2"}),
        ("apple OR banana OR cherry", {"d1", "d2", "d3", "d4"}),
        ("apple and", set()),  # lower-case "and" is a word, and no name has it
        ("txt -(apple OR banana)", {"d3"}),
        ("ban*", {"d1", "d4"}),
        ("ban* -apple", {"d4"}),
    ],
)
def test_operators_and_precedence(fruit: TantivyIndex, query: str, expected: set[str]) -> None:
    assert set(ids(fruit, A, query)) == expected


def test_a_phrase_needs_the_words_in_order(index: TantivyIndex) -> None:
    add(
        index,
        doc(A, "d1", "q.pdf", content="the quarterly report draft"),
        doc(A, "d2", "r.pdf", content="a report on quarterly numbers"),
    )
    assert ids(index, A, '"quarterly report"') == ["d1"]
    assert set(ids(index, A, "quarterly report")) == {"d1", "d2"}
    assert ids(index, A, '"report quarterly"') == []
    assert ids(index, A, '"report on quart"*') == ["d2"]


def test_prefix_matches_the_start_of_words(index: TantivyIndex) -> None:
    add(
        index,
        doc(A, "d1", "Invoice 2024.pdf"),
        doc(A, "d2", "scan.pdf", content="all invoices were paid"),
        doc(A, "d3", "invite.pdf"),
    )
    assert set(ids(index, A, "invo*")) == {"d1", "d2"}
    assert set(ids(index, A, "invoice*")) == {"d1", "d2"}
    assert set(ids(index, A, "inv*")) == {"d1", "d2", "d3"}
    assert ids(index, A, "name:invo*") == ["d1"]
    with pytest.raises(QuerySyntaxError) as raised:
        page(index, A, "i*")
    assert raised.value.message == (
        "The * at character 2 needs at least 2 letters or digits before it (write \\* to search for a star)."
    )


def test_a_prefix_matches_every_word_it_starts(index: TantivyIndex) -> None:
    add(index, *(doc(A, f"d{i:03}", f"alpha pre{i:03}x.pdf") for i in range(120)))
    assert len(ids(index, A, "pre*", limit=200)) == 120
    assert len(ids(index, A, '"alpha pre"*', limit=200)) == 100  # PHRASE_PREFIX_EXPANSIONS


def test_another_owners_words_never_crowd_out_a_phrase_prefix(index: TantivyIndex) -> None:
    add(
        index,
        *(doc(B, f"b{i:03}", f"alpha ab{i:03}.pdf") for i in range(150)),
        doc(A, "a1", "alpha abz.pdf"),
    )
    assert ids(index, A, '"alpha ab"*') == ["a1"]
    assert len(ids(index, B, '"alpha ab"*', limit=200)) == 100


def test_words_with_punctuation_match_like_the_indexed_text(index: TantivyIndex) -> None:
    add(index, doc(A, "d1", "e-mail setup.pdf"), doc(A, "d2", "mail e.pdf"), doc(A, "d3", "Crème brûlée.docx"))
    assert ids(index, A, "e-mail") == ["d1"]
    assert set(ids(index, A, "e mail")) == {"d1", "d2"}
    assert ids(index, A, "creme BRULEE") == ["d3"]
    assert ids(index, A, "crème") == ["d3"]


def test_a_query_analysed_to_nothing_matches_nothing(fruit: TantivyIndex) -> None:
    assert page(fruit, A, "!!! ---").hits == []
    assert page(fruit, A, "&& ||").has_more is False


def test_field_scoped_terms(index: TantivyIndex) -> None:
    add(
        index,
        doc(A, "d1", "budget.xlsx", tags=("plan",), description="yearly numbers"),
        doc(A, "d2", "plan.docx", tags=("budget",), description="budget for the year", content="plan"),
        doc(A, "d3", "misc.txt", content="budget"),
    )
    assert ids(index, A, "name:budget") == ["d1"]
    assert ids(index, A, "tag:budget") == ["d2"]
    assert ids(index, A, "tags:plan") == ["d1"]
    assert ids(index, A, "description:budget") == ["d2"]
    assert ids(index, A, "content:budget") == ["d3"]
    assert set(ids(index, A, "name:(budget OR plan)")) == {"d1", "d2"}
    assert ids(index, A, 'description:"budget for"') == ["d2"]
    assert ids(index, A, "Name:budget") == ["d1"]


# Filters ----------------------------------------------------------------------------------------


def test_name_contains_is_a_folded_substring_with_any_characters(index: TantivyIndex) -> None:
    add(
        index,
        doc(A, "d1", "Report (1).PDF"),
        doc(A, "d2", "Straße [draft].txt"),
        doc(A, "d3", "a.b*c+d?.txt"),
        doc(A, "d4", "report.pdf"),
    )
    everything = "pdf OR txt"
    assert ids(index, A, everything, flt=SearchFilter(name_contains="RT (1).p")) == ["d1"]
    assert ids(index, A, everything, flt=SearchFilter(name_contains="STRASSE [d")) == ["d2"]
    assert ids(index, A, everything, flt=SearchFilter(name_contains=".b*c+d?")) == ["d3"]
    assert ids(index, A, everything, flt=SearchFilter(name_contains="b.c")) == []
    assert set(ids(index, A, everything, flt=SearchFilter(name_contains="report"))) == {"d1", "d4"}
    assert len(ids(index, A, everything, flt=SearchFilter(name_contains=""))) == 4


def test_name_contains_handles_long_and_expanding_substrings(index: TantivyIndex) -> None:
    add(index, doc(A, "d1", "日本" * 42 + ".pdf"), doc(A, "d2", "ﬁnal ﬁle.pdf"))
    assert ids(index, A, "pdf", flt=SearchFilter(name_contains="本日" * 41 + "本.P")) == ["d1"]
    assert ids(index, A, "pdf", flt=SearchFilter(name_contains="日本" * 43)) == []
    assert ids(index, A, "pdf", flt=SearchFilter(name_contains="FINAL FILE")) == ["d2"]
    assert ids(index, A, "pdf", flt=SearchFilter(name_contains="x" * 10_000)) == []


def test_every_tag_must_be_present_exactly(index: TantivyIndex) -> None:
    add(
        index,
        doc(A, "d1", "one.pdf", tags=("Tax", "2024")),
        doc(A, "d2", "two.pdf", tags=("Tax",)),
        doc(A, "d3", "three.pdf", tags=("tax return",)),
    )
    assert ids(index, A, "pdf", flt=SearchFilter(tags=("Tax", "2024"))) == ["d1"]
    assert set(ids(index, A, "pdf", flt=SearchFilter(tags=("Tax",)))) == {"d1", "d2"}
    assert ids(index, A, "pdf", flt=SearchFilter(tags=("tax",))) == []


def test_content_type_filter_is_exact(index: TantivyIndex) -> None:
    add(index, doc(A, "d1", "a.pdf"), doc(A, "d2", "b.txt", content_type="text/plain"))
    assert ids(index, A, "a OR b", flt=SearchFilter(content_type="text/plain")) == ["d2"]
    assert ids(index, A, "a OR b", flt=SearchFilter(content_type="text")) == []


def test_date_bounds_are_strict_to_the_microsecond(index: TantivyIndex) -> None:
    tick = timedelta(microseconds=1)
    add(
        index,
        doc(A, "early", "x.pdf", created_at=T0 - tick, updated_at=T0 + timedelta(days=2)),
        doc(A, "exact", "x.pdf", created_at=T0, updated_at=T0),
        doc(A, "late", "x.pdf", created_at=T0 + tick, updated_at=T0 + tick),
    )

    def found(**bounds: object) -> set[str]:
        return set(ids(index, A, "x", flt=SearchFilter(**bounds)))  # type: ignore[arg-type]

    assert found(created_after=T0) == {"late"}
    assert found(created_before=T0) == {"early"}
    assert found(created_after=T0 - tick, created_before=T0 + tick) == {"exact"}
    assert found(updated_after=T0) == {"early", "late"}
    assert found(updated_before=T0 + tick) == {"exact"}
    assert found(updated_after=T0 + timedelta(days=1), created_before=T0) == {"early"}


# Ranking and snippets ---------------------------------------------------------------------------


def test_a_word_in_the_name_outranks_it_once_in_long_content(index: TantivyIndex) -> None:
    filler = " ".join(f"word{i}" for i in range(400))
    add(
        index,
        doc(A, "in-content", "notes.txt", content=f"{filler} kiwi {filler}"),
        doc(A, "in-name", "kiwi.txt", content=filler),
        doc(A, "neither", "other.txt", content=filler),
    )
    assert ids(index, A, "kiwi") == ["in-name", "in-content"]
    scores = [hit.score for hit in page(index, A, "kiwi").hits]
    assert scores == sorted(scores, reverse=True)


def test_snippets_mark_the_matched_words_and_escape_html(index: TantivyIndex) -> None:
    add(
        index,
        doc(
            A,
            "d1",
            "<b>Invoice</b> & co.html",
            tags=("invoices", "misc"),
            description="no match here",
            content='<script>alert("invoice")</script> ' + "padding " * 100,
        ),
    )
    (hit,) = page(index, A, "invoice").hits
    assert hit.highlights == (
        Highlight(field="name", snippet="&lt;b&gt;<b>Invoice</b>&lt;/b&gt; &amp; co.html"),
        Highlight(
            field="content",
            snippet="&lt;script&gt;alert(&quot;<b>invoice</b>&quot;)&lt;/script&gt; padding padding padding padding "
            "padding padding padding padding padding padding padding padding padding padding",
        ),
    )
    (hit,) = page(index, A, "invoic*").hits
    assert [highlight.field for highlight in hit.highlights] == ["name", "tags", "content"]
    assert hit.highlights[1].snippet == "<b>invoices</b> misc"


def test_excluded_words_are_not_highlighted(index: TantivyIndex) -> None:
    add(index, doc(A, "d1", "apple banana.txt"))
    (hit,) = page(index, A, "apple -cherry -(banana cherry)").hits
    assert hit.highlights == (Highlight(field="name", snippet="<b>apple</b> banana.txt"),)


# Writing ----------------------------------------------------------------------------------------


def test_upsert_replaces_the_document(index: TantivyIndex) -> None:
    add(index, doc(A, "d1", "first name.pdf", tags=("old",)), doc(B, "d1", "first name.pdf"))
    add(index, doc(A, "d1", "second name.pdf", tags=("new",)))
    assert ids(index, A, "first") == []
    assert ids(index, A, "second") == ["d1"]
    assert ids(index, A, "pdf", flt=SearchFilter(tags=("old",))) == []
    assert ids(index, A, "pdf", flt=SearchFilter(tags=("new",))) == ["d1"]
    assert ids(index, B, "first") == ["d1"]


def test_the_same_document_twice_in_one_batch_keeps_the_last(index: TantivyIndex) -> None:
    add(index, doc(A, "d1", "one.pdf"), doc(A, "d1", "two.pdf"))
    assert ids(index, A, "one") == []
    assert ids(index, A, "two") == ["d1"]


def test_delete_and_delete_owner(index: TantivyIndex) -> None:
    add(index, doc(A, "d1", "x.pdf"), doc(A, "d2", "x.pdf"), doc(A, "d3", "x.pdf"), doc(B, "d1", "x.pdf"))
    with index.writer() as writer:
        writer.delete(A, ["d1", "unknown"])
        writer.commit()
    index.refresh()
    assert set(ids(index, A, "x")) == {"d2", "d3"}
    assert ids(index, B, "x") == ["d1"]
    with index.writer() as writer:
        writer.delete_owner(A)
        writer.commit()
    index.refresh()
    assert ids(index, A, "x") == []
    assert ids(index, B, "x") == ["d1"]


def test_close_drops_uncommitted_changes(index: TantivyIndex) -> None:
    add(index, doc(A, "d1", "kept.pdf"))
    writer = index.writer()
    writer.upsert([doc(A, "d2", "kept.pdf")])
    writer.delete(A, ["d1"])
    writer.close()
    writer.close()
    index.refresh()
    assert ids(index, A, "kept") == ["d1"]
    with pytest.raises(RuntimeError):
        writer.commit()


# Pages and limits -------------------------------------------------------------------------------


def test_pages_cover_every_hit_once_and_has_more_is_exact(index: TantivyIndex) -> None:
    add(index, *(doc(A, f"d{i:02}", f"common {i}.pdf", content="common " * (i % 5)) for i in range(25)))
    pages = [page(index, A, "common", offset=offset, limit=10) for offset in (0, 10, 20)]
    assert [len(p.hits) for p in pages] == [10, 10, 5]
    assert [p.has_more for p in pages] == [True, True, False]
    seen = [hit.document_id for p in pages for hit in p.hits]
    assert sorted(seen) == [f"d{i:02}" for i in range(25)]
    assert page(index, A, "common", limit=25).has_more is False
    assert page(index, A, "common", limit=24).has_more is True
    assert page(index, A, "common", offset=25, limit=10).hits == []
    zero = page(index, A, "common", limit=0)
    assert (zero.hits, zero.has_more) == ([], True)


def test_paging_stops_at_a_thousand(fruit: TantivyIndex) -> None:
    assert page(fruit, A, "apple", offset=990, limit=10).hits == []
    with pytest.raises(PageTooDeep):
        page(fruit, A, "apple", offset=991, limit=10)
    with pytest.raises(PageTooDeep):
        fruit.search(A, "apple", content=True, flt=SearchFilter(), offset=0, limit=1001)


def test_a_ten_kilobyte_query_of_words_is_answered(index: TantivyIndex) -> None:
    words = [f"w{i}x" for i in range(2000)]
    add(index, doc(A, "d1", "big.txt", content=" ".join(words)), doc(A, "d2", "small.txt", content="w1x"))
    query = " ".join(words)
    while len(query) > MAX_QUERY_CHARS:
        query = query[: query.rfind(" ")]
    assert len(query) > 9_900
    assert ids(index, A, query) == ["d1"]
    either = " OR ".join(words)[:MAX_QUERY_CHARS]
    either = either[: either.rfind(" OR ")]
    assert set(ids(index, A, either)) == {"d1", "d2"}


def test_a_longer_query_is_refused(fruit: TantivyIndex) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        page(fruit, A, "a" * (MAX_QUERY_CHARS + 1))
    assert raised.value.message == "A query may have at most 10,000 characters, not 10,001."


@pytest.mark.parametrize("query", ["", " ", "\t\n "])
def test_an_empty_query_is_refused(fruit: TantivyIndex, query: str) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        page(fruit, A, query)
    assert raised.value.message == "The query is empty."
    assert raised.value.position is None


def test_searches_run_in_parallel_threads(fruit: TantivyIndex) -> None:
    queries = ["apple", "banana", "cherry", "apple -banana"] * 10
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda query: set(ids(fruit, A, query)), queries))
    assert results == [{"d1", "d2"}, {"d1", "d4"}, {"d2", "d3"}, {"d2"}] * 10


# holds ------------------------------------------------------------------------------------------


def test_holds_follows_commits_made_through_another_handle_and_is_per_owner(index: TantivyIndex) -> None:
    reader = TantivyIndex.open(index.root)  # another process's view of the same folder
    assert reader.holds(A, "a1") is False

    with index.writer() as writer:
        writer.upsert([doc(A, "a1")])
        assert reader.holds(A, "a1") is False  # not committed yet
        writer.commit()

    assert reader.holds(A, "a1") is True
    assert reader.holds(B, "a1") is False  # the same id under another owner is another document
    with index.writer() as writer:
        writer.delete(A, ["a1"])
        writer.commit()
    assert reader.holds(A, "a1") is False
