"""Sessions: a hashed bearer token keys a row with an expiry; nothing is held in a process."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from models.base import BaseMeta, utcnow

if TYPE_CHECKING:
    from datetime import datetime

TOKEN_PREFIX = "dst_"


class Session(Model):
    """A signed-in session. Only the SHA-256 of the token is stored; DynamoDB's TTL removes it
    some time after ``expires_at``, and reads treat it as gone from that moment."""

    class Meta(BaseMeta):
        table_name = "sessions"

    token_hash = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(account_id: str, lifetime_seconds: int, now: datetime | None = None) -> tuple[str, Session]:
    """A new random token (returned once, never stored) and its session row."""
    now = now or utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session = Session(
        token_hash=hash_token(token),
        account_id=account_id,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime_seconds),
    )
    session.save(condition=Session.token_hash.does_not_exist())
    return token, session


def resolve(token: str, now: datetime | None = None) -> Session | None:
    """The live session for ``token``, or None when unknown, revoked or expired."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    try:
        session = Session.get(hash_token(token), consistent_read=True)
    except Session.DoesNotExist:
        return None
    if session.expires_at <= (now or utcnow()):
        return None
    return session


def revoke(token: str) -> None:
    """Delete the session; revoking an unknown token does nothing."""
    Session(token_hash=hash_token(token)).delete()
