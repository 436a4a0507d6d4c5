"""Sign-up, sign-in, sign-out and the signed-in account."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Annotated

import strawberry
from argon2.exceptions import InvalidHashError, VerificationError

from access import regions
from access.context import Context
from access.permissions import require_account
from adapters.hashing import HashingBusy
from adapters.ratelimits import RateLimited
from events.envelope import Event, EventType
from models import accounts, outbox, sessions
from models.errors import EmailTaken
from schema.accounts import (
    Account,
    AuthPayload,
    EmailTakenError,
    InvalidCredentialsError,
    SignInInput,
    SignInResult,
    SignOutPayload,
    SignUpInput,
    SignUpResult,
)
from schema.errors import RateLimitedError, Unauthenticated, ValidationError
from schema.regions import WrongRegionError
from services import validation

if TYPE_CHECKING:
    from argon2 import PasswordHasher

BAD_CREDENTIALS = "The email or the password is wrong."
log = logging.getLogger(__name__)


async def sign_up(
    info: strawberry.Info[Context, None],
    input: Annotated[SignUpInput, strawberry.argument(description="The new account.")],
) -> SignUpResult:
    services = info.context.services
    try:
        await services.auth_limits.attempt(client_ip(info.context))
        try:
            email, password = validation.sign_up(input.email, input.password)
        except validation.InvalidInput as error:
            return ValidationError.of(error.problems)
        await services.auth_limits.attempt(None, email)
        password_hash = await services.hashing.run(services.passwords.hash, password)
    except (RateLimited, HashingBusy) as refused:
        return rate_limited(refused)
    created: list[outbox.Pending] = []
    try:
        record = await services.blocking.run(
            functools.partial(
                accounts.create,
                email=email,
                password_hash=password_hash,
                plan=input.plan,
                home_region=services.settings.region,
                messages=created,
            )
        )
    except EmailTaken as error:
        return EmailTakenError(message=str(error), email=email)
    await services.deliver(created)
    return await _start_session(info.context, record)


async def sign_in(
    info: strawberry.Info[Context, None],
    input: Annotated[SignInInput, strawberry.argument(description="Email and password.")],
) -> SignInResult:
    services = info.context.services
    try:
        await services.auth_limits.attempt(client_ip(info.context))
        try:
            email = validation.email(input.email)
        except validation.InvalidInput:
            return InvalidCredentialsError(message=BAD_CREDENTIALS)
        await services.auth_limits.attempt(None, email)
        services.hashing.check()  # a full pool refuses now, before the account is read for nothing
        record = await services.blocking.run(accounts.find_by_email, email)
        # Verify against a stand-in hash when there is no account, so timing does not tell.
        stored = record.password_hash if record else None
        matches = await services.hashing.run(_verify, services.passwords, stored, input.password[:1024])
    except (RateLimited, HashingBusy) as refused:
        return rate_limited(refused)
    if record is None or not matches:
        return InvalidCredentialsError(message=BAD_CREDENTIALS)
    if accounts.is_replica(record, services.settings.region):
        # Only now, with the password right: a stranger learns nothing of where an email lives.
        wrong = regions.refusal(services.settings, record.home_region)
        if wrong is None:
            log.error("account %s lives in %s, a region unknown here", record.id, record.home_region)
            return InvalidCredentialsError(message=BAD_CREDENTIALS)
        regions.point_home(info.context.response, wrong)
        return WrongRegionError.from_refusal(wrong)
    return await _start_session(info.context, record)


async def sign_out(info: strawberry.Info[Context, None]) -> SignOutPayload:
    account = await require_account(info)
    token = info.context.token
    if token is None:
        raise Unauthenticated()
    services = info.context.services
    await services.blocking.run(sessions.revoke, token)
    # Subscriptions running under this session, in any API process, end when they hear of it.
    ended = Event(EventType.SESSION_ENDED, account.id, data={"session": sessions.fingerprint(token)})
    await services.publisher.publish(ended)
    return SignOutPayload(revoked=True)


async def me(info: strawberry.Info[Context, None]) -> Account:
    await require_account(info)
    # The usage it shows is read as stored: the read cache does not follow byte counts.
    account = await info.context.viewer_as_stored()
    if account is None:
        raise Unauthenticated()
    return Account.from_model(account)


async def _start_session(context: Context, record: accounts.Account) -> AuthPayload:
    services = context.services
    token, session = await services.blocking.run(
        functools.partial(
            sessions.create, record.id, services.settings.session_seconds, region=services.settings.region
        )
    )
    return AuthPayload(token=token, expires_at=session.expires_at, account=Account.from_model(record))


def client_ip(context: Context) -> str | None:
    """The address the request came from, as uvicorn saw it (behind a proxy, run uvicorn with
    ``--proxy-headers`` and ``--forwarded-allow-ips`` so that it is the client's)."""
    client = context.request.client if context.request is not None else None
    return client.host if client is not None else None


def rate_limited(refused: RateLimited | HashingBusy) -> RateLimitedError:
    if isinstance(refused, HashingBusy):
        # The queue drains in a few hashes' time: tens of milliseconds each.
        return RateLimitedError(message=str(refused), retry_after_seconds=1)
    return RateLimitedError(message=refused.message, retry_after_seconds=refused.retry_after_seconds)


def _verify(hasher: PasswordHasher, stored: str | None, password: str) -> bool:
    try:
        return hasher.verify(stored if stored is not None else _stand_in_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _stand_in_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("no account has this password")
