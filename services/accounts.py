"""Signing up, signing in and out: one function per use case, for whichever caller.

Every attempt to sign up or in is counted against the client's address and the email
(``adapters.ratelimits``: :class:`RateLimited`), and hashes a password on the bounded hashing
pool (:class:`HashingBusy` when it is full); nothing is read or written past a refusal.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from argon2.exceptions import InvalidHashError, VerificationError

from events.envelope import Event, EventType
from models import accounts, outbox, sessions
from services import validation

if TYPE_CHECKING:
    from datetime import datetime

    from argon2 import PasswordHasher

    from domain.plans import Plan
    from runtime.services import Services

BAD_CREDENTIALS = "The email or the password is wrong."


class InvalidCredentials(Exception):
    """No account has this email and password; which of the two is wrong is not said."""

    def __init__(self) -> None:
        super().__init__(BAD_CREDENTIALS)


@dataclass(frozen=True)
class Session:
    """A session just started: the bearer token (shown once, stored only as its hash)."""

    token: str
    expires_at: datetime
    account: accounts.Account


async def sign_up(services: Services, raw_email: str, raw_password: str, plan: Plan, client_ip: str | None) -> Session:
    """Create an account on ``plan`` and start a session for it.

    :class:`RateLimited` or :class:`HashingBusy`; :class:`InvalidInput` naming the email and the
    password if both are wrong; :class:`EmailTaken` for an email in use, in any case.
    """
    await services.auth_limits.attempt(client_ip)
    email, password = validation.sign_up(raw_email, raw_password)
    password_hash = await services.hashing.run(services.passwords.hash, password)
    created: list[outbox.Pending] = []
    epoch = _epoch(services)
    record = await services.blocking.run(
        functools.partial(
            accounts.create,
            email=email,
            password_hash=password_hash,
            plan=plan,
            home_region=services.settings.region,
            messages=created,
        )
    )
    accounts.remember(record, services.cache, epoch)  # as written: its first request need not read it
    await services.deliver(created)
    return await start_session(services, record)


async def check_credentials(
    services: Services, raw_email: str, password: str, client_ip: str | None
) -> accounts.Account:
    """The account with this email and password (in this region or, a replica, another);
    :class:`InvalidCredentials` otherwise, taking as long whether or not the email has an account.
    :class:`RateLimited` or :class:`HashingBusy` first, before the account is read."""
    limits = services.auth_limits
    try:
        email = validation.email(raw_email)
    except validation.InvalidInput:
        await limits.check(client_ip, None)
        await limits.failed(client_ip, None)
        raise InvalidCredentials from None
    await limits.check(client_ip, email)  # spent budgets refuse even the right password
    services.hashing.check()  # a full pool refuses now, before the account is read for nothing
    epoch = _epoch(services)
    record = await services.blocking.run(accounts.find_by_email, email)
    # Verify against a stand-in hash when there is no account, so timing does not tell.
    stored = record.password_hash if record else None
    matches = await services.hashing.run(_verify, services.passwords, stored, password[:1024])
    if record is None or not matches:
        await limits.failed(client_ip, email)  # only failures count: see adapters/ratelimits.py
        raise InvalidCredentials
    if not accounts.is_replica(record, services.settings.region):
        # Read consistently just now: the session's first request need not read it again (kept
        # only for the right password, so guesses fill no cache; a replica gets no session).
        accounts.remember(record, services.cache, epoch)
    return record


async def start_session(services: Services, record: accounts.Account) -> Session:
    """A new session for ``record``, kept in the read cache as written (its first request reads
    neither it nor, when the caller kept it, the account)."""
    token, session = await services.blocking.run(
        functools.partial(
            sessions.create,
            record.id,
            services.settings.session_seconds,
            region=services.settings.region,
            cache=services.cache,
        )
    )
    return Session(token=token, expires_at=session.expires_at, account=record)


def _epoch(services: Services) -> int:
    """The read cache's epoch, taken before reading or writing what is then kept in it."""
    return services.cache.epoch() if services.cache is not None else 0


async def sign_out(services: Services, account_id: str, token: str) -> None:
    """End the session of ``token`` at once; the subscriptions running under it, in any API
    process, end when they hear of it."""
    await services.blocking.run(sessions.revoke, token)
    ended = Event(EventType.SESSION_ENDED, account_id, data={"session": sessions.fingerprint(token)})
    await services.publisher.publish(ended)


def _verify(hasher: PasswordHasher, stored: str | None, password: str) -> bool:
    try:
        return hasher.verify(stored if stored is not None else _stand_in_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _stand_in_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("no account has this password")
