"""graphql-transport-ws as its protocol words it
(https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md), on Strawberry's handler.

What Strawberry 0.341's handler does differently, and what this one does instead:

- It indexes every frame as the object it expects, so a JSON list, a list ``id`` or a string
  ``payload`` raised inside the connection's task and dropped the socket (1006). Here each frame is
  checked first, and a malformed one closes the socket with 4400 and a reason, as the protocol says.
- Its subscription limit (``max_subscriptions_per_connection``, which also counts queries and
  mutations in flight) answers "Subscription limit reached"; here the ``error`` message names the
  limit and its setting. The socket stays open: the client's other operations go on.
- It closes the socket with 4400 for a syntax error in ``subscribe``, and for an operation name the
  document lacks. The protocol answers errors before execution with an ``error`` message carrying
  the GraphQL errors; here syntax errors are answered so too, like validation errors already were.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from strawberry.http.typevars import Context, RootValue
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from adapters.graphql_over_http import json_kind, no_operation

if TYPE_CHECKING:
    from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation
    from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message, SubscribeMessage
    from strawberry.types.execution import PreExecutionError

#: The most a WebSocket close reason may hold (RFC 6455: 125 bytes of payload, 2 of them the code).
CLOSE_REASON_BYTES = 123
#: The messages that name an operation by ``id``.
WITH_ID = frozenset({"subscribe", "next", "error", "complete"})
#: The messages whose ``payload`` may be absent or null, and is an object otherwise.
OPTIONAL_PAYLOAD = frozenset({"connection_init", "connection_ack", "ping", "pong"})
#: The fields of a ``subscribe`` payload other than ``query``, with what each may hold.
SUBSCRIBE_FIELDS: tuple[tuple[str, type, str], ...] = (
    ("operationName", str, "a string"),
    ("variables", dict, "an object"),
    ("extensions", dict, "an object"),
)


def malformed(message: object) -> str | None:
    """What is wrong with a frame's shape, in at most the 123 bytes a close reason holds; None if
    nothing is. Message types the handler does not know are left to it (it closes with 4400)."""
    if not isinstance(message, dict):
        return f"A message is a JSON object, not {json_kind(message)}."
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message has a string type."
    if kind in WITH_ID:
        id = message.get("id")
        if not isinstance(id, str) or not id:
            return f"A {kind} message's id is a non-empty string, not {json_kind(id)}."
    payload = message.get("payload")
    if kind in OPTIONAL_PAYLOAD and not isinstance(payload, (dict, type(None))):
        return f"A {kind} message's payload is an object, not {json_kind(payload)}."
    if kind == "subscribe":
        return malformed_subscribe(payload)
    return None


def malformed_subscribe(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return f"A subscribe message's payload is an object, not {json_kind(payload)}."
    if not isinstance(payload.get("query"), str):
        return f"A subscribe payload's query is a string, not {json_kind(payload.get('query'))}."
    for name, kind, said in SUBSCRIBE_FIELDS:
        value = payload.get(name)
        if not isinstance(value, (kind, type(None))):
            return f"A subscribe payload's {name} is {said} or null, not {json_kind(value)}."
    return None


class TransportWsHandler(BaseGraphQLTransportWSHandler[Context, RootValue]):
    """Strawberry's graphql-transport-ws handler, checking each frame's shape before it reads it."""

    async def handle_message(self, message: Message) -> None:
        problem = malformed(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            release = getattr(self.context, "release_connection", None)
            if callable(release):
                await release()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            error = GraphQLError(
                f"This connection runs {limit} operations already, the most one connection may "
                "(DOCSTORE_WS_SUBSCRIPTIONS_PER_CONNECTION); complete one first, or open another connection.",
                extensions={"code": "RATE_LIMITED", "limit": limit},
            )
            with contextlib.suppress(Exception):
                await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
            return
        await super().handle_subscribe(message)

    async def handle_invalid_message(self, error_message: str) -> None:
        # A close reason holds at most 123 bytes; Strawberry's name the message type the client sent.
        reason = error_message.encode()[:CLOSE_REASON_BYTES].decode(errors="ignore")
        await super().handle_invalid_message(reason)

    async def _handle_pre_execution_error(
        self, operation: Operation[Context, RootValue], result: PreExecutionError
    ) -> None:
        # Strawberry's own method closes the socket for a syntax error or an unknown operation name.
        errors = [
            no_operation(error.original_error.operation_name)
            if isinstance(error.original_error, CannotGetOperationTypeError)
            else error
            for error in result.errors or [GraphQLError("The operation could not run.")]
        ]
        await operation.send_initial_errors(errors)
