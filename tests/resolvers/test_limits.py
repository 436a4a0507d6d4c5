"""Operation limits and the operation cache, through schema.execute (no server: the served attacks
are probed in tests/probes/test_stalling.py)."""

from __future__ import annotations

import gc
import sys
import tracemalloc
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from graphql import GraphQLSyntaxError, Lexer, Source, TokenKind, get_introspection_query, parse

from resolvers.limits import OperationCache, cache_for, count_tokens, count_values, measure, parse_counting
from schema.root import build_schema
from settings import Settings
from tests.client import OPERATIONS, operation

schema = build_schema(Settings())


async def signed_out() -> None:
    return None


def execute(query: str, variables: dict[str, Any] | None = None, **limits: Any) -> list[tuple[str, Any]]:
    context = SimpleNamespace(services=SimpleNamespace(settings=Settings(**limits)), viewer=signed_out)

    async def run() -> list[tuple[str, Any]]:
        result = await schema.execute(query, variable_values=variables, context_value=context)
        return [(error.message, error.extensions) for error in result.errors or []]

    return anyio.run(run)


def refused(setting: str, allowed: int) -> dict[str, Any]:
    return {"code": "LIMIT_EXCEEDED", "limit": setting, "allowed": allowed}


def bomb(levels: int) -> str:
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"query Bomb {{ ...F0 }} {fragments} fragment F{levels} on Query {{ __typename }}"


def test_fragments_are_counted_as_they_expand_each_walked_once() -> None:
    # 2**60 fields: a walk per spread would never end; one per fragment takes 61 steps.
    found = measure(schema._schema, parse(bomb(60)))

    assert (found.fields, found.cost, found.depth) == (1 << 60, 1 << 60, 1)

    nested = measure(schema._schema, parse("{ me { usage { usedBytes } } }"))
    assert (nested.fields, nested.depth) == (3, 3)


def test_exponential_fragments_are_refused_naming_the_field_limit() -> None:
    errors = execute(bomb(40), max_query_cost=1 << 62, max_query_repeats=1 << 62)

    assert errors == [
        (
            "This operation has 1,099,511,627,776 fields (fragments expanded); at most 500 are allowed "
            "(DOCSTORE_MAX_QUERY_FIELDS).",
            refused("DOCSTORE_MAX_QUERY_FIELDS", 500),
        )
    ]


def test_cost_is_fields_times_the_page_sizes_asked_for() -> None:
    query = "query Q($n: Int!) { documents(first: $n) { edges { node { id name } } } }"

    found = measure(schema._schema, parse(query), {"n": 100})
    by_default = measure(schema._schema, parse("{ documents { edges { node { id } } } }"))

    # documents once; edges, node, id, name once per item.
    assert found.cost == 1 + 100 * 4
    assert by_default.cost == 1 + 20 * 3
    assert execute(query, {"n": 100}, max_query_cost=400) == [
        (
            "This operation has 401 fields times list sizes; at most 400 are allowed (DOCSTORE_MAX_QUERY_COST).",
            refused("DOCSTORE_MAX_QUERY_COST", 400),
        )
    ]


def test_aliases_and_directives_are_counted_through_fragments() -> None:
    query = "query Q { ...A ...A } fragment A on Query { a: __typename @include(if: true) b: __typename }"

    found = measure(schema._schema, parse(query))

    assert (found.aliases, found.directives, found.fields) == (4, 2, 4)
    assert execute(query, max_query_aliases=3, max_query_directives=1) == [
        (
            "This operation has 4 aliases (fragments expanded); at most 3 are allowed (DOCSTORE_MAX_QUERY_ALIASES).",
            refused("DOCSTORE_MAX_QUERY_ALIASES", 3),
        ),
        (
            "This operation has 2 directives (fragments expanded); at most 1 are allowed "
            "(DOCSTORE_MAX_QUERY_DIRECTIVES).",
            refused("DOCSTORE_MAX_QUERY_DIRECTIVES", 1),
        ),
    ]


def test_every_operation_a_client_sends_and_graphiql_introspection_pass_the_defaults() -> None:
    defaults = Settings()
    texts = [path.read_text() for path in OPERATIONS.glob("*/*.graphql")]
    texts.append(get_introspection_query(descriptions=True))

    for text in texts:
        found = measure(schema._schema, parse(text), {"first": 100})
        assert found.fields <= defaults.max_query_fields, text
        assert found.depth <= defaults.max_query_depth, text
        assert found.cost <= defaults.max_query_cost, text
        assert found.aliases <= defaults.max_query_aliases, text
        assert parse_counting(text, defaults.max_query_tokens)[1] <= defaults.max_query_tokens, text
    assert execute(get_introspection_query(descriptions=True)) == []


