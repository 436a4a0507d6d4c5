"""Operations per signed-in account, counted before an operation is parsed.

``AccountRequests`` counts every operation that carries a session (an HTTP request, or one
``subscribe`` of a WebSocket connection) against its account's budget
(``adapters.ratelimits.RequestLimits``), keyed by the account and not the session, so signing in
again gives no fresh budget. One over the budget is answered, without being parsed or run, with the
top-level error ``RATE_LIMITED`` (``extensions.retryAfterSeconds``); over HTTP with status 429 and
``Retry-After``. Operations without a session (signUp, signIn) are bounded per IP and email instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.extensions import SchemaExtension

from adapters.ratelimits import RateLimited
from resolvers.limits import stand_in
from schema.errors import TooManyRequests
from schema.regions import WrongRegion

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from access.context import Context


class AccountRequests(SchemaExtension):
    """Listed before ``OperationLimits``: a refused operation is not parsed, and answers only this."""

    refusal: TooManyRequests | None = None

    async def on_operation(self) -> AsyncIterator[None]:
        context: Context = self.execution_context.context
        if getattr(context, "token", None):
            await self.count(context)
        yield

    async def count(self, context: Context) -> None:
        try:
            # The lookup every resolver of this operation shares (Context.viewer memoises it).
            account = await context.viewer()
        except WrongRegion:
            return  # answered by the resolvers, which raise it again
        if account is None:
            return
        limits = context.services.request_limits
        try:
            await limits.hit(account.id)
        except RateLimited as refused:
            self.refusal = TooManyRequests(refused.message, refused.retry_after_seconds, limits.amount)
            if context.response is not None:
                context.response.status_code = 429
                context.response.headers["retry-after"] = str(refused.retry_after_seconds)

    def on_parse(self) -> Iterator[None]:
        execution = self.execution_context
        if self.refusal is not None:
            execution.graphql_document = stand_in(execution.operation_name)
        yield

    def on_validate(self) -> Iterator[None]:
        if self.refusal is not None:
            self.execution_context.pre_execution_errors = [self.refusal]
        yield
