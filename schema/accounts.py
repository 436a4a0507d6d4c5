"""Accounts, sign-up and sign-in."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.plans import Plan as Plan  # exported: the GraphQL enum, declared below
from schema.enums import graphql_enum
from schema.errors import Error, RateLimitedError, ValidationError
from schema.regions import WrongRegionError
from schema.scalars import Long

if TYPE_CHECKING:
    from models.accounts import Account as AccountRecord


graphql_enum(
    Plan,
    "What an account may store and how it may search.",
    {
        Plan.FREE: "5 GiB; search by file name, dates and tags.",
        Plan.PREMIUM: "20 GiB; full-text search of contents, with OCR.",
    },
)


@strawberry.type(description="Storage use against the plan's limit.")
class Usage:
    used_bytes: Long = strawberry.field(description="Bytes of completed uploads.")
    reserved_bytes: Long = strawberry.field(
        description="Bytes held for uploads requested but not yet completed (released when their forms expire)."
    )
    limit_bytes: Long = strawberry.field(description="The plan's limit: 5 GiB on FREE, 20 GiB on PREMIUM.")
    document_count: int = strawberry.field(description="Completed uploads that are stored.")


@strawberry.type(description="A DocStore account. Visible only to the account itself.")
class Account:
    id: strawberry.ID = strawberry.field(description="Stable account id.")
    email: str = strawberry.field(description="The sign-in email, lower-cased.")
    plan: Plan = strawberry.field(description="The account's plan.")
    home_region: str = strawberry.field(description="The AWS region that holds this account's data.")
    created_at: datetime = strawberry.field(description="When the account was created (UTC).")
    usage: Usage = strawberry.field(description="Storage used, reserved and allowed.")

    @classmethod
    def from_model(cls, record: AccountRecord) -> Account:
        return cls(
            id=strawberry.ID(record.id),
            email=record.email,
            plan=record.plan,
            home_region=record.home_region,
            created_at=record.created_at,
            usage=Usage(
                used_bytes=Long(int(record.used_bytes)),
                reserved_bytes=Long(int(record.reserved_bytes)),
                limit_bytes=Long(record.limit_bytes),
                document_count=int(record.document_count),
            ),
        )


@strawberry.type(description="A new session: keep the token secret and send it as `Authorization: Bearer <token>`.")
class AuthPayload:
    token: str = strawberry.field(description="The bearer token. Shown once; DocStore keeps only its hash.")
    expires_at: datetime = strawberry.field(description="When the session ends (UTC).")
    account: Account = strawberry.field(description="The signed-in account.")


@strawberry.type(description="That email already has an account.")
class EmailTakenError(Error):
    email: str = strawberry.field(description="The email that is taken.")


@strawberry.type(description="The email and password do not match an account. Which of the two is wrong is not said.")
class InvalidCredentialsError(Error):
    pass


@strawberry.type(description="The session was ended.")
class SignOutPayload:
    revoked: bool = strawberry.field(description="True: the token no longer works.")


@strawberry.input(description="A new account.")
class SignUpInput:
    email: str = strawberry.field(description="A valid email address, at most 254 characters; stored lower-cased.")
    password: str = strawberry.field(description="8 to 256 characters. Stored only as an argon2id hash.")
    plan: Plan = strawberry.field(default=Plan.FREE, description="The plan to start on (FREE by default).")


@strawberry.input(description="Credentials of an existing account.")
class SignInInput:
    email: str = strawberry.field(description="The account's email, in any case.")
    password: str = strawberry.field(description="The account's password.")


SignUpResult = Annotated[
    AuthPayload | EmailTakenError | ValidationError | RateLimitedError,
    strawberry.union(
        "SignUpResult",
        description="The new session, or why there is none. `RateLimitedError`: too many attempts; nothing was stored.",
    ),
]
SignInResult = Annotated[
    AuthPayload | InvalidCredentialsError | WrongRegionError | RateLimitedError,
    strawberry.union(
        "SignInResult",
        description=(
            "The new session, or why there is none. `WrongRegionError` only with the right password: "
            "the account lives in another region; sign in there. `RateLimitedError`: too many attempts "
            "(the password was not checked and no session was started)."
        ),
    ),
]
