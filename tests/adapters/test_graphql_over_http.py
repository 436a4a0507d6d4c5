"""``ValueCounter`` (``adapters.graphql_over_http``) against a reference: the values and the depth of
what ``json.loads`` builds from the same text, whatever the pieces and chunks it arrives in. The
HTTP and WebSocket refusals built on it are tested in tests/test_graphql_http.py."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import Any

import ijson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.graphql_over_http import (
    LONE_SURROGATE,
    NESTED_TOO_DEEPLY,
    NOT_JSON,
    NUMBER_TOO_BIG,
    TOO_MANY_VALUES,
    ValueCounter,
)

#: More values than any text here holds: only the depth can refuse.
UNLIMITED = 10**9
WHITESPACE = " \t\n\r"
LOW_SURROGATE = re.compile("[\udc00-\udfff]")


def reference_values(value: Any) -> int:
    """The values of what ``json.loads`` built: every list, object and scalar (object keys are none)."""
    if isinstance(value, list):
        return 1 + sum(map(reference_values, value))
    if isinstance(value, dict):
        return 1 + sum(map(reference_values, value.values()))
    return 1


class Pairs(list[tuple[str, Any]]):
    """An object as ``json.loads`` parsed it, every key kept (``object_pairs_hook``): a repeated
    key's values were all in the text, and the counter counts them all."""


def reference_of_text(text: bytes) -> int:
    """The values ``json.loads`` parsed from ``text``, those of repeated keys too."""

    def values(value: Any) -> int:
        if isinstance(value, Pairs):
            return 1 + sum(values(member) for _, member in value)
        if isinstance(value, list):
            return 1 + sum(map(values, value))
        return 1

    return values(json.loads(text, object_pairs_hook=Pairs))


def yajl_refuses(text: bytes) -> set[str]:
    """How the counter may refuse ``text``, JSON to ``json.loads``, for what yajl refuses and
    ``json.loads`` reads (yajl stops at the first): ``NaN`` or ``Infinity`` (``NOT_JSON``), an
    integer past 64 bits (or -2**63) or a number past a float (``NUMBER_TOO_BIG``), a ``\\uDC00``
    to ``\\uDFFF`` escape not right after a ``\\uD800`` to ``\\uDBFF`` one (``LONE_SURROGATE``: a
    pair ``json.loads`` joins into one character, so any such half left in a string was alone)."""
    refused: set[str] = set()

    def integer(digits: str) -> int:
        refused.update([NUMBER_TOO_BIG] if not -INT64 <= int(digits) <= INT64 else [])
        return 0

    def number(digits: str) -> float:
        refused.update([NUMBER_TOO_BIG] if float(digits) in (float("inf"), float("-inf")) else [])
        return 0.0

    def constant(name: str) -> float:
        refused.add(NOT_JSON)
        return 0.0

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, (list, tuple)):  # a list, an object's pairs, a key and its value
            for item in value:
                yield from strings(item)

    read = json.loads(text, parse_int=integer, parse_float=number, parse_constant=constant, object_pairs_hook=Pairs)
    lone = any(LOW_SURROGATE.search(string) for string in strings(read))
    return refused | ({LONE_SURROGATE} if lone else set())


def overflows_first(text: bytes) -> bool:
    """Whether yajl, given the whole text at once, stops at a number too big before anything else
    (``[1e309.0]``: not JSON, and a number past a double before the stray ``.``)."""
    try:
        for _ in ijson.basic_parse(text, use_float=True):
            pass
    except ijson.JSONError as error:
        return "overflow" in str(error).split("\n", 1)[0]
    except ValueError:
        return False
    return False


def before_an_unclosed_string(text: bytes) -> int | None:
    """yajl's one leniency: a JSON value followed by nothing but the start of a string never
    closed (``[]"``) it takes, ``json.loads`` does not. The values of that JSON value, if so."""
    try:
        decoded = text.decode().lstrip(WHITESPACE)
        value, end = json.JSONDecoder(object_pairs_hook=Pairs).raw_decode(decoded)
    except (ValueError, RecursionError):
        return None
    rest = decoded[end:].lstrip(WHITESPACE)
    try:
        json.decoder.scanstring(rest, 1)
    except json.JSONDecodeError:
        return reference_of_text(json.dumps(value).encode()) if rest.startswith('"') else None
    return None