def test_fields_under_one_name_are_counted_across_inline_fragments_and_spreads() -> None:
    # graphql-core compares every pair of them (OverlappingFieldsCanBeMerged): 100 cost ~0.1 s.
    query = "query Q { me { id } ... on Query { me { id } } ...F ...G } fragment F on Query { me { id } ...G } " + (
        "fragment G on Query { me { id } }"
    )

    assert measure(schema._schema, parse(query)).repeats == 5
    assert execute(query, max_query_repeats=4) == [
        (
            "This operation has 5 fields under one response name in one selection; at most 4 are allowed "
            "(DOCSTORE_MAX_QUERY_REPEATS).",
            refused("DOCSTORE_MAX_QUERY_REPEATS", 4),
        )
    ]


def test_tokens_are_counted_as_graphql_core_counts_them() -> None:
    texts = [path.read_text() for path in OPERATIONS.glob("*/*.graphql")]
    texts.append(get_introspection_query(descriptions=True))
    texts.append(
        'query { a(x: """bl\\"""ock " x""", y: "s\\"t#r", z: -1.5e3, w: [1, 2]) @include(if: $v) { ...F } }'
        ' # a comment "x"\nfragment F on Q { b }'
    )

    for text in texts:
        lexer, exact = Lexer(Source(text)), 0
        while lexer.advance().kind != TokenKind.EOF:
            exact += 1
        assert count_tokens(text, 10_000) == exact, text
    assert count_tokens("a " * 100, 10) == 11


def test_a_fragment_cycle_is_measured_once_and_left_to_validation() -> None:
    query = "query Q { ...F } fragment F on Query { ...G } fragment G on Query { ...F __typename }"

    assert execute(query) == [("Cannot spread fragment 'F' within itself via 'G'.", {})]


def test_variables_are_counted_no_further_than_the_limit() -> None:
    # The variables, the input, its id, its tags and each tag.
    assert count_values({"input": {"id": "x", "tags": ["a", "b"]}}, 10) == 6
    assert count_values({"input": {"id": "x", "tags": ["a", "b"]}}, 6) == 6
    assert count_values({"input": {"id": "x", "tags": ["a", "b"]}}, 5) == 6
    # A list longer than what is left is over at once: none of its items is looked at.
    assert count_values({"tags": [""] * 1_000_000}, 10) == 11
    assert count_values([[1, 2], [3]], 5) == 6
    assert count_values([[1, 2], [3]], 4) == 5


SIGNED_OUT = ("Sign in first: send `Authorization: Bearer <token>`.", {"code": "UNAUTHENTICATED"})
COMPARE = "query C($input: CompareChecksumsInput!) { compareChecksums(input: $input) { path } }"
FILE = {"path": "/a", "contentHash": "0" * 64}


def test_an_operation_with_a_compare_input_may_hold_three_values_a_file_more() -> None:
    limits = {"max_variable_values": 10, "compare_max_files": 3}
    # 10 + 3 a file for 3 files + 3: 22 values. 6 files are 1 + 1 + 1 + 6 * 3 = 21 (the variables,
    # the input, its list, each file's object, path and hash): over the ordinary 10, under 22; the
    # resolver then refuses the 6 files (no account here: it answers sign in first).
    six = {"input": {"files": [FILE] * 6}}
    assert execute(COMPARE, six, **limits) == [SIGNED_OUT]

    seven = {"input": {"files": [FILE] * 7}}
    assert execute(COMPARE, seven, **limits) == [
        (
            "This operation has more than 22 values in its variables; at most 22 are allowed "
            "(DOCSTORE_MAX_VARIABLE_VALUES, and 3 a file of DOCSTORE_COMPARE_MAX_FILES).",
            refused("DOCSTORE_MAX_VARIABLE_VALUES", 22),
        )
    ]
    # Any other operation keeps the ordinary budget, whatever it sends.
    tags = {"input": {"id": "x", "tags": ["t"] * 9}}
    update = "mutation U($input: UpdateDocumentInput!) { updateDocument(input: $input) { __typename } }"
    assert execute(update, tags, **limits) == [
        (
            "This operation has more than 10 values in its variables; at most 10 are allowed "
            "(DOCSTORE_MAX_VARIABLE_VALUES).",
            refused("DOCSTORE_MAX_VARIABLE_VALUES", 10),
        )
    ]


def test_one_compare_per_operation_aliases_and_fragments_included() -> None:
    two = "query C($input: CompareChecksumsInput!) { a: compareChecksums(input: $input) { path } ...F } "
    two += "fragment F on Query { b: compareChecksums(input: $input) { path } }"

    assert execute(two, {"input": {"files": [FILE]}}) == [
        (
            "This operation has 2 compareChecksums fields; at most 1 are allowed "
            "(DOCSTORE_MAX_COMPARES_PER_OPERATION).",
            refused("DOCSTORE_MAX_COMPARES_PER_OPERATION", 1),
        )
    ]
    # Allowed two, it runs (and stops at the first non-null field that fails).
    assert execute(two, {"input": {"files": [FILE]}}, max_compares_per_operation=2) == [SIGNED_OUT]


