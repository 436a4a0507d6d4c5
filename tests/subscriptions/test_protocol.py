"""graphql-transport-ws to the letter (graphql-ws's PROTOCOL.md), over a real WebSocket to a real
uvicorn: errors before execution are ``error`` messages, malformed frames close with 4400 and a
reason, and the token in ``connection_init`` is found whatever the letter case of its key."""

from __future__ import annotations

from typing import Any

import pytest

from tests.client import User, operation
from tests.subscriptions.conftest import Events, Socket, bearer


def test_a_syntax_error_in_subscribe_answers_an_error_message(acknowledged: Socket, events: Events, user: User) -> None:
    acknowledged.send({"id": "1", "type": "subscribe", "payload": {"query": "subscription { quotaEvents {"}})

    assert acknowledged.receive() == {
        "id": "1",
        "type": "error",
        "payload": [{"message": "Syntax Error: Expected Name, found <EOF>.", "locations": [{"line": 1, "column": 29}]}],
    }
    assert events.subscribers(user.id) == 0


def test_a_validation_error_in_subscribe_answers_an_error_message(
    acknowledged: Socket, events: Events, user: User
) -> None:
    acknowledged.send({"id": "1", "type": "subscribe", "payload": {"query": "subscription { nope }"}})

    assert acknowledged.receive() == {
        "id": "1",
        "type": "error",
        "payload": [
            {"message": "Cannot query field 'nope' on type 'Subscription'.", "locations": [{"line": 1, "column": 16}]}
        ],
    }
    assert events.subscribers(user.id) == 0


def test_an_unknown_operation_name_answers_an_error_message(acknowledged: Socket) -> None:
    payload = {"query": operation("QuotaEvents"), "operationName": "Nope"}
    acknowledged.send({"id": "1", "type": "subscribe", "payload": payload})

    assert acknowledged.receive() == {
        "id": "1",
        "type": "error",
        "payload": [{"message": 'This document has no operation named "Nope".'}],
    }


def test_two_operations_without_an_operation_name_answer_an_error_message(
    acknowledged: Socket, events: Events, user: User
) -> None:
    document = operation("QuotaEvents") + "\nquery Other { __typename }"
    acknowledged.send({"id": "1", "type": "subscribe", "payload": {"query": document}})

    assert acknowledged.receive() == {
        "id": "1",
        "type": "error",
        "payload": [
            {"message": "This document has 2 operations (QuotaEvents, Other): say which one to run in operationName."}
        ],
    }
    assert events.subscribers(user.id) == 0


def test_the_connection_serves_on_after_an_error_message(acknowledged: Socket, events: Events, user: User) -> None:
    acknowledged.send({"id": "1", "type": "subscribe", "payload": {"query": "{"}})
    assert acknowledged.receive()["type"] == "error"

    acknowledged.subscribe("1", "QuotaEvents")  # the id is free again

    events.wait_for_subscribers(user.id, 1)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("[]", "A message is a JSON object, not a list."),
        ('"subscribe"', "A message is a JSON object, not a string."),
        ("12", "A message is a JSON object, not a number."),
        ("null", "A message is a JSON object, not null."),
        ('{"type": 1}', "A message has a string type."),
        (
            '{"id": ["1"], "type": "subscribe", "payload": {"query": "{ __typename }"}}',
            "A subscribe message's id is a non-empty string, not a list.",
        ),
        (
            '{"id": 1, "type": "subscribe", "payload": {"query": "{ __typename }"}}',
            "A subscribe message's id is a non-empty string, not a number.",
        ),
        (
            '{"id": "", "type": "subscribe", "payload": {"query": "{ __typename }"}}',
            "A subscribe message's id is a non-empty string, not a string.",
        ),
        (
            '{"type": "subscribe", "payload": {"query": "{ __typename }"}}',
            "A subscribe message's id is a non-empty string, not null.",
        ),
        ('{"id": ["1"], "type": "complete"}', "A complete message's id is a non-empty string, not a list."),
        (
            '{"id": "1", "type": "subscribe", "payload": "{ __typename }"}',
            "A subscribe message's payload is an object, not a string.",
        ),
        ('{"id": "1", "type": "subscribe"}', "A subscribe message's payload is an object, not null."),
        (
            '{"id": "1", "type": "subscribe", "payload": {"query": 1}}',
            "A subscribe payload's query is a string, not a number.",
        ),
        (
            '{"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }", "variables": []}}',
            "A subscribe payload's variables is an object or null, not a list.",
        ),
        (
            '{"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }", "operationName": {}}}',
            "A subscribe payload's operationName is a string or null, not an object.",
        ),
        (
            '{"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }", "extensions": "x"}}',
            "A subscribe payload's extensions is an object or null, not a string.",
        ),
        ('{"type": "ping", "payload": []}', "A ping message's payload is an object, not a list."),
        ("[" * 100_000 + "]" * 100_000, "WebSocket message must be valid JSON"),
        ('{"type": "subscribe", "id": ' + "[" * 100_000 + "]" * 100_000 + "}", "WebSocket message must be valid JSON"),
        ('{"type": "ping"', "WebSocket message must be valid JSON"),
        ('{"type": "ping", "payload": {"n": ' + "9" * 5_000 + "}}", "WebSocket message must be valid JSON"),
        (
            '{"id": "1", "type": "subscribe", "payload": {"query": "{ __type(name: \\"\\ud800\\") { name } }"}}',
            "WebSocket message must be valid JSON",
        ),
        ('{"type": "' + "x" * 200 + '"}', "Unknown message type: " + "x" * 101),
    ],
    ids=[
        "list",
        "string",
        "number",
        "null",
        "type not a string",
        "list id",
        "number id",
        "empty id",
        "no id",
        "list id on complete",
        "string payload",
        "no payload",
        "query not a string",
        "list variables",
        "object operationName",
        "string extensions",
        "list ping payload",
        "deep list",
        "deep id",
        "invalid JSON",
        "5,000 digits",
        "lone surrogate escape",
        "long unknown type",
    ],
)
def test_a_malformed_frame_closes_4400_with_a_reason(acknowledged: Socket, frame: str, reason: str) -> None:
    acknowledged.connection.send(frame)

    assert acknowledged.closed() == (4400, reason)


