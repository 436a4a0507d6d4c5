"""GraphQL over HTTP against a real uvicorn: one test per rule of the graphql-http server audit
(graphql/graphql-http ``src/audits/server.ts``, named by its id), then the rules it does not
check: 405 for a mutation over GET, JSON refusals, malformed bodies, and choosing the operation."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import h11
import httpx
import pytest

from adapters import graphql_over_http
from adapters.graphql_over_http import NESTED_TOO_DEEPLY, TOO_MANY_VALUES, ValueCounter, check_values
from tests import plain_http
from tests.client import Api, User, operation

GQL = "application/graphql-response+json"
JSON = "application/json"
TYPENAME = {"data": {"__typename": "Query"}}
#: A field no schema has (the audit's name starts with a digit, which makes it a syntax error).
UNKNOWN_FIELD = "{ f8f31403dfe404bccbb0e835f2629c6a7 }"
UNKNOWN_FIELD_ERROR = {
    "message": "Cannot query field 'f8f31403dfe404bccbb0e835f2629c6a7' on type 'Query'.",
    "locations": [{"line": 1, "column": 3}],
}
SYNTAX_ERROR = {"message": "Syntax Error: Expected Name, found <EOF>.", "locations": [{"line": 1, "column": 2}]}
#: The audit's document declares $id without using it, which validation refuses before coercion;
#: this one uses its variable, so null for it is a coercion error.
COERCION = "query CoerceFailure($name: String!) { __type(name: $name) { name } }"
COERCION_ERROR = {
    "message": "Variable '$name' has invalid value: Expected value of non-null type 'String!' not to be None.",
    "locations": [{"line": 1, "column": 21}],
}
NOT_JSON = '{ "not a JSON'
NOT_JSON_ERROR = "The request is not valid JSON: unterminated string starting at (line 1, column 3)."
TYPE_QUERY = "query Type($name: String!) { __type(name: $name) { name } }"


def post(url: str, body: Any, accept: str | None = None, content_type: str | None = JSON) -> httpx.Response:
    headers = {"accept": accept} if accept else {}
    if content_type:
        headers["content-type"] = content_type
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return plain_http.post(f"{url}/graphql", content=content, headers=headers, timeout=30)


def get(url: str, params: dict[str, str], accept: str | None = None, **headers: str) -> httpx.Response:
    if accept:
        headers["accept"] = accept
    return plain_http.get(f"{url}/graphql", params=params, headers=headers, timeout=30)


def refused(response: httpx.Response) -> tuple[int, str, Any]:
    return response.status_code, response.headers["content-type"], response.json()


def refusal(message: str, code: str = "BAD_REQUEST") -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def answered(response: httpx.Response) -> tuple[int, str, Any]:
    return response.status_code, response.headers["content-type"], response.json()


def kind_of(value: Any) -> str:
    return {dict: "an object", int: "a number", bool: "a boolean", list: "a list", str: "a string"}[type(value)]


# Media types


def test_22EB_accepts_graphql_response_json_and_matches_the_content_type(live_url: str) -> None:
    assert answered(post(live_url, {"query": "{ __typename }"}, GQL)) == (200, GQL, TYPENAME)


def test_4655_accepts_application_json_and_matches_the_content_type(live_url: str) -> None:
    assert answered(post(live_url, {"query": "{ __typename }"}, JSON)) == (200, JSON, TYPENAME)


def test_47DE_accepts_any_media_type_with_application_json(live_url: str) -> None:
    assert answered(post(live_url, {"query": "{ __typename }"}, "*/*")) == (200, JSON, TYPENAME)


def test_80D8_assumes_application_json_when_accept_is_missing(live_url: str) -> None:
    response = plain_http.post(
        f"{live_url}/graphql",
        content=b'{"query":"{ __typename }"}',
        headers={"content-type": JSON, "accept": ""},
        timeout=30,
    )

    assert answered(response) == (200, JSON, TYPENAME)


def test_82A3_responds_in_utf_8(live_url: str) -> None:
    response = post(live_url, {"query": '{ __type(name: "Run🏃Swim🏊") { name } }'}, JSON)

    assert response.status_code == 200
    assert json.loads(response.content.decode("utf-8")) == {"data": {"__type": None}}


def test_BF61_accepts_a_utf_8_request(live_url: str) -> None:
    body = json.dumps({"query": '{ __type(name: "Run🏃Swim🏊") { name } }'}, ensure_ascii=False).encode()

    response = post(live_url, body, content_type="application/json; charset=utf-8")

    assert answered(response) == (200, JSON, {"data": {"__type": None}})


def test_78D5_assumes_utf_8_when_the_charset_is_unspecified(live_url: str) -> None:
    body = json.dumps({"query": '{ __type(name: "é") { name } }'}, ensure_ascii=False).encode()

    assert answered(post(live_url, body)) == (200, JSON, {"data": {"__type": None}})


# Requests


def test_2C94_accepts_post(live_url: str) -> None:
    assert answered(post(live_url, {"query": "{ __typename }"})) == (200, JSON, TYPENAME)


def test_5A70_accepts_url_encoded_get(live_url: str) -> None:
    assert answered(get(live_url, {"query": "{ __typename }"}, JSON)) == (200, JSON, TYPENAME)


def test_9C48_does_not_run_a_mutation_over_get(live_url: str, api: Api, user: User) -> None:
    response = get(live_url, {"query": operation("SignOut")}, GQL, authorization=f"Bearer {user.token}")

    assert refused(response) == (
        405,
        GQL,
        refusal("Mutations are sent with POST; GET runs queries only.", "METHOD_NOT_ALLOWED"),
    )
    assert response.headers["allow"] == "GET, POST"
    assert api.data("Me", token=user.token)["me"]["email"] == user.email  # still signed in


def test_9ABE_refuses_a_post_without_a_content_type(live_url: str) -> None:
    response = plain_http.post(f"{live_url}/graphql", timeout=30)

    assert refused(response) == (400, JSON, refusal("Unsupported content type"))


def test_03D4_accepts_application_json_posts(live_url: str) -> None:
    assert answered(post(live_url, {"query": "{ __typename }"}, content_type=JSON)) == (200, JSON, TYPENAME)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            b'{"n": 12345678901234567890',
            "The request's JSON has a number too big to read: an integer past 64 bits, or a number past "
            "1.8e308. No field takes one.",
        ),
        (
            b'{"n": 1e400',
            "The request's JSON has a number too big to read: an integer past 64 bits, or a number past "
            "1.8e308. No field takes one.",
        ),
        (b'{"s": "\\udc00"', "The request's JSON has a \\uD800 to \\uDFFF escape without its pair: that is not text."),
        (b'{"s": "\xed\xb0\x80"', "The request is not UTF-8 text."),
    ],
    ids=["20 digits", "1e400", "lone low surrogate escape", "surrogate bytes"],
)
def test_a_large_body_the_counter_cannot_read_is_refused_for_what_it_holds(
    live_url: str, variables: bytes, message: str
) -> None:
    # Large enough that its values are counted as it arrives: yajl stops at the number or the
    # escape, which json.loads reads (the answer was "The request is not valid JSON.").
    pad = b', "pad": "' + b"x" * 70_000 + b'"}'
    body = b'{"query": "{ __typename }", "variables": ' + variables + pad + b"}"

    assert refused(post(live_url, body)) == (400, JSON, refusal(message))


def test_a_large_body_starting_with_a_byte_order_mark_is_read_as_utf8(live_url: str) -> None:
    # Large enough that its values are counted as it arrives (the counter read the mark as not JSON)
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 70_000}}).encode()

    response = post(live_url, b"\xef\xbb\xbf" + body)

    assert answered(response) == (200, JSON, TYPENAME)


def test_A5BF_refuses_a_post_without_a_body_with_400(live_url: str) -> None:
    response = post(live_url, b"")

    assert refused(response) == (400, JSON, refusal("The request is not valid JSON: expecting value."))


# Request parameters


def test_423L_refuses_a_missing_query_with_400(live_url: str) -> None:
    response = post(live_url, {"notquery": "{ __typename }"}, GQL)

    assert refused(response) == (400, GQL, refusal("No GraphQL query found in the request"))


@pytest.mark.parametrize("invalid", [{"obj": "ect"}, 0, False, ["array"]], ids=["LKJ0", "LKJ1", "LKJ2", "LKJ3"])
def test_LKJ_refuses_a_query_that_is_not_a_string_with_400(live_url: str, invalid: Any) -> None:
    response = post(live_url, {"query": invalid})

    assert refused(response) == (
        400,
        JSON,
        refusal("The GraphQL operation's `query` must be a string or null, if provided."),
    )


def test_34A2_allows_a_string_query_under_graphql_response_json(live_url: str) -> None:
    assert answered(post(live_url, {"query": "{ __typename }"}, GQL)) == (200, GQL, TYPENAME)


def test_13EE_allows_a_string_query_under_application_json(live_url: str) -> None:
    assert answered(post(live_url, {"query": "{ __typename }"}, JSON)) == (200, JSON, TYPENAME)


@pytest.mark.parametrize("invalid", [{"obj": "ect"}, 0, False, ["array"]], ids=["6C00", "6C01", "6C02", "6C03"])
def test_6C0_refuses_an_operation_name_that_is_not_a_string_with_400(live_url: str, invalid: Any) -> None:
    response = post(live_url, {"operationName": invalid, "query": "{ __typename }"})

    assert refused(response) == (
        400,
        JSON,
        refusal(f"operationName must be a string or null, not {kind_of(invalid)}."),
    )


def test_8161_allows_a_string_operation_name_under_graphql_response_json(live_url: str) -> None:
    response = post(live_url, {"operationName": "Query", "query": "query Query { __typename }"}, GQL)

    assert answered(response) == (200, GQL, TYPENAME)


def test_B8B3_allows_a_string_operation_name_under_application_json(live_url: str) -> None:
    response = post(live_url, {"operationName": "Query", "query": "query Query { __typename }"}, JSON)

    assert answered(response) == (200, JSON, TYPENAME)


@pytest.mark.parametrize("parameter", ["variables", "operationName", "extensions"], ids=["94B0", "94B1", "94B2"])
def test_94B_allows_null_parameters_under_graphql_response_json(live_url: str, parameter: str) -> None:
    response = post(live_url, {"query": "{ __typename }", parameter: None}, GQL)

    assert answered(response) == (200, GQL, TYPENAME)


@pytest.mark.parametrize("parameter", ["variables", "operationName", "extensions"], ids=["0220", "0221", "0222"])
def test_022_allows_null_parameters_under_application_json(live_url: str, parameter: str) -> None:
    response = post(live_url, {"query": "{ __typename }", parameter: None}, JSON)

    assert answered(response) == (200, JSON, TYPENAME)


@pytest.mark.parametrize("invalid", ["string", 0, False, ["array"]], ids=["4760", "4761", "4762", "4763"])
def test_476_refuses_variables_that_are_not_a_map_with_400(live_url: str, invalid: Any) -> None:
    response = post(live_url, {"query": "{ __typename }", "variables": invalid})

    assert refused(response) == (
        400,
        JSON,
        refusal("The GraphQL operation's `variables` must be an object or null, if provided."),
    )


def test_2EA1_allows_map_variables_under_graphql_response_json(live_url: str) -> None:
    response = post(live_url, {"query": TYPE_QUERY, "variables": {"name": "sometype"}}, GQL)

    assert answered(response) == (200, GQL, {"data": {"__type": None}})


def test_28B9_allows_map_variables_under_application_json(live_url: str) -> None:
    response = post(live_url, {"query": TYPE_QUERY, "variables": {"name": "sometype"}}, JSON)

    assert answered(response) == (200, JSON, {"data": {"__type": None}})


def test_D6D5_allows_json_variables_in_a_get_under_graphql_response_json(live_url: str) -> None:
    response = get(live_url, {"query": TYPE_QUERY, "variables": '{"name": "sometype"}'}, GQL)

    assert answered(response) == (200, GQL, {"data": {"__type": None}})


def test_6A70_allows_json_variables_in_a_get_under_application_json(live_url: str) -> None:
    response = get(live_url, {"query": TYPE_QUERY, "variables": '{"name": "sometype"}'}, JSON)

    assert answered(response) == (200, JSON, {"data": {"__type": None}})


@pytest.mark.parametrize("invalid", ["string", 0, False, ["array"]], ids=["58B0", "58B1", "58B2", "58B3"])
def test_58B_refuses_extensions_that_are_not_a_map_with_400(live_url: str, invalid: Any) -> None:
    response = post(live_url, {"query": "{ __typename }", "extensions": invalid})

    assert refused(response) == (
        400,
        JSON,
        refusal("The GraphQL operation's `extensions` must be an object or null, if provided."),
    )


def test_428F_allows_map_extensions_under_graphql_response_json(live_url: str) -> None:
    response = post(live_url, {"query": "{ __typename }", "extensions": {"some": "value"}}, GQL)

    assert answered(response) == (200, GQL, TYPENAME)


def test_1B7A_allows_map_extensions_under_application_json(live_url: str) -> None:
    response = post(live_url, {"query": "{ __typename }", "extensions": {"some": "value"}}, JSON)

    assert answered(response) == (200, JSON, TYPENAME)


@pytest.mark.parametrize("accept", [JSON, GQL], ids=["B6DC application/json", "BCF8 graphql-response+json"])
def test_B6DC_BCF8_refuse_a_body_that_is_not_json_with_400(live_url: str, accept: str) -> None:
    assert refused(post(live_url, NOT_JSON, accept)) == (400, accept, refusal(NOT_JSON_ERROR))


@pytest.mark.parametrize("accept", [JSON, GQL], ids=["8764 application/json", "3E3A graphql-response+json"])
def test_8764_3E3A_refuse_invalid_parameters_with_400(live_url: str, accept: str) -> None:
    response = post(live_url, {"qeury": "{ __typename }"}, accept)

    assert refused(response) == (400, accept, refusal("No GraphQL query found in the request"))


# Responses in application/json: GraphQL's request errors are 200 with data null


def test_572B_answers_a_syntax_error_with_200_under_application_json(live_url: str) -> None:
    assert answered(post(live_url, {"query": "{"}, JSON)) == (200, JSON, {"data": None, "errors": [SYNTAX_ERROR]})


def test_FDE2_answers_a_validation_error_with_200_under_application_json(live_url: str) -> None:
    response = post(live_url, {"query": UNKNOWN_FIELD}, JSON)

    assert answered(response) == (200, JSON, {"data": None, "errors": [UNKNOWN_FIELD_ERROR]})


def test_7B9B_answers_a_variable_coercion_error_with_200_under_application_json(live_url: str) -> None:
    response = post(live_url, {"query": COERCION, "variables": {"name": None}}, JSON)

    assert answered(response) == (200, JSON, {"data": None, "errors": [COERCION_ERROR]})


# Responses in application/graphql-response+json: request errors are 400 with no data entry


@pytest.mark.parametrize("rule", ["865D", "556A", "D586"])
def test_865D_556A_D586_answer_a_syntax_error_with_400_and_no_data(live_url: str, rule: str) -> None:
    assert answered(post(live_url, {"query": "{"}, GQL)) == (400, GQL, {"errors": [SYNTAX_ERROR]})


@pytest.mark.parametrize("rule", ["51FE", "74FF", "5E5B"])
def test_51FE_74FF_5E5B_answer_a_validation_error_with_400_and_no_data(live_url: str, rule: str) -> None:
    assert answered(post(live_url, {"query": UNKNOWN_FIELD}, GQL)) == (400, GQL, {"errors": [UNKNOWN_FIELD_ERROR]})


def test_86EE_answers_a_variable_coercion_error_with_400(live_url: str) -> None:
    response = post(live_url, {"query": COERCION, "variables": {"name": None}}, GQL)

    assert answered(response) == (400, GQL, {"errors": [COERCION_ERROR]})


# Beyond the audit


def test_a_field_error_keeps_its_data_entry_and_200_under_graphql_response_json(live_url: str) -> None:
    response = post(live_url, {"query": "{ me { id } }"}, GQL)  # me is non-null: its error nulls data

    status, media_type, body = answered(response)
    assert (status, media_type, body["data"]) == (200, GQL, None)
    assert [(error["path"], error["extensions"]["code"]) for error in body["errors"]] == [(["me"], "UNAUTHENTICATED")]


def test_the_preferred_media_type_of_several_is_chosen(live_url: str) -> None:
    response = post(live_url, {"query": "{ __typename }"}, f"{GQL}, {JSON};q=0.9")

    assert answered(response) == (200, GQL, TYPENAME)


def test_a_limit_is_a_request_error_under_graphql_response_json(live_url: str) -> None:
    query = "query Aliases { " + " ".join(f"a{i}:__typename" for i in range(100)) + " }"

    status, media_type, body = answered(post(live_url, {"query": query}, GQL))

    assert (status, media_type, list(body)) == (400, GQL, ["errors"])
    assert [error["extensions"]["limit"] for error in body["errors"]] == ["DOCSTORE_MAX_QUERY_ALIASES"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"null", 'Expected a JSON object such as {"query": "{ me { id } }"}, got null.'),
        (b'"x"', 'Expected a JSON object such as {"query": "{ me { id } }"}, got a string.'),
        (b"12", 'Expected a JSON object such as {"query": "{ me { id } }"}, got a number.'),
        (b"[]", "Batching is not enabled"),
        (b'{"query": "\xff{ __typename }"}', "The request is not UTF-8 text."),
        (b"[" * 100_000 + b"]" * 100_000, "The request's JSON is nested too deeply."),
        (b'{"query": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "The request's JSON is nested too deeply."),
        (
            b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5_000 + b"}}",
            "The request's JSON has a number of more than 4,300 digits.",
        ),
        (
            b'{"query": "query In($i: SignInInput!) { signIn(input: $i) { __typename } }", '
            b'"variables": {"i": {"email": "a@example.com", "password": "a long \\ud800 password"}}}',
            "The request's JSON has a \\uD800 to \\uDFFF escape without its pair: that is not text.",
        ),
        (b'{"query": "{ __type(name: \\"\xed\xa0\x80\\") { name } }"}', "The request is not UTF-8 text."),
        ('{"query": "{ __typename }"}'.encode("utf-16"), "The request is not UTF-8 text."),
    ],
    ids=[
        "null",
        "string",
        "number",
        "list",
        "invalid UTF-8",
        "deep list",
        "deep query",
        "5,000 digits",
        "lone surrogate escape",
        "surrogate bytes",
        "UTF-16",
    ],
)
@pytest.mark.parametrize("accept", [JSON, GQL])
def test_a_malformed_body_is_refused_with_400_in_json(live_url: str, body: bytes, message: str, accept: str) -> None:
    assert refused(post(live_url, body, accept)) == (400, accept, refusal(message))


@pytest.mark.parametrize("variables", ["{", '"x"', "[" * 3_000], ids=["not JSON", "string", "deep"])
def test_malformed_get_variables_are_refused_with_400_in_json(live_url: str, variables: str) -> None:
    response = get(live_url, {"query": TYPE_QUERY, "variables": variables}, JSON)

    status, media_type, body = refused(response)
    assert (status, media_type, body["errors"][0]["extensions"]) == (400, JSON, {"code": "BAD_REQUEST"})
    assert "Python" not in body["errors"][0]["message"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_answer_405_in_json_with_allow(live_url: str, method: str) -> None:
    response = plain_http.request(method, f"{live_url}/graphql", json={"query": "{ __typename }"}, timeout=30)

    assert refused(response) == (
        405,
        JSON,
        refusal("GraphQL only supports GET and POST requests.", "METHOD_NOT_ALLOWED"),
    )
    assert response.headers["allow"] == "GET, POST"


def test_an_unknown_fragment_is_a_validation_error(live_url: str) -> None:
    response = post(live_url, {"query": "{ ...Nope }"}, GQL)

    assert answered(response) == (
        400,
        GQL,
        {"errors": [{"message": "Unknown fragment 'Nope'.", "locations": [{"line": 1, "column": 6}]}]},
    )


@pytest.mark.parametrize(("accept", "status"), [(JSON, 200), (GQL, 400)])
def test_two_operations_without_an_operation_name_run_neither(
    live_url: str, api: Api, user: User, accept: str, status: int
) -> None:
    document = "query First { __typename } " + operation("SignOut")
    headers = {"authorization": f"Bearer {user.token}", "accept": accept}

    response = plain_http.post(f"{live_url}/graphql", json={"query": document}, headers=headers, timeout=30)

    error = {"message": "This document has 2 operations (First, SignOut): say which one to run in operationName."}
    expected = {"data": None, "errors": [error]} if accept == JSON else {"errors": [error]}
    assert answered(response) == (status, accept, expected)
    assert api.data("Me", token=user.token)["me"]["email"] == user.email  # SignOut did not run


def test_the_named_operation_of_several_runs(live_url: str) -> None:
    document = "query First { first: __typename } query Second { second: __typename }"

    response = post(live_url, {"query": document, "operationName": "Second"}, GQL)

    assert answered(response) == (200, GQL, {"data": {"second": "Query"}})


@pytest.mark.parametrize(("accept", "status"), [(JSON, 200), (GQL, 400)])
def test_an_unknown_operation_name_is_a_request_error(live_url: str, accept: str, status: int) -> None:
    response = post(live_url, {"query": "query First { __typename }", "operationName": "Nope"}, accept)

    error = {"message": 'This document has no operation named "Nope".'}
    expected = {"data": None, "errors": [error]} if accept == JSON else {"errors": [error]}
    assert answered(response) == (status, accept, expected)


@pytest.mark.parametrize("accept", [JSON, GQL])
def test_a_chunked_body_over_the_limit_answers_413_in_json(live_url: str, accept: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "'
        for _ in range(41):
            yield b"x" * 100_000  # no Content-Length: the limit is met while the body is read
        yield b'"}'

    response = plain_http.post(
        f"{live_url}/graphql", content=chunks(), headers={"content-type": JSON, "accept": accept}, timeout=30
    )

    assert refused(response) == (
        413,
        accept,
        refusal("The request body is over the limit of 4,000,000 bytes.", "PAYLOAD_TOO_LARGE"),
    )


def test_json_is_counted_before_it_is_built_and_refused_past_what_any_operation_takes() -> None:
    # Few values, many commas and brackets in a string: counted exactly, and let through.
    check_values(json.dumps({"query": "x", "variables": {"s": ",[{" * 50}}), 10)
    # Too short to hold more than 10 values: not parsed at all (not even to find it is no JSON).
    check_values(b"[1,2,3,4,5,6,7,8,9,", 10)
    with pytest.raises(json.JSONDecodeError) as many:
        check_values(json.dumps([[]] * 11), 10)
    # Nested past the recursion limit (in a body over the bound: a string of commas first).
    levels = sys.getrecursionlimit()
    with pytest.raises(json.JSONDecodeError) as deep:
        check_values(b'["' + b"," * 3 * levels + b'",' + b"[" * levels + b"]" * levels + b"]", 2 * levels)
    with pytest.raises(json.JSONDecodeError) as broken:
        check_values(b"[NaN" + b",1" * 20, 10)

    assert (many.value.msg, deep.value.msg, broken.value.msg) == (
        TOO_MANY_VALUES,
        NESTED_TOO_DEEPLY,
        graphql_over_http.NOT_JSON,
    )
    check_values(json.dumps([[]] * 9), 10)


def test_json_fed_in_pieces_is_counted_as_it_arrives_and_refused_at_the_piece_past_the_limit() -> None:
    text = json.dumps({"query": "x", "variables": {"s": ",[{", "lists": [[]] * 4}}).encode()
    counter = ValueCounter(9, piece_bytes=1)
    for byte in text:  # one byte at a time: values split across pieces count once
        counter.feed(bytes([byte]))
    counter.close()
    assert (counter.values, counter.depth) == (9, 0)  # 3 objects, 5 lists, 1 string

    counter = ValueCounter(10, piece_bytes=3)
    counter.feed(b"[[],[],[],[],")
    counter.feed(b"[],[],[],[],[],")
    assert counter.values == 10
    with pytest.raises(json.JSONDecodeError) as many:
        counter.feed(b"[],")  # the 11th, with no end in sight
    truncated = ValueCounter(10)
    truncated.feed(b'{"query": "{ me { id } }"')
    with pytest.raises(json.JSONDecodeError) as unfinished:
        truncated.close()

    assert (many.value.msg, unfinished.value.msg) == (TOO_MANY_VALUES, graphql_over_http.NOT_JSON)


def test_a_long_token_is_parsed_in_pieces_twice_as_long_each_time_and_counted_once() -> None:
    # yajl lexes a split token again from its start at every piece: inside one, pieces double.
    counter = ValueCounter(10, piece_bytes=4)
    counter.feed(b'["' + b"a" * 100)  # 4 bytes open the list; then 4, 8, 16 and 32 inside the string
    grown = (counter.piece, len(counter.pending))
    counter.feed(b'", 1]')
    counter.close()

    assert (grown, counter.values) == ((64, 38), 3)


def test_a_body_holding_too_many_values_is_refused_before_the_rest_is_sent_and_the_connection_goes_on(
    live_url: str,
) -> None:
    # 1,300,000 empty lists, 3.9 MB declared; the client sends the first 200 KB (past the 31,103
    # values any operation may take) and waits: the answer comes without the rest.
    body = b'{"query": "{ __typename }", "variables": {"lists": [' + b"[]," * 1_299_999 + b"[]]}}"
    sent = 200_000
    where = urlsplit(live_url)
    client = h11.Connection(h11.CLIENT)
    with socket.create_connection((where.hostname, where.port), timeout=30) as conn:

        def send(*events: h11.Event) -> None:
            for event in events:
                conn.sendall(client.send(event) or b"")

        def answer() -> tuple[int, bytes]:
            status, received = 0, b""
            while True:
                event = client.next_event()
                if event is h11.NEED_DATA:
                    client.receive_data(conn.recv(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    received += event.data
                elif isinstance(event, h11.EndOfMessage):
                    return status, received

        head = [("host", where.netloc), ("content-type", JSON), ("content-length", str(len(body)))]
        send(h11.Request(method="POST", target="/graphql", headers=head), h11.Data(data=body[:sent]))
        status, refused_with = answer()
        # The rest arrives later and is dropped unread; the connection serves the next request.
        send(h11.Data(data=body[sent:]), h11.EndOfMessage())
        client.start_next_cycle()
        small = b'{"query": "{ __typename }"}'
        head = [("host", where.netloc), ("content-type", JSON), ("content-length", str(len(small)))]
        send(h11.Request(method="POST", target="/graphql", headers=head), h11.Data(data=small), h11.EndOfMessage())
        next_status, next_answer = answer()

    assert (status, json.loads(refused_with)) == (
        400,
        refusal(
            "The request's JSON holds more than 31,103 values, more than any operation may take "
            "(DOCSTORE_MAX_VARIABLE_VALUES, and 3 a file of DOCSTORE_COMPARE_MAX_FILES)."
        ),
    )
    assert (next_status, json.loads(next_answer)) == (200, TYPENAME)


def test_a_large_body_within_the_limit_is_counted_as_it_arrives_and_served(live_url: str) -> None:
    # 30,000 values in 120 KB (in extensions, which no operation limits), sent in pieces with no
    # Content-Length: counted as it arrives, then run.
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ __typename }", "extensions": {"padding": ['
        for _ in range(29):
            yield b'"a",' * 1_000
        yield b'"a",' * 999 + b'"a"]}}'

    response = plain_http.post(f"{live_url}/graphql", content=chunks(), headers={"content-type": JSON}, timeout=30)

    assert answered(response) == (200, JSON, TYPENAME)
