"""Class 3: errors that were not answers. Malformed requests used to answer HTTP 500 with a
traceback in the log, or drop the WebSocket (1006). Each now gets a GraphQL response or a close code
with a reason saying what is wrong; nothing is logged as an error, nothing is kept, and an ordinary
client is answered meanwhile.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tests.client import User, operation
from tests.probes.conftest import (
    Attacker,
    Bystander,
    Kept,
    acknowledged,
    closed,
    encoded,
    http_answer,
    receive,
    send,
    websocket,
)

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.timeout(120)

JSON = "application/json"
#: Where an unexpected exception of a request is logged: uvicorn's "Exception in ASGI application",
#: Strawberry's WebSocket tasks, and DocStore's masked GraphQL errors.
REQUEST_LOGGERS = ("uvicorn", "starlette", "strawberry", "docstore.graphql")
DEEP = "[" * 100_000 + "]" * 100_000
#: A few kilobytes, far under the token limit, nested past graphql-core's 200 levels.
NESTED_FIELDS = "query Nested { " + "me { " * 300 + "id" + " }" * 300 + " }"
NESTED_LIST = '{ search(query: "x", first: ' + "[" * 300 + "1" + "]" * 300 + ") { __typename } }"


def refusal(message: str) -> tuple[int, str, Any]:
    return 400, JSON, {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}


def http(body: bytes) -> Callable[[Attacker, User], Any]:
    def probe(attacker: Attacker, user: User) -> Any:
        return http_answer(attacker.post(body, token=user.token))

    return probe


def frame(text: str) -> Callable[[Attacker, User], Any]:
    """Send ``text`` as one frame on an acknowledged socket: how the server closed it."""

    def probe(attacker: Attacker, user: User) -> Any:
        with websocket(attacker.url) as connection:
            acknowledged(connection, user)
            connection.send(text)
            return closed(connection)

    return probe


def subscribe(query: str) -> Callable[[Attacker, User], Any]:
    """A subscribe of ``query`` that cannot run: the ``error`` message, and the socket serves on."""

    def probe(attacker: Attacker, user: User) -> Any:
        with websocket(attacker.url) as connection:
            acknowledged(connection, user)
            send(connection, {"id": "1", "type": "subscribe", "payload": {"query": query}})
            answer = receive(connection)
            send(connection, {"type": "ping"})
            return answer, receive(connection)

    return probe


def syntax_error(message: str, column: int) -> dict[str, Any]:
    return {"message": f"Syntax Error: {message}", "locations": [{"line": 1, "column": column}]}


def nested_too_deeply(text: str) -> dict[str, Any]:
    """graphql-core's syntax error, at the bracket that opens a 201st level."""
    depth = 0
    for offset, character in enumerate(text):
        depth += {"{": 1, "[": 1, "}": -1, "]": -1}.get(character, 0)
        if depth > 200:
            return syntax_error("Document is nested too deeply. Parsing aborted.", offset + 1)
    raise AssertionError("not nested past 200 levels")


@dataclass(frozen=True)
class Shape:
    send: Callable[[Attacker, User], Any]
    expected: Any


