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
