"""Class 1: one small request, sent by anyone, that held the event loop and stalled everyone.

Each is refused with ``LIMIT_EXCEEDED`` naming its setting (a head too large with 431 before the
application sees it), in about the time of an ordinary request, while ordinary requests go on
being answered in their usual time; nothing of it is cached or stored. A head just under the limits
is served.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.client import User, operation
from tests.probes.conftest import CALL_SECONDS, STALL_ROUNDS, Attacker, Bystander, Kept, encoded

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.timeout(120)

#: Fragments each spreading the next twice: a few hundred bytes that expand to 2**30 fields.
LEVELS = 30
BOMB = (
    "query Bomb { ...F0 } "
    + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(LEVELS))
    + f" fragment F{LEVELS} on Query {{ __typename }}"
)
#: 990 KB of string literal: under the 1 MB body limit, far over the 32 KB query limit.
LONG = 'query Long { search(query: "' + "a" * 990_000 + '") { __typename } }'
HEADER_BYTES = 64 << 20
NESTED = 'query Deep { __type(name: "Query") { ' + "ofType { " * 30 + "name" + " }" * 30 + " } }"


#: The refusal of a body holding more JSON values than any operation may take, before it is decoded.
TOO_MANY_VALUES = (
    "The request's JSON holds more than 31,103 values, more than any operation may take "
    "(DOCSTORE_MAX_VARIABLE_VALUES, and 3 a file of DOCSTORE_COMPARE_MAX_FILES)."
)


def limit(message: str, setting: str, allowed: int) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": "LIMIT_EXCEEDED", "limit": setting, "allowed": allowed}}


@dataclass(frozen=True)
class Shape:
    """One stalling request: what the probe sends (for ``user``), and the answer it must get."""

    send: Callable[[Attacker, User], Any]
    expected: Any


def graphql(body: dict[str, Any], signed_in: bool = False) -> Callable[[Attacker, User], Any]:
    payload = encoded(body)  # built once, before the probe: making it is the client's time, not the server's

    def send(attacker: Attacker, user: User) -> Any:
        response = attacker.post(payload, token=user.token if signed_in else None)
        return response.status_code, response.json()

    return send


def refused(*errors: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 200, {"data": None, "errors": list(errors)}


def head(*headers: bytes) -> bytes:
    """A POST of ``{ __typename }`` with ``headers`` besides its own."""
    body = b'{"query":"{ __typename }"}'
    own = b"host: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" % len(body)
    return b"POST /graphql HTTP/1.1\r\n" + own + b"".join(headers) + b"\r\n" + body


HEAD_REFUSAL = (
    b"Request header fields too large: at most 16,384 bytes and 100 headers "
    b"(DOCSTORE_MAX_HEADER_BYTES, DOCSTORE_MAX_HEADERS)."
)
REFUSED_HEAD = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\n"
    b"connection: close\r\n\r\n" % len(HEAD_REFUSAL) + HEAD_REFUSAL
)


def raw(request: bytes) -> Callable[[Attacker, User], bytes]:
    def send(attacker: Attacker, user: User) -> bytes:
        return raw_answer(attacker.url, request)

    return send


def raw_answer(url: str, request: bytes) -> bytes:
    """``request`` streamed on a connection of its own, as a client sends it; the server's whole
    answer (after a refusal it ends the connection's sending side at once)."""
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=CALL_SECONDS) as conn:

        def stream() -> None:
            with contextlib.suppress(OSError):  # the server answers and stops reading before the end
                conn.sendall(request)

        sending = threading.Thread(target=stream, name="raw request", daemon=True)
        sending.start()
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        conn.shutdown(socket.SHUT_RDWR)  # what is left unsent stays so
        sending.join(CALL_SECONDS)
        return answer