def reference_depth(value: Any) -> int:
    """How many lists and objects nest, at the deepest."""
    if isinstance(value, list):
        return 1 + max(map(reference_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(reference_depth, value.values()), default=0)
    return 0


def counted(text: bytes, most_values: int, piece_bytes: int, chunk: int, most_depth: int | None = None) -> ValueCounter:
    """``text`` fed to a counter in chunks of ``chunk`` bytes, then closed."""
    counter = ValueCounter(most_values, piece_bytes=piece_bytes)
    if most_depth is not None:
        counter.most_depth = most_depth
    for start in range(0, len(text), chunk):
        counter.feed(text[start : start + chunk])
    counter.close()
    return counter


def refusal(text: bytes, most_values: int, piece_bytes: int, chunk: int, most_depth: int | None = None) -> str:
    with pytest.raises(json.JSONDecodeError) as refused:
        counted(text, most_values, piece_bytes, chunk, most_depth)
    return refused.value.msg


#: yajl reads integers into 64 bits (past them, and at -2**63, it says "integer overflow": the
#: counter's NOT_JSON, though ``json.loads`` reads them), so the integers here stay within.
INT64 = 2**63 - 1
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-INT64, INT64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=5), children, max_size=6),
    max_leaves=60,
)
texts = st.builds(
    lambda value, compact, ascii: (
        value,
        json.dumps(value, separators=(",", ":") if compact else None, ensure_ascii=ascii),
    ),
    documents,
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(texts, st.integers(1, 64), st.integers(1, 200))
def test_values_and_depth_counted_in_any_pieces_are_those_json_loads_builds(
    document: tuple[Any, str], piece_bytes: int, chunk: int
) -> None:
    value, text = document
    data = text.encode()
    values, depth = reference_values(value), reference_depth(value)

    counter = counted(data, values, piece_bytes, chunk)

    assert (counter.values, counter.depth, json.loads(data)) == (values, 0, value)
    assert refusal(data, values - 1, piece_bytes, chunk) == TOO_MANY_VALUES
    assert counted(data, UNLIMITED, piece_bytes, chunk, most_depth=depth).values == values
    if depth:
        assert refusal(data, UNLIMITED, piece_bytes, chunk, most_depth=depth - 1) == NESTED_TOO_DEEPLY


@settings(max_examples=400, deadline=None)
@given(
    texts,
    st.integers(0, 10**6),
    st.sampled_from(
        [b"", b"[", b"]", b"{", b"}", b",", b":", b'"', b"\\", b"0", b"-", b".", b"e", b" ", b"\xff", b"n"]
    ),
    st.integers(0, 3),
    st.integers(1, 64),
    st.integers(1, 200),
)
def test_text_changed_anywhere_is_counted_only_if_json_loads_reads_it_and_then_exactly(
    document: tuple[Any, str], at: int, insert: bytes, remove: int, piece_bytes: int, chunk: int
) -> None:
    # Valid JSON with a few bytes taken out and one put in, anywhere: often no longer JSON.
    original = document[1].encode()
    at %= len(original) + 1
    data = original[:at] + insert + original[at + remove :]

    try:
        counter = counted(data, UNLIMITED, piece_bytes, chunk)
        outcome: tuple[int, int] | str = (counter.values, counter.depth)
    except json.JSONDecodeError as refused:
        outcome = refused.msg
    try:
        read: int | None = reference_of_text(data)
    except (ValueError, RecursionError):  # not JSON, or not UTF-8
        read = None

    if read is not None:
        reasons = yajl_refuses(data)
        assert outcome in reasons if reasons else outcome == (read, 0)
    else:
        lenient = before_an_unclosed_string(data)
        refused = NUMBER_TOO_BIG if overflows_first(data) else NOT_JSON
        assert outcome == (refused if lenient is None else (lenient, 0))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 12),
    st.lists(st.integers(0, 12), min_size=1, max_size=300),
    st.integers(1, 64),
    st.integers(1, 200),
)
def test_many_small_nests_at_a_depth_are_refused_exactly_past_the_limit(
    base: int, nests: list[int], piece_bytes: int, chunk: int
) -> None:
    # Many lists each holding a few levels of empty lists, inside `base` levels: the shapes whose
    # depth is bounded by dropping empty pairs, or followed bracket by bracket past a few passes.
    items = b",".join(b"[" * nest + b"]" * nest if nest else b"0" for nest in nests)
    data = b"[" * base + items + b"]" * base
    depth = base + max(nests)

    assert counted(data, UNLIMITED, piece_bytes, chunk, most_depth=depth).depth == 0
    assert refusal(data, UNLIMITED, piece_bytes, chunk, most_depth=depth - 1) == NESTED_TOO_DEEPLY


