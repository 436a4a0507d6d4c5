"""Channel names. Every channel is built here and nowhere else, so no code can subscribe or
publish across accounts by spelling a name by hand."""

from __future__ import annotations

#: Unread events one subscription may hold before it is ended as too slow (``adapters.pubsub``). The
#: events themselves are shared by every subscriber of a channel; an inbox holds references.
DEFAULT_BUFFER = 256


def account(account_id: str) -> str:
    """The channel carrying every event of one account: only that account's subscribers read it."""
    if not account_id or ":" in account_id:
        raise ValueError("an account id names exactly one account")
    return f"account:{account_id}"


def invalidations() -> str:
    """The process-wide channel of read-cache invalidations (``adapters.cache``): every API and
    worker process listens to it. Not an account channel, so no subscription can read it."""
    return "cache-invalidations"