SHAPES = {
    "exponential fragment spreads": Shape(
        graphql({"query": BOMB}),
        refused(
            limit(
                "This operation has 1,073,741,824 fields (fragments expanded); at most 500 are allowed "
                "(DOCSTORE_MAX_QUERY_FIELDS).",
                "DOCSTORE_MAX_QUERY_FIELDS",
                500,
            ),
            limit(
                "This operation has 1,073,741,824 fields times list sizes; at most 10,000 are allowed "
                "(DOCSTORE_MAX_QUERY_COST).",
                "DOCSTORE_MAX_QUERY_COST",
                10_000,
            ),
            limit(
                "This operation has 1,073,741,824 fields under one response name in one selection; at most "
                "10 are allowed (DOCSTORE_MAX_QUERY_REPEATS).",
                "DOCSTORE_MAX_QUERY_REPEATS",
                10,
            ),
        ),
    ),
    "a list variable of 250,000": Shape(
        graphql(
            {
                "query": operation("RequestUpload"),
                "variables": {
                    "input": {"filename": "a.txt", "contentType": "text/plain", "size": 1, "tags": [""] * 250_000}
                },
            },
            signed_in=True,
        ),
        (400, {"errors": [{"message": TOO_MANY_VALUES, "extensions": {"code": "BAD_REQUEST"}}]}),
    ),
    "a list variable of 1,001": Shape(
        graphql(
            {
                "query": operation("RequestUpload"),
                "variables": {
                    "input": {"filename": "a.txt", "contentType": "text/plain", "size": 1, "tags": [""] * 1_001}
                },
            },
            signed_in=True,
        ),
        refused(
            limit(
                "This operation has more than 1,000 values in its variables; at most 1,000 are allowed "
                "(DOCSTORE_MAX_VARIABLE_VALUES).",
                "DOCSTORE_MAX_VARIABLE_VALUES",
                1_000,
            )
        ),
    ),
    "thousands of fields": Shape(
        graphql({"query": "query Fields { " + " ".join("me { id }" for _ in range(1_200)) + " }"}),
        refused(
            limit(
                "This operation has more than 2,000 tokens; at most 2,000 are allowed (DOCSTORE_MAX_QUERY_TOKENS).",
                "DOCSTORE_MAX_QUERY_TOKENS",
                2_000,
            )
        ),
    ),
    "hundreds of fields": Shape(
        graphql({"query": "query Fields { " + " ".join("me { id }" for _ in range(450)) + " }"}),
        refused(
            limit(
                "This operation has 900 fields (fragments expanded); at most 500 are allowed "
                "(DOCSTORE_MAX_QUERY_FIELDS).",
                "DOCSTORE_MAX_QUERY_FIELDS",
                500,
            ),
            limit(
                "This operation has 450 fields under one response name in one selection; at most 10 are "
                "allowed (DOCSTORE_MAX_QUERY_REPEATS).",
                "DOCSTORE_MAX_QUERY_REPEATS",
                10,
            ),
        ),
    ),
    "thousands of aliases": Shape(
        graphql({"query": "query Aliases { " + " ".join(f"a{i}:__typename" for i in range(1_500)) + " }"}),
        refused(
            limit(
                "This operation has more than 2,000 tokens; at most 2,000 are allowed (DOCSTORE_MAX_QUERY_TOKENS).",
                "DOCSTORE_MAX_QUERY_TOKENS",
                2_000,
            )
        ),
    ),
    "a hundred aliases": Shape(
        graphql({"query": "query Aliases { " + " ".join(f"a{i}:__typename" for i in range(100)) + " }"}),
        refused(
            limit(
                "This operation has 100 aliases (fragments expanded); at most 30 are allowed "
                "(DOCSTORE_MAX_QUERY_ALIASES).",
                "DOCSTORE_MAX_QUERY_ALIASES",
                30,
            )
        ),
    ),
    "a string literal of 990 KB": Shape(
        graphql({"query": LONG}),
        refused(
            limit(
                f"This operation has {len(LONG):,} bytes of query text; at most 32,768 are allowed "
                "(DOCSTORE_MAX_QUERY_BYTES).",
                "DOCSTORE_MAX_QUERY_BYTES",
                32_768,
            )
        ),
    ),
    "fields nested 32 deep": Shape(
        graphql({"query": NESTED}),
        refused(
            limit(
                "This operation has 32 levels of nested fields; at most 20 are allowed (DOCSTORE_MAX_QUERY_DEPTH).",
                "DOCSTORE_MAX_QUERY_DEPTH",
                20,
            )
        ),
    ),
    "a body of 1,300,000 empty lists (3.9 MB)": Shape(
        graphql({"query": "query Lists { __typename }", "variables": {"lists": [[]] * 1_300_000}}),
        (400, {"errors": [{"message": TOO_MANY_VALUES, "extensions": {"code": "BAD_REQUEST"}}]}),
    ),
    "an Authorization header of 64 MB": Shape(
        raw(head(b"authorization: Bearer " + b"a" * HEADER_BYTES + b"\r\n")), REFUSED_HEAD
    ),
    "101 headers": Shape(raw(head(*(b"x-h%d: 1\r\n" % number for number in range(101)))), REFUSED_HEAD),
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_small_request_that_stalled_everyone_is_refused_at_once(
    shape: Shape, attacker: Attacker, prober: User, bystander: Bystander, kept: Kept
) -> None:
    before = kept.snapshot()

    probe = bystander.beside(lambda: shape.send(attacker, prober), times=STALL_ROUNDS)

    assert probe.answers == [shape.expected] * STALL_ROUNDS
    assert kept.settled(before) == before
    probe.assert_answered_at_once()
    probe.assert_others_unhindered()


def test_a_head_just_under_the_limits_is_served(attacker: Attacker) -> None:
    attacker.post(encoded({"query": "{ __typename }"}))
    # 100 headers, 16,049 bytes: the limits are 100 headers and 16,384 bytes.
    near = head(
        b"connection: close\r\n",
        b"x-padding: " + b"a" * 15_000 + b"\r\n",
        *(b"x-h%d: 1\r\n" % number for number in range(95)),
    )

    answer = raw_answer(attacker.url, near)

    assert answer.split(b"\r\n")[0] == b"HTTP/1.1 200 OK"
    assert answer.endswith(b'{"data":{"__typename":"Query"}}')