@pytest.mark.parametrize("piece_bytes", [64, 2 << 10, 16 << 10])
def test_a_depth_past_the_recursion_limit_across_pieces_is_refused_and_one_at_it_is_counted(piece_bytes: int) -> None:
    # Given 1,000 empty lists at one level short of the limit, then one list that reaches it
    limit = sys.getrecursionlimit()
    empties = b"[]," * 1_000
    at_limit = b"[" * (limit - 1) + empties + b"[]" + b"]" * (limit - 1)
    # ... and the same with its last list holding one more: the deepest point, in the last piece.
    past_limit = b"[" * (limit - 1) + empties + b"[[]]" + b"]" * (limit - 1)

    counter = counted(at_limit, UNLIMITED, piece_bytes, 65_536)

    assert (counter.values, counter.depth) == (limit - 1 + 1_001, 0)
    assert refusal(past_limit, UNLIMITED, piece_bytes, 65_536) == NESTED_TOO_DEEPLY


def test_a_body_fed_whole_is_parsed_from_the_data_itself_and_only_its_rest_kept() -> None:
    # Given a body fed in one chunk: its whole pieces are parsed where they are
    counter = ValueCounter(UNLIMITED, piece_bytes=8)
    counter.feed(b"[1,2,3,4,5,6,7,8,9,10")  # 21 bytes: two pieces of 8, and 5 bytes kept
    kept = bytes(counter.pending)
    counter.feed(b",11]")  # then what follows is added to what was kept

    counter.close()

    assert (kept, counter.values, counter.depth, bytes(counter.pending)) == (b",9,10", 12, 0, b"")


def test_text_that_is_not_json_is_refused_as_such_whatever_the_pieces() -> None:
    for piece_bytes in (1, 3, 64):
        assert refusal(b'[[],[],{"a":]' + b"[]," * 40, UNLIMITED, piece_bytes, 7) == NOT_JSON
        assert refusal(b"[" * 10 + b"]" * 11, UNLIMITED, piece_bytes, 7) == NOT_JSON


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b'{"a": [1, 2, 12345678901234567890]}', NUMBER_TOO_BIG),
        (b'{"a": [1, -9223372036854775809]}', NUMBER_TOO_BIG),
        (b'{"a": [1.5, 1e400]}', NUMBER_TOO_BIG),
        (b'{"a": ["x", "\\udc00"]}', LONE_SURROGATE),
        (b'{"a": ["x", "\\ud800\\udc00", "\\udfff"]}', LONE_SURROGATE),
        (b'{"a": [1, NaN]}', NOT_JSON),
    ],
    ids=["20 digits", "past -2**63", "1e400", "lone low surrogate", "low surrogate after a pair", "NaN"],
)
def test_what_json_loads_reads_and_yajl_does_not_is_refused_for_what_it_is(text: bytes, reason: str) -> None:
    json.loads(text)  # JSON to Python, which the counter cannot follow
    for piece_bytes in (1, 5, 64):
        assert refusal(text, UNLIMITED, piece_bytes, 7) == reason
    # Within yajl's reach, the same text is counted.
    assert counted(b'{"a": [1, 9223372036854775807, 1e300, "\\ud800\\udc00"]}', UNLIMITED, 5, 7).values == 6


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 64])
def test_a_byte_order_mark_is_read_as_the_body_decoder_reads_it_in_any_first_chunks(chunk: int) -> None:
    # Given the same JSON with and without UTF-8's byte-order mark, which a body may start with
    text = b'{"query": "{ me { id } }", "variables": {"tags": ["a", "b", "c"]}}'
    with_mark = b"\xef\xbb\xbf" + text

    counter = counted(with_mark, UNLIMITED, 8, chunk)

    assert (counter.values, counter.depth) == (reference_of_text(text), 0) == (7, 0)
    assert refusal(with_mark, 6, 8, chunk) == TOO_MANY_VALUES  # counted, not given up on
    assert refusal(b"\xef\xbb", UNLIMITED, 8, chunk) == NOT_JSON  # a mark's start alone is no JSON
    assert refusal(b"\xef\xbb\xbf\xef\xbb\xbf[]", UNLIMITED, 8, chunk) == NOT_JSON  # one mark at most
