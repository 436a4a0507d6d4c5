"""Class 5: GraphiQL's Headers tab sends ``{"Authorization": "Bearer …"}`` in ``connection_init``,
which was refused (4403) because only ``authorization`` was read. The key is found in any letter
case, among other headers too; a wrong token under it is still refused; the connection's slot is
given back once it closes, and an ordinary client is answered meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tests.probes.conftest import Attacker, Bystander, Kept, closed, receive, send, warm, websocket

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.client import User

pytestmark = pytest.mark.timeout(120)

WHO = "query Who { me { email } }"


def signed_in(payload: Callable[[User], dict[str, Any]]) -> Callable[[Attacker, User], Any]:
    """``connection_init`` with ``payload``, then the query ``Who``: every message answered."""

    def probe(attacker: Attacker, user: User) -> Any:
        with websocket(attacker.url) as connection:
            send(connection, {"type": "connection_init", "payload": payload(user)})
            acknowledged = receive(connection)
            send(connection, {"id": "1", "type": "subscribe", "payload": {"query": WHO}})
            return [acknowledged, receive(connection), receive(connection)]

    return probe


def refused(payload: Callable[[User], dict[str, Any]]) -> Callable[[Attacker, User], Any]:
    def probe(attacker: Attacker, user: User) -> Any:
        with websocket(attacker.url) as connection:
            send(connection, {"type": "connection_init", "payload": payload(user)})
            return closed(connection)

    return probe


def answered(user: User) -> list[dict[str, Any]]:
    return [
        {"type": "connection_ack"},
        {"id": "1", "type": "next", "payload": {"data": {"me": {"email": user.email}}}},
        {"id": "1", "type": "complete"},
    ]


@dataclass(frozen=True)
class Shape:
    send: Callable[[Attacker, User], Any]
    expected: Callable[[User], Any]


SHAPES = {
    "Authorization": Shape(signed_in(lambda user: {"Authorization": f"Bearer {user.token}"}), answered),
    "AUTHORIZATION": Shape(signed_in(lambda user: {"AUTHORIZATION": f"Bearer {user.token}"}), answered),
    "GraphiQL's headers": Shape(
        signed_in(
            lambda user: {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {user.token}",
                "X-Request-Id": "graphiql",
            }
        ),
        answered,
    ),
    "a wrong token under Authorization": Shape(
        refused(lambda user: {"Authorization": f"Bearer {user.token}x"}), lambda user: (4403, "Forbidden")
    ),
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_the_authorization_key_of_connection_init_is_read_in_any_letter_case(
    shape: Shape, attacker: Attacker, prober: User, bystander: Bystander, kept: Kept
) -> None:
    warm(attacker, prober, WHO)
    before = kept.snapshot()

    probe = bystander.beside(lambda: shape.send(attacker, prober))

    assert probe.answers == [shape.expected(prober)]
    assert kept.settled(before) == before