SHAPES = {
    "body null": Shape(http(b"null"), refusal('Expected a JSON object such as {"query": "{ me { id } }"}, got null.')),
    'body "x"': Shape(
        http(b'"x"'), refusal('Expected a JSON object such as {"query": "{ me { id } }"}, got a string.')
    ),
    "body not UTF-8": Shape(http(b'{"query": "\xff{ __typename }"}'), refusal("The request is not UTF-8 text.")),
    "body nested 100,000 deep": Shape(http(DEEP.encode()), refusal("The request's JSON is nested too deeply.")),
    "query nested 100,000 deep": Shape(
        http(b'{"query": ' + DEEP.encode() + b"}"), refusal("The request's JSON is nested too deeply.")
    ),
    "a number of 5,000 digits": Shape(
        http(b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5_000 + b"}}"),
        refusal("The request's JSON has a number of more than 4,300 digits."),
    ),
    "a lone surrogate in a password": Shape(
        http(
            encoded(
                {
                    "query": operation("SignIn"),
                    "variables": {"input": {"email": "someone@example.com", "password": "a long \ud800 password"}},
                }
            )
        ),
        refusal("The request's JSON has a \\uD800 to \\uDFFF escape without its pair: that is not text."),
    ),
    "operationName an object": Shape(
        http(encoded({"query": "{ __typename }", "operationName": {"name": "x"}})),
        refusal("operationName must be a string or null, not an object."),
    ),
    "an unknown fragment": Shape(
        http(encoded({"query": "{ ...Nope }"})),
        (
            200,
            JSON,
            {
                "data": None,
                "errors": [{"message": "Unknown fragment 'Nope'.", "locations": [{"line": 1, "column": 6}]}],
            },
        ),
    ),
    "a query nested 300 deep": Shape(
        http(encoded({"query": NESTED_FIELDS})),
        (200, JSON, {"data": None, "errors": [nested_too_deeply(NESTED_FIELDS)]}),
    ),
    "a list value nested 300 deep": Shape(
        http(encoded({"query": NESTED_LIST})),
        (200, JSON, {"data": None, "errors": [nested_too_deeply(NESTED_LIST)]}),
    ),
    "subscribe that does not parse": Shape(
        subscribe("subscription { quotaEvents {"),
        (
            {"id": "1", "type": "error", "payload": [syntax_error("Expected Name, found <EOF>.", 29)]},
            {"type": "pong"},
        ),
    ),
    "subscribe nested 300 deep": Shape(
        subscribe(NESTED_FIELDS),
        (
            {
                "id": "1",
                "type": "error",
                "payload": [nested_too_deeply(NESTED_FIELDS)],
            },
            {"type": "pong"},
        ),
    ),
    "frame not JSON": Shape(frame('{"type": "subscribe", "id": "1"'), (4400, "WebSocket message must be valid JSON")),
    "frame a JSON list": Shape(frame("[]"), (4400, "A message is a JSON object, not a list.")),
    "subscribe with a string payload": Shape(
        frame(json.dumps({"id": "1", "type": "subscribe", "payload": "subscription { quotaEvents { id } }"})),
        (4400, "A subscribe message's payload is an object, not a string."),
    ),
    "subscribe with a list id": Shape(
        frame(json.dumps({"id": ["1"], "type": "subscribe", "payload": {"query": "{ __typename }"}})),
        (4400, "A subscribe message's id is a non-empty string, not a list."),
    ),
    "frame of 40,000 empty lists": Shape(
        frame(json.dumps({"type": "ping", "payload": {"lists": [[]] * 40_000}})),
        (4400, "WebSocket message must be valid JSON"),
    ),
    "frame with a number of 5,000 digits": Shape(
        frame('{"type": "ping", "payload": {"n": ' + "9" * 5_000 + "}}"), (4400, "WebSocket message must be valid JSON")
    ),
    "subscribe with a lone surrogate": Shape(
        frame(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": '{ __type(name: "\ud800") { name } }'}})
        ),
        (4400, "WebSocket message must be valid JSON"),
    ),
    "frame nested 100,000 deep": Shape(
        frame('{"type": "subscribe", "id": "1", "payload": ' + DEEP + "}"),
        (4400, "WebSocket message must be valid JSON"),
    ),
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_malformed_request_is_answered_with_what_is_wrong(
    shape: Shape,
    attacker: Attacker,
    prober: User,
    bystander: Bystander,
    kept: Kept,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = kept.snapshot()

    with caplog.at_level(logging.ERROR):
        probe = bystander.beside(lambda: shape.send(attacker, prober))

    assert probe.answers == [shape.expected]
    assert [record.getMessage() for record in caplog.records if record.name.startswith(REQUEST_LOGGERS)] == []
    assert kept.settled(before) == before
