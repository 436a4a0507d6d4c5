"""Class 4: GraphQL over HTTP as its specification says. A mutation over GET, a document of two
operations without ``operationName``, a method /graphql does not serve and a request error under
``application/graphql-response+json`` are each refused with the status and JSON body the
specification gives, and the mutation they carry does not run: no document, no reserved bytes, no
object, the session still live.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tests.client import User, operation
from tests.probes.conftest import Attacker, Bystander, Kept

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

pytestmark = pytest.mark.timeout(120)

GQL = "application/graphql-response+json"
JSON = "application/json"
UPLOAD = {"input": {"filename": "a.txt", "contentType": "text/plain", "size": 1}}
#: The mutation first: Strawberry used to run the first operation of a document.
TWO_OPERATIONS = operation("RequestUpload") + " query First { __typename }"
TWO_OPERATIONS_ERROR = {
    "message": "This document has 2 operations (RequestUpload, First): say which one to run in operationName."
}


def answer(response: httpx.Response) -> tuple[int, str, str | None, Any]:
    """Status, media type, ``Allow`` header and JSON body."""
    return (
        response.status_code,
        response.headers["content-type"],
        response.headers.get("allow"),
        response.json(),
    )


def refusal(status: int, media_type: str, message: str, code: str, allow: str | None = None) -> Any:
    return status, media_type, allow, {"errors": [{"message": message, "extensions": {"code": code}}]}


def request(method: str, accept: str, **options: Any) -> Callable[[Attacker, User], Any]:
    def probe(attacker: Attacker, user: User) -> Any:
        headers = {"accept": accept, "authorization": f"Bearer {user.token}"}
        return answer(attacker.http.request(method, "/graphql", headers=headers, **options))

    return probe


@dataclass(frozen=True)
class Shape:
    send: Callable[[Attacker, User], Any]
    expected: Any
    #: A request that parses and validates the probe's document, running nothing harmful: a valid
    #: document is cached however it came (the cache's bound is class 2's), before the snapshot.
    warm: dict[str, Any] | None = None


SHAPES = {
    "a mutation over GET": Shape(
        request("GET", GQL, params={"query": operation("RequestUpload"), "variables": json.dumps(UPLOAD)}),
        refusal(405, GQL, "Mutations are sent with POST; GET runs queries only.", "METHOD_NOT_ALLOWED", "GET, POST"),
    ),
    "two operations without operationName, graphql-response+json": Shape(
        request("POST", GQL, json={"query": TWO_OPERATIONS, "variables": UPLOAD}),
        (400, GQL, None, {"errors": [TWO_OPERATIONS_ERROR]}),
        warm={"query": TWO_OPERATIONS, "operationName": "First"},
    ),
    "two operations without operationName, application/json": Shape(
        request("POST", JSON, json={"query": TWO_OPERATIONS, "variables": UPLOAD}),
        (200, JSON, None, {"data": None, "errors": [TWO_OPERATIONS_ERROR]}),
        warm={"query": TWO_OPERATIONS, "operationName": "First"},
    ),
    "a mutation with PUT": Shape(
        request("PUT", JSON, json={"query": operation("RequestUpload"), "variables": UPLOAD}),
        refusal(405, JSON, "GraphQL only supports GET and POST requests.", "METHOD_NOT_ALLOWED", "GET, POST"),
    ),
    "a request error under graphql-response+json": Shape(
        request("POST", GQL, json={"query": "mutation { requestUpload(input: {}) { __typename } }"}),
        (
            400,
            GQL,
            None,
            {
                "errors": [
                    {
                        "message": f"Expected value of type 'RequestUploadInput' to include required field '{name}', "
                        "found: {  }.",
                        "locations": [{"line": 1, "column": 33}],
                    }
                    for name in ("filename", "contentType", "size")
                ]
            },
        ),
    ),
    "no query": Shape(
        request("POST", GQL, json={"variables": UPLOAD}),
        refusal(400, GQL, "No GraphQL query found in the request", "BAD_REQUEST"),
    ),
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_request_the_specification_refuses_runs_nothing(
    shape: Shape, attacker: Attacker, prober: User, bystander: Bystander, kept: Kept
) -> None:
    if shape.warm is not None:
        assert attacker.http.post("/graphql", json=shape.warm).json() == {"data": {"__typename": "Query"}}
    before = kept.snapshot()

    probe = bystander.beside(lambda: shape.send(attacker, prober))

    assert probe.answers == [shape.expected]
    assert kept.settled(before) == before
