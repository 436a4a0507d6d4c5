"""Errors in the schema: the ``Error`` interface for what users cause, codes for the rest."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError


@strawberry.interface(description="A failure the client can act on. Branch on `__typename`.")
class Error:
    message: str = strawberry.field(description="What went wrong, written for the person using the client.")


@strawberry.type(description="An input was not acceptable; nothing was stored.")
class ValidationError(Error):
    field: str = strawberry.field(description="The input field at fault, e.g. `filename` or `tags`.")


@strawberry.type(description="No such document in this account (it may never have existed or belong to someone else).")
class NotFoundError(Error):
    id: strawberry.ID = strawberry.field(description="The id that was asked for.")


@strawberry.type(
    description=(
        "Too many attempts: wait `retryAfterSeconds` and try again. Nothing was stored and nothing was "
        "checked. signIn and signUp together allow DOCSTORE_AUTH_ATTEMPTS_PER_IP attempts (10 by default) "
        "per client IP and DOCSTORE_AUTH_ATTEMPTS_PER_EMAIL (5) per email every "
        "DOCSTORE_AUTH_WINDOW_SECONDS (60); also answered when the server's password hashing is full."
    )
)
class RateLimitedError(Error):
    retry_after_seconds: int = strawberry.field(
        description="Seconds until another attempt can be accepted (at least 1)."
    )


class CodedError(GraphQLError):
    """A top-level GraphQL error with ``extensions.code``, never masked."""

    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": self.code})


class Unauthenticated(CodedError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "Sign in first: send `Authorization: Bearer <token>`.") -> None:
        super().__init__(message)


class Forbidden(CodedError):
    code = "FORBIDDEN"


class NotFound(CodedError):
    code = "NOT_FOUND"


class BadUserInput(CodedError):
    code = "BAD_USER_INPUT"


class Conflict(CodedError):
    """The change lost the race to other changes of the same account on every attempt; nothing of
    it was made, and the same request a moment later may succeed."""

    code = "CONFLICT"
