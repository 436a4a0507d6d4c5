"""The query language parser: the tree it builds and the errors it gives, with their positions."""

from __future__ import annotations

import pytest

from adapters.search.base import ContentSearchNotAllowed, QuerySyntaxError
from adapters.search.query import And, Not, Or, Term, check_fields, parse, positive_terms

STAR = "needs at least 2 letters or digits before it (write \\* to search for a star)."


def word(text: str, position: int, field: str | None = None) -> Term:
    return Term(text, "word", field, position)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("invoice", word("invoice", 0)),
        ("a b", And((word("a", 0), word("b", 2)))),
        ("a b OR c", Or((And((word("a", 0), word("b", 2))), word("c", 7)))),
        ("a OR b c", Or((word("a", 0), And((word("b", 5), word("c", 7)))))),
        ("a (b OR c)", And((word("a", 0), Or((word("b", 3), word("c", 8)))))),
        ("a -b", And((word("a", 0), Not(word("b", 3), 2)))),
        ("a NOT b", And((word("a", 0), Not(word("b", 6), 2)))),
        ("a AND NOT NOT b", And((word("a", 0), word("b", 14)))),
        ("+a", word("a", 1)),
        ('"big deal"', Term("big deal", "phrase", None, 0)),
        ('"big de"*', Term("big de", "prefix", None, 0)),
        ("invo*", Term("invo", "prefix", None, 0)),
        ("invo**", Term("invo", "prefix", None, 0)),
        ("in*voice", word("in*voice", 0)),
        ("name:x", word("x", 5, "name")),
        ("tag:x", word("x", 4, "tags")),
        ("TAGS:x", word("x", 5, "tags")),
        ("description:x", word("x", 12, "description")),
        ('content:"a b"', Term("a b", "phrase", "content", 8)),
        ("name:(a OR b)", Or((word("a", 6, "name"), word("b", 11, "name")))),
        ("name:ab*", Term("ab", "prefix", "name", 5)),
        ("10:30", word("10:30", 0)),
        ("x\\:y", word("x:y", 0)),
        ("foo\\:bar", word("foo:bar", 0)),
        ('"say \\"hi\\""', Term('say "hi"', "phrase", None, 0)),
        ("\\(a\\)", word("(a)", 0)),
        ("\\-a", word("-a", 0)),
        ("a\\*", word("a*", 0)),
        ("a\\", word("a\\", 0)),
        ("and or not", And((word("and", 0), word("or", 4), word("not", 7)))),
        ("a - b", And((word("a", 0), word("-", 2), word("b", 4)))),
        ("a-b", word("a-b", 0)),
        ("-a b", And((Not(word("a", 1), 0), word("b", 3)))),
        ("a OR -b", Or((word("a", 0), Not(word("b", 6), 5)))),
    ],
)
def test_trees(query: str, tree: object) -> None:
    assert parse(query) == tree


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("", "The query is empty.", None),
        ("AND", "AND at character 1 needs something to search for on both sides.", 0),
        ("a AND", "AND at character 3 needs something to search for on both sides.", 2),
        ("a OR OR b", "OR at character 3 needs something to search for on both sides.", 2),
        ("OR a", "OR at character 1 needs something to search for on both sides.", 0),
        ("NOT", "NOT at character 1 needs a word, a phrase or (…) after it.", 0),
        ("a NOT", "NOT at character 3 needs a word, a phrase or (…) after it.", 2),
        ("NOT a", "The query only excludes (NOT, -): say what to find, not only what to leave out.", 0),
        ("-a -b", "The query only excludes (NOT, -): say what to find, not only what to leave out.", 0),
        ("(-a) OR NOT b", "The query only excludes (NOT, -): say what to find, not only what to leave out.", 1),
        ("(a", "The ( at character 1 is never closed: add a ).", 0),
        ("a)", "The ) at character 2 closes nothing: remove it or add a (.", 1),
        (")", "The ) at character 1 closes nothing: remove it or add a (.", 0),
        ("a ()", "Nothing between the ( at character 3 and its ).", 2),
        ('a "b c', 'The quote at character 3 is never closed: add the closing ".', 2),
        ('"', 'The quote at character 1 is never closed: add the closing ".', 0),
        (
            "foo:bar",
            "Unknown field foo: at character 1. Search in name:, tag:, description: or content:; "
            "to search for a colon, put the words in quotes or write \\:.",
            0,
        ),
        ("x name:", 'name: at character 3 needs a word, a "phrase" or (…) right after the colon.', 2),
        ("name: x", 'name: at character 1 needs a word, a "phrase" or (…) right after the colon.', 0),
        ("(name:)", 'name: at character 2 needs a word, a "phrase" or (…) right after the colon.', 1),
        ("name:AND", 'name: at character 1 needs a word, a "phrase" or (…) right after the colon.', 0),
        ("name:(tag:x)", "tags: at character 7 is inside another field's (…): a term has one field.", 6),
        ("*", "The * at character 1 needs at least 2 letters or digits before it (write \\* to search for a star).", 0),
        (
            "a*",
            "The * at character 2 needs at least 2 letters or digits before it (write \\* to search for a star).",
            0,
        ),
        (
            "x -.*",
            "The * at character 5 needs at least 2 letters or digits before it (write \\* to search for a star).",
            3,
        ),
        ("a\ud800", "The query has an invalid character at character 2.", 1),
        ("(" * 21 + "a" + ")" * 21, "Parentheses nest deeper than 20 levels at character 21.", 20),
    ],
)
def test_errors_say_what_and_where(query: str, message: str, position: int | None) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        parse(query)
    assert (raised.value.message, raised.value.position, str(raised.value)) == (message, position, message)


def test_twenty_levels_of_parentheses_are_fine() -> None:
    assert parse("(" * 20 + "a" + ")" * 20) == word("a", 20)


def test_clause_and_prefix_caps() -> None:
    assert len(positive_terms(parse(" ".join(["ab"] * 2500)))) == 2500
    with pytest.raises(QuerySyntaxError, match="more than 2,500 words"):
        parse(" ".join(["ab"] * 2501))
    parse(" ".join(["ab*"] * 50))
    with pytest.raises(QuerySyntaxError, match="more than 50 prefixes"):
        parse(" ".join(["ab*"] * 51))


def test_long_chains_of_operators_do_not_recurse() -> None:
    assert parse("NOT " * 2000 + "a") == word("a", 8000)
    assert parse("-" * 5000 + "a b") == And((word("a", 5000), word("b", 5002)))


def test_content_field_is_refused_without_content() -> None:
    tree = parse("a OR (b -content:c)")
    check_fields(tree, content=True)
    with pytest.raises(ContentSearchNotAllowed) as raised:
        check_fields(tree, content=False)
    assert raised.value.position == 17
    check_fields(parse("name:a tag:b description:c"), content=False)


def test_positive_terms_skip_excluded_ones() -> None:
    tree = parse("a -b NOT (c -d) OR NOT NOT e")
    assert [term.text for term in positive_terms(tree)] == ["a", "d", "e"]