def test_a_malformed_frame_ends_the_running_subscriptions(acknowledged: Socket, events: Events, user: User) -> None:
    acknowledged.subscribe("1", "QuotaEvents")
    events.wait_for_subscribers(user.id, 1)

    acknowledged.connection.send("[]")

    assert acknowledged.closed() == (4400, "A message is a JSON object, not a list.")
    events.wait_for_subscribers(user.id, 0)


def test_a_malformed_connection_init_closes_4400(connection: Socket) -> None:
    connection.send({"type": "connection_init", "payload": "Bearer x"})

    assert connection.closed() == (4400, "A connection_init message's payload is an object, not a string.")


@pytest.mark.parametrize("key", ["authorization", "Authorization", "AUTHORIZATION"])
def test_the_authorization_key_works_in_any_letter_case(connection: Socket, user: User, key: str) -> None:
    connection.send({"type": "connection_init", "payload": {key: bearer(user)}})

    assert connection.receive() == {"type": "connection_ack"}


@pytest.mark.parametrize("payload", [{"Authorization": "Bearer not-a-token"}, {"token": "x"}, {1: "x"}])
def test_a_wrong_token_under_any_key_still_closes_4403(connection: Socket, payload: dict[Any, str]) -> None:
    connection.send({"type": "connection_init", "payload": {str(key): value for key, value in payload.items()}})

    assert connection.closed() == (4403, "Forbidden")


def test_a_binary_frame_closes_4400_with_a_reason(acknowledged: Socket) -> None:
    acknowledged.connection.send(b'{"type": "ping"}')

    assert acknowledged.closed() == (4400, "WebSocket message type must be text")


def test_a_second_connection_init_closes_4429(acknowledged: Socket, user: User) -> None:
    acknowledged.init(bearer(user))

    assert acknowledged.closed() == (4429, "Too many initialisation requests")


def test_subscribing_with_an_id_in_use_closes_4409(acknowledged: Socket, events: Events, user: User) -> None:
    acknowledged.subscribe("1", "QuotaEvents")
    events.wait_for_subscribers(user.id, 1)

    acknowledged.subscribe("1", "QuotaEvents")

    assert acknowledged.closed() == (4409, "Subscriber for 1 already exists")


def test_ping_with_a_payload_answers_pong_and_pong_answers_nothing(acknowledged: Socket) -> None:
    acknowledged.send({"type": "pong", "payload": {"at": 1}})
    acknowledged.send({"type": "ping", "payload": {"at": 2}})

    assert acknowledged.receive() == {"type": "pong"}