def test_too_many_tokens_is_a_limit_and_other_syntax_errors_stay_syntax_errors() -> None:
    many = "query Q { " + "__typename " * 30 + "}"

    assert execute(many, max_query_tokens=20) == [
        (
            "This operation has more than 20 tokens; at most 20 are allowed (DOCSTORE_MAX_QUERY_TOKENS).",
            refused("DOCSTORE_MAX_QUERY_TOKENS", 20),
        )
    ]
    assert execute("query Q { me { ") == [("Syntax Error: Expected Name, found <EOF>.", {})]


@pytest.mark.parametrize(
    "text",
    [
        "{ " + "me { " * 300 + "id" + " }" * 301,
        '{ search(query: "x", first: ' + "[" * 300 + "1" + "]" * 300 + ") { id } }",
    ],
    ids=["fields", "list value"],
)
def test_a_document_nested_past_the_parsers_limit_is_the_syntax_error_graphql_parse_gives(text: str) -> None:
    with pytest.raises(GraphQLSyntaxError) as expected:
        parse(text)
    with pytest.raises(GraphQLSyntaxError) as found:
        parse_counting(text, 2_000)

    assert (found.value.message, found.value.locations) == (expected.value.message, expected.value.locations)
    assert execute(text) == [("Syntax Error: Document is nested too deeply. Parsing aborted.", {})]


def test_a_refused_subscription_is_answered_as_an_error_by_stream() -> None:
    context = SimpleNamespace(services=SimpleNamespace(settings=Settings(max_query_bytes=100)))
    query = "subscription S { quotaEvents { __typename } } # " + "x" * 100

    async def run() -> list[Any]:
        stream = await schema.stream(query, context_value=context, operation_name="S")
        return [result async for result in stream]

    (result,) = anyio.run(run)
    assert [(error.message, error.extensions) for error in result.errors] == [
        (
            "This operation has 148 bytes of query text; at most 100 are allowed (DOCSTORE_MAX_QUERY_BYTES).",
            refused("DOCSTORE_MAX_QUERY_BYTES", 100),
        )
    ]


def test_valid_operations_are_cached_and_refused_ones_are_not() -> None:
    settings = Settings()
    cache = cache_for(settings)
    cache.clear()

    execute("query Kept { __typename }")
    execute("query Refused { " + " ".join(f"a{i}: __typename" for i in range(31)) + " }")
    execute("query Invalid { nothing }")

    assert cache.entries == 1
    assert cache.get("query Kept { __typename }") is not None


def test_cache_stays_under_its_bytes_whatever_the_texts() -> None:
    cache = OperationCache(max_bytes=2_000_000, max_entries=1_000)

    for number in range(50):
        text = f"query Q{number} {{ " + "__typename " * 300 + "}"
        document, tokens = parse_counting(text, 2_000)
        cache.put(text, document, tokens)

    assert 0 < cache.bytes <= 2_000_000
    assert cache.entries == cache.bytes // OperationCache.charge(text, tokens)
    assert cache.get(text) is not None  # the newest stays
    assert cache.get("query Q0 { " + "__typename " * 300 + "}") is None


@pytest.mark.parametrize(
    "text",
    [
        "{a}",
        operation("Search"),
        get_introspection_query(descriptions=True),
        "{" + "a " * 1_990 + "}",
        "query A { " + " ".join(f"a{i}: __typename" for i in range(600)) + " }",
        "query A { " + " ".join("me{id}" for _ in range(480)) + " }",
        'query A { search(query: "' + "é" * 30_000 + '") { __typename } }',
    ],
    ids=["tiny", "search", "introspection", "dense", "aliases", "fields", "long-string"],
)
def test_a_cached_operation_is_charged_at_least_what_it_holds(text: str) -> None:
    gc.collect()
    tracemalloc.start()
    copy = "".join(list(text))  # the text as a request brings it: a string of its own
    document, tokens = parse_counting(copy, 2_000)
    # Only what this test and graphql-core allocated: the session's live server runs in a thread.
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, "*/graphql/*"), tracemalloc.Filter(True, __file__)]
    )
    tracemalloc.stop()
    held = sum(stat.size for stat in snapshot.statistics("filename"))

    assert document is not None
    assert held > sys.getsizeof(copy)  # the measure sees the text and the document
    assert OperationCache.charge(copy, tokens) >= held
