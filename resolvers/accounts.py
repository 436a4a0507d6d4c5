"""Sign-up, sign-in, sign-out and the signed-in account."""

from __future__ import annotations

import logging
from typing import Annotated

import strawberry

from access import regions
from access.context import Context
from access.permissions import require_account
from adapters.hashing import HashingBusy
from adapters.ratelimits import RateLimited
from models import accounts
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
from services import accounts as accounts_service
from services import validation

log = logging.getLogger(__name__)


async def sign_up(
    info: strawberry.Info[Context, None],
    input: Annotated[SignUpInput, strawberry.argument(description="The new account.")],
) -> SignUpResult:
    try:
        session = await accounts_service.sign_up(
            info.context.services, input.email, input.password, input.plan, client_ip(info.context)
        )
    except (RateLimited, HashingBusy) as refused:
        return rate_limited(refused)
    except validation.InvalidInput as error:
        return ValidationError.of(error.problems)
    except EmailTaken as error:
        return EmailTakenError(message=str(error), email=error.email)
    return _auth_payload(session)


async def sign_in(
    info: strawberry.Info[Context, None],
    input: Annotated[SignInInput, strawberry.argument(description="Email and password.")],
) -> SignInResult:
    services = info.context.services
    try:
        record = await accounts_service.check_credentials(
            services, input.email, input.password, client_ip(info.context)
        )
    except (RateLimited, HashingBusy) as refused:
        return rate_limited(refused)
    except accounts_service.InvalidCredentials as error:
        return InvalidCredentialsError(message=str(error))
    if accounts.is_replica(record, services.settings.region):
        # Only now, with the password right: a stranger learns nothing of where an email lives.
        wrong = regions.refusal(services.settings, record.home_region)
        if wrong is None:
            log.error("account %s lives in %s, a region unknown here", record.id, record.home_region)
            return InvalidCredentialsError(message=accounts_service.BAD_CREDENTIALS)
        regions.point_home(info.context.response, wrong)
        return WrongRegionError.from_refusal(wrong)
    return _auth_payload(await accounts_service.start_session(services, record))


async def sign_out(info: strawberry.Info[Context, None]) -> SignOutPayload:
    account = await require_account(info)
    token = info.context.token
    if token is None:
        raise Unauthenticated()
    await accounts_service.sign_out(info.context.services, account.id, token)
    return SignOutPayload(revoked=True)


async def me(info: strawberry.Info[Context, None]) -> Account:
    await require_account(info)
    # The usage it shows is read as stored: the read cache does not follow byte counts.
    account = await info.context.viewer_as_stored()
    if account is None:
        raise Unauthenticated()
    return Account.from_model(account)


def _auth_payload(session: accounts_service.Session) -> AuthPayload:
    return AuthPayload(token=session.token, expires_at=session.expires_at, account=Account.from_model(session.account))


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
