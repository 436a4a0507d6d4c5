"""Errors in the schema: the ``Error`` interface for what users cause, codes for the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import strawberry
from graphql import GraphQLError

if TYPE_CHECKING:
    from collections.abc import Sequence


class Problem(Protocol):
    """One input at fault, as ``services.validation`` reports it."""

    @property
    def field(self) -> str: ...
    @property
    def message(self) -> str: ...


@strawberry.interface(description="A failure the client can act on. Branch on `__typename`.")
class Error:
    message: str = strawberry.field(description="What went wrong, written for the person using the client.")


@strawberry.type(description="One input field that was not acceptable, and why.")
class FieldError(Error):
    field: str = strawberry.field(
        description="The input field at fault, as a path in the input: `filename`, `tags`, `filter.tags`."
    )


@strawberry.type(
    description=(
        "Some inputs were not acceptable; nothing was stored. `fields` names every one of them, in the "
        "order the input declares its fields; `message` and `field` repeat the first."
    )
)
class ValidationError(Error):
    field: str = strawberry.field(
        description="The first input field at fault, e.g. `filename` or `tags`.",
        deprecation_reason="`fields` names every input field at fault; this is the first of them.",
    )
    fields: list[FieldError] = strawberry.field(
        description="Every input field at fault with what is wrong with it, in the order the input declares them."
    )

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> ValidationError:
        return cls(
            message=problems[0].message,
            field=problems[0].field,
            fields=[FieldError(field=problem.field, message=problem.message) for problem in problems],
        )


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
    """A query's arguments were not acceptable. ``extensions.fields`` lists every argument at fault
    (``{field, message}``, as ``ValidationError.fields`` does for a mutation); the message says them
    all, each after its field."""

    code = "BAD_USER_INPUT"

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(" ".join(f"{problem.field}: {problem.message}" for problem in problems))
        fields = [{"field": problem.field, "message": problem.message} for problem in problems]
        self.extensions = {**(self.extensions or {}), "fields": fields}


class Conflict(CodedError):
    """The change lost the race to other changes of the same account on every attempt; nothing of
    it was made, and the same request a moment later may succeed."""

    code = "CONFLICT"


class TooManyRequests(CodedError):
    """The account sent more operations than its window allows (``adapters.ratelimits.RequestLimits``):
    ``extensions.retryAfterSeconds`` says when to try again; ``extensions.limit`` names the setting
    and ``extensions.allowed`` its value, as ``LIMIT_EXCEEDED`` does."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_seconds: int, allowed: int) -> None:
        super().__init__(message)
        self.extensions = {
            **(self.extensions or {}),
            "retryAfterSeconds": retry_after_seconds,
            "limit": "DOCSTORE_REQUESTS_PER_ACCOUNT",
            "allowed": allowed,
        }
