"""Each kind of oversized request, sent to a real uvicorn: refused with an answer that names the
limit, nothing of it kept in the operation cache, and an ordinary request sent at the same time
still answered."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from resolvers.limits import cache_for
from tests.client import Api, User, operation

if TYPE_CHECKING:
    from collections.abc import Callable

    from settings import Settings


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    content = json.dumps(body, separators=(",", ":")).encode()
    return httpx.post(f"{url}/graphql", content=content, headers={"content-type": "application/json"}, timeout=60)


def limits_named(response: httpx.Response) -> list[tuple[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    return [(error["extensions"]["code"], error["extensions"]["limit"]) for error in body["errors"]]


@pytest.fixture
def attacked(api: Api, user: User, settings: Settings) -> Callable[[Callable[[], Any]], Any]:
    """Runs an attack while an ordinary client asks ``Me``; checks that the client was answered and
    that the operation cache is as it was; the attack's result."""
    api.data("Me", token=user.token)  # Me is cached before the count starts
    cache = cache_for(settings)

    def run(attack: Callable[[], Any]) -> Any:
        before = (cache.entries, cache.bytes)
        with ThreadPoolExecutor(max_workers=2) as pool:
            attacking = pool.submit(attack)
            ordinary = pool.submit(api.data, "Me", None, user.token)
            assert ordinary.result(timeout=120)["me"]["email"] == user.email
            result = attacking.result(timeout=120)
        assert (cache.entries, cache.bytes) == before
        return result

    return run


def test_exponential_fragment_spreads_are_refused_by_the_field_limit(live_url: str, attacked) -> None:
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30))
    query = f"query Bomb {{ ...F0 }} {fragments} fragment F30 on Query {{ __typename }}"

    response = attacked(lambda: post(live_url, {"query": query}))

    assert limits_named(response) == [
        ("LIMIT_EXCEEDED", "DOCSTORE_MAX_QUERY_FIELDS"),
        ("LIMIT_EXCEEDED", "DOCSTORE_MAX_QUERY_COST"),
        ("LIMIT_EXCEEDED", "DOCSTORE_MAX_QUERY_REPEATS"),
    ]
    assert response.json()["errors"][0]["message"] == (
        "This operation has 1,073,741,824 fields (fragments expanded); at most 500 are allowed "
        "(DOCSTORE_MAX_QUERY_FIELDS)."
    )


def test_a_list_variable_of_a_quarter_million_is_refused_by_the_variables_limit(
    live_url: str, attacked, user: User
) -> None:
    variables = {"input": {"id": "01J0000000000000000000000", "tags": [""] * 250_000}}

    response = attacked(lambda: post(live_url, {"query": operation("UpdateDocument"), "variables": variables}))

    assert limits_named(response) == [("LIMIT_EXCEEDED", "DOCSTORE_MAX_VARIABLE_VALUES")]


def test_thousands_of_aliases_are_refused_by_the_token_limit_and_dozens_by_the_alias_limit(
    live_url: str, attacked
) -> None:
    thousands = "query Aliases { " + " ".join(f"a{i}:__typename" for i in range(1_500)) + " }"
    dozens = "query Aliases { " + " ".join(f"a{i}:__typename" for i in range(100)) + " }"

    assert limits_named(attacked(lambda: post(live_url, {"query": thousands}))) == [
        ("LIMIT_EXCEEDED", "DOCSTORE_MAX_QUERY_TOKENS")
    ]
    assert limits_named(attacked(lambda: post(live_url, {"query": dozens}))) == [
        ("LIMIT_EXCEEDED", "DOCSTORE_MAX_QUERY_ALIASES")
    ]


def test_hundreds_of_fields_are_refused_by_the_field_limit(live_url: str, attacked) -> None:
    # 450 times `me { id }`: 900 fields in 1,800 tokens, which graphql-core would compare pairwise.
    query = "query Fields { " + " ".join("me { id }" for _ in range(450)) + " }"

    response = attacked(lambda: post(live_url, {"query": query}))

    assert limits_named(response) == [
        ("LIMIT_EXCEEDED", "DOCSTORE_MAX_QUERY_FIELDS"),
        ("LIMIT_EXCEEDED", "DOCSTORE_MAX_QUERY_REPEATS"),
    ]


def test_deep_nesting_is_refused_by_the_depth_limit(live_url: str, attacked) -> None:
    inner = "name"
    for _ in range(30):
        inner = f"ofType {{ {inner} }}"

    response = attacked(lambda: post(live_url, {"query": f'query Deep {{ __type(name: "Query") {{ {inner} }} }}'}))

    assert limits_named(response) == [("LIMIT_EXCEEDED", "DOCSTORE_MAX_QUERY_DEPTH")]
    assert "This operation has 32 levels of nested fields; at most 20" in response.json()["errors"][0]["message"]


def test_a_string_literal_of_a_megabyte_is_refused_by_the_query_size_limit(live_url: str, attacked) -> None:
    query = 'query Long { search(query: "' + "a" * 990_000 + '") { __typename } }'

    response = attacked(lambda: post(live_url, {"query": query}))

    assert limits_named(response) == [("LIMIT_EXCEEDED", "DOCSTORE_MAX_QUERY_BYTES")]


def raw_request(url: str, head: bytes) -> bytes:
    """Send ``head`` and a small body on a socket of its own; what the server answered."""
    where = urlsplit(url)
    body = b'{"query":"{ __typename }"}'
    request = (
        b"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        + head
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    with socket.create_connection((where.hostname, where.port), timeout=60) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        return answer


def test_a_header_of_eight_megabytes_is_refused_with_431(live_url: str, attacked) -> None:
    answer = attacked(lambda: raw_request(live_url, b"authorization: Bearer " + b"a" * (8 << 20) + b"\r\n"))

    head, _, text = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert text == (
        b"Request header fields too large: at most 16,384 bytes and 100 headers "
        b"(DOCSTORE_MAX_HEADER_BYTES, DOCSTORE_MAX_HEADERS)."
    )


def test_many_headers_are_refused_with_431_and_a_full_head_under_the_limit_is_served(live_url: str, attacked) -> None:
    many = b"".join(b"x-h%d: 1\r\n" % number for number in range(101))
    near = b"x-padding: " + b"a" * 15_000 + b"\r\n"
    post(live_url, {"query": "{ __typename }"})  # the served request's operation is cached before the count

    refused = attacked(lambda: raw_request(live_url, many))
    served = attacked(lambda: raw_request(live_url, near))

    assert refused.split(b"\r\n")[0] == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert served.split(b"\r\n")[0] == b"HTTP/1.1 200 OK"
    assert served.endswith(b'{"data":{"__typename":"Query"}}')


def test_a_websocket_message_over_the_request_limit_closes_the_socket_with_1009(
    live_url: str, attacked, user: User
) -> None:
    def attack() -> tuple[int | None, list[Any]]:
        received: list[Any] = []
        with connect(live_url.replace("http", "ws", 1) + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}}))
            received.append(json.loads(ws.recv(timeout=30)))
            padding = "a" * 2_000_000
            query = (
                "subscription Big { quotaEvents { __typename } } "
                f'query Pad {{ search(query: "{padding}") {{ __typename }} }}'
            )
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "operationName": "Big"}}))
            try:
                while True:
                    received.append(json.loads(ws.recv(timeout=30)))
            except ConnectionClosed as closed:
                return (closed.rcvd.code if closed.rcvd else None), received

    code, received = attacked(attack)

    assert code == 1009
    assert received == [{"type": "connection_ack"}]
