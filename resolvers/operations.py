"""Which operation of a document runs: the GraphQL specification's ``GetOperation``.

Strawberry runs the first operation of a document when no ``operationName`` is given, however many
the document holds; the specification makes that a request error. ``NamedOperation`` refuses it
before execution, over HTTP and WebSocket alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

if TYPE_CHECKING:
    from collections.abc import Iterator


class NamedOperation(SchemaExtension):
    """A document of several operations needs ``operationName``. Listed after ``OperationLimits``,
    so an operation over a limit is refused for that first."""

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        # The name the client sent: ExecutionContext.operation_name falls back to the first operation's.
        given = getattr(execution, "_provided_operation_name", None)
        if document is not None and given is None and not execution.pre_execution_errors:
            names = [
                definition.name.value if definition.name else "(anonymous)"
                for definition in document.definitions
                if isinstance(definition, OperationDefinitionNode)
            ]
            if len(names) > 1:
                listed = ", ".join(names)
                execution.pre_execution_errors = [
                    GraphQLError(
                        f"This document has {len(names)} operations ({listed}): say which one to run in operationName."
                    )
                ]
        yield
