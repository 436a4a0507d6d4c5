"""Opening a live-events connection: the protocol, authentication in ``connection_init``, the 3 s
limit, and a clear refusal for a subscription sent over HTTP."""

from __future__ import annotations

import pytest

from tests import plain_http
from tests.client import Api, User, operation
from tests.subscriptions.conftest import Events, Socket, bearer, open_socket


def test_connection_init_with_a_live_token_is_acknowledged(connection: Socket, user: User) -> None:
    connection.init(bearer(user))

    assert connection.receive() == {"type": "connection_ack"}


def test_acknowledged_connection_answers_ping(acknowledged: Socket) -> None:
    acknowledged.send({"type": "ping"})

    assert acknowledged.receive() == {"type": "pong"}


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz"],
    ids=["no authorization", "empty", "no token", "garbage token", "not bearer"],
)
def test_connection_init_without_a_live_token_closes_4403(connection: Socket, authorization: str | None) -> None:
    connection.init(authorization)

    assert connection.closed() == (4403, "Forbidden")


def test_connection_init_with_a_revoked_token_closes_4403(connection: Socket, api: Api, user: User) -> None:
    signed_out = api.data("SignOut", token=user.token)["signOut"]
    assert signed_out == {"revoked": True}

    connection.init(bearer(user))

    assert connection.closed() == (4403, "Forbidden")


def test_a_token_in_the_handshake_headers_does_not_replace_connection_init(ws_url: str, user: User) -> None:
    with open_socket(ws_url, additional_headers={"Authorization": bearer(user)}) as socket:
        socket.init(None)

        assert socket.closed() == (4403, "Forbidden")


def test_no_connection_init_within_3_seconds_closes_4408(connection: Socket) -> None:
    assert connection.closed() == (4408, "Connection initialisation timeout")


def test_subscribing_before_the_ack_closes_4401(connection: Socket) -> None:
    connection.subscribe("1", "QuotaEvents")

    assert connection.closed() == (4401, "Unauthorized")


def test_the_legacy_graphql_ws_protocol_is_refused(ws_url: str) -> None:
    with open_socket(ws_url, subprotocols=("graphql-ws",)) as socket:
        assert socket.connection.subprotocol is None
        assert socket.closed() == (4406, "Subprotocol not acceptable")


@pytest.mark.parametrize("signed_in", [False, True], ids=["no token", "token"])
def test_a_subscription_sent_over_http_is_refused_as_a_bad_request(
    live_url: str, user: User, events: Events, signed_in: bool
) -> None:
    headers = {"Authorization": bearer(user)} if signed_in else {}

    response = plain_http.post(
        f"{live_url}/graphql", json={"query": operation("QuotaEvents"), "operationName": "QuotaEvents"}, headers=headers
    )

    assert (response.status_code, response.json()) == (
        200,
        {
            "data": None,
            "errors": [
                {
                    "message": (
                        "Subscriptions work over WebSocket only: connect to /graphql with the graphql-transport-ws "
                        'protocol and send {"authorization": "Bearer <token>"} in connection_init.'
                    ),
                    "extensions": {"code": "BAD_REQUEST"},
                }
            ],
        },
    )
    assert events.subscribers(user.id) == 0
