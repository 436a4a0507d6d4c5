"""The schema extension that counts and times each GraphQL operation and names it in the access log."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from strawberry.extensions import SchemaExtension

from adapters.logs import current_request
from adapters.metrics import OPERATION_NAME

if TYPE_CHECKING:
    from collections.abc import Iterator

    from adapters.metrics import Metrics


class OperationMetrics(SchemaExtension):
    """Records ``docstore_graphql_requests_total`` and ``docstore_graphql_request_seconds`` in the
    context's ``services.metrics`` (nothing when that is None) and puts the operation name on the
    request's access-log line. In-memory only: no I/O."""

    executed = False

    def on_execute(self) -> Iterator[None]:
        # Reached only past parsing and validation: errors after this are the operation's own.
        self.executed = True
        yield

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            # Also when the operation ends by an exception: a subscription ends when its client
            # completes it or goes away, and its generator is closed.
            self._record(time.perf_counter() - started)

    def _record(self, seconds: float) -> None:
        execution = self.execution_context
        services = getattr(execution.context, "services", None)
        metrics: Metrics | None = getattr(services, "metrics", None)
        try:
            name = execution.operation_name
            kind = execution.operation_type.value if execution.graphql_document is not None else "unknown"
        except Exception:  # no such operation in the document: GraphQL answers with the error
            name, kind = execution.operation_name, "unknown"
        if metrics is not None:
            label = metrics.operation_label(name)
        else:
            label = name if name and OPERATION_NAME.fullmatch(name) else "anonymous"
        request = current_request()
        if request is not None and request.operation is None:
            request.operation = label
        if metrics is None:
            return
        # Strawberry puts execution errors in pre_execution_errors too.
        failed = bool(execution.pre_execution_errors) or bool(execution.result and execution.result.errors)
        outcome = ("error" if self.executed else "invalid") if failed else "ok"
        metrics.observe_request(label, kind, outcome, None if kind == "subscription" else seconds)
