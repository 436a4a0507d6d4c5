"""Sessions: a hashed bearer token keys a row with an expiry; nothing is held in a process."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute

from adapters.cache import session_key
from models.base import BaseMeta, TableModel, utcnow

if TYPE_CHECKING:
    from datetime import datetime

    from adapters.cache import ReadCache

TOKEN_PREFIX = "dst_"
#: Between the issuing region and the secret: ``dst_us-west-2.<secret>``. The secret's alphabet
#: (URL-safe base64) has no dot, so the region is what comes before the first one.
REGION_SEPARATOR = "."


class Session(TableModel):
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


def fingerprint(token: str) -> str:
    """A name for the session that is safe to publish to subscribers: a hash of the stored hash,
    so it tells the session apart without naming its row, let alone the token."""
    return hashlib.sha256(f"session:{hash_token(token)}".encode()).hexdigest()[:32]


def create(
    account_id: str,
    lifetime_seconds: int,
    now: datetime | None = None,
    *,
    region: str | None = None,
    cache: ReadCache | None = None,
) -> tuple[str, Session]:
    """A new random token (returned once, never stored) and its session row. With ``region`` the
    token names the region that issued it, so another region can send its holder home unasked.
    With ``cache``, the session is kept as :func:`resolve` would keep it once read: the token's
    first request need not read what was just written."""
    now = now or utcnow()
    token = TOKEN_PREFIX + (f"{region}{REGION_SEPARATOR}" if region else "") + secrets.token_urlsafe(32)
    session = Session(
        token_hash=hash_token(token),
        account_id=account_id,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime_seconds),
    )
    epoch = cache.epoch() if cache is not None and cache.enabled else None
    session.save(condition=Session.token_hash.does_not_exist())
    if cache is not None and epoch is not None:
        _keep(cache, token, session, epoch, now)
    return token, session


def _keep(cache: ReadCache, token: str, session: Session, epoch: int, now: datetime) -> None:
    """Keep the session (read or written after ``epoch``) no longer than it lives."""
    life = (session.expires_at - now).total_seconds()
    key = session_key(fingerprint(token))
    cache.put(key, (session.account_id, session.created_at, session.expires_at), epoch=epoch, seconds=life)


def region_of(token: str) -> str | None:
    """The region named in ``token``; None for a token that names none (issued before tokens
    carried their region, or not a DocStore token at all)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    region, separator, _ = token[len(TOKEN_PREFIX) :].partition(REGION_SEPARATOR)
    return region if separator and region else None


def resolve(token: str, now: datetime | None = None, cache: ReadCache | None = None) -> Session | None:
    """The live session for ``token``, or None when unknown, revoked or expired.

    With ``cache``, a session read in the last ``cache.seconds`` is not read again; it is kept no
    longer than it lives, and signOut drops it in every process (``models.sessions`` is told by the
    SessionEnded event, see adapters.pubsub). Unknown tokens are never kept.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    now = now or utcnow()
    key = session_key(fingerprint(token)) if cache is not None and cache.enabled else None
    if key is not None and cache is not None:
        kept = cache.get(key)
        if kept is not None:
            account_id, created_at, expires_at = kept
            if expires_at <= now:
                cache.drop(key)
                return None
            return Session(
                token_hash=hash_token(token), account_id=account_id, created_at=created_at, expires_at=expires_at
            )
        epoch = cache.epoch()
    try:
        session = Session.get(hash_token(token), consistent_read=True)
    except Session.DoesNotExist:
        return None
    if session.expires_at <= now:
        return None
    if key is not None and cache is not None:
        _keep(cache, token, session, epoch, now)
    return session


def revoke(token: str) -> None:
    """Delete the session; revoking an unknown token does nothing."""
    Session(token_hash=hash_token(token)).delete()
