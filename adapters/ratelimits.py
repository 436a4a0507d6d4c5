"""How often a client may try to sign in or up, and how many operations an account may send.

Attempts and operations are counted with the ``limits`` library's moving window: in Redis when
``DOCSTORE_PUBSUB_URL`` is ``redis://`` (every API process shares the counts, as they share events),
in this process's memory otherwise.

What counts: every signUp, against its client IP's budget; and every *failed* signIn (a wrong
password, an unknown email), against both its IP's and its email's. A signIn with the right password
spends nothing, so a person signing in again and again (a README pasted twice, several devices) is
never locked out; but once either budget is spent, every signIn from that IP or for that email is
refused, the right password included, until the window moves on: password guessing stays bounded.

Operations (:class:`RequestLimits`) are counted per signed-in account, whatever session or connection
sends them, with the library's sliding window counter: two counters a key, so counting every request
costs one Redis call and no list of timestamps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter, RateLimiter, SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from adapters import redis_pool
from adapters.redis_pool import blocking_pool

if TYPE_CHECKING:
    from limits.aio.storage import Storage as AsyncStorage

#: The namespaces of DocStore's counters in the limits storage (Redis keys start with ``LIMITS:``).
NAMESPACE = "docstore-auth"
REQUESTS_NAMESPACE = "docstore-requests"
SHARE_NAMESPACE = "docstore-share-passwords"


class RateLimited(Exception):
    """Too many attempts in the window: ``retry_after_seconds`` until the next is allowed."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_seconds = retry_after_seconds


def storage_url(pubsub_url: str) -> str:
    """Where the counts live: the pub/sub Redis, or this process's memory for ``memory://``."""
    scheme = pubsub_url.partition("://")[0]
    if scheme in {"redis", "rediss"}:
        return f"async+{pubsub_url}"
    return "async+memory://"


@dataclass(frozen=True)
class Budget:
    """``amount`` attempts a ``window_seconds`` moving window for one kind of key."""

    kind: str
    #: How a message names the key: "from this IP address".
    scope: str
    amount: int
    window_seconds: int
    setting: str
    namespace: str = NAMESPACE

    @property
    def item(self) -> RateLimitItemPerSecond:
        return RateLimitItemPerSecond(self.amount, self.window_seconds, namespace=self.namespace)


def open_storage(pubsub_url: str, redis_connections: int, redis_wait_seconds: float) -> AsyncStorage:
    """The asyncio limits storage for ``pubsub_url`` (:func:`storage_url`); on Redis, through a pool
    that waits for a free connection (``adapters.redis_pool``)."""
    url = storage_url(pubsub_url)
    options: dict[str, Any] = {}
    if url.startswith("async+redis"):
        pool = blocking_pool(pubsub_url, redis_connections, redis_wait_seconds)
        options = {"implementation": "redispy", "connection_pool": pool}
    # An ``async+`` URL always gives an asyncio storage; the factory is typed for both kinds.
    return cast("AsyncStorage", storage_from_string(url, **options))


async def retry_after(limiter: RateLimiter, item: RateLimitItem, *keys: str) -> int:
    """Whole seconds (at least 1) until ``item`` allows another hit for ``keys``."""
    stats = await limiter.get_window_stats(item, *keys)
    return max(1, math.ceil(stats.reset_time - time.time()))


class PairedLimits:
    """Attempts counted against two budgets at once (an IP address and an email, an IP address and
    a link), each in a moving window, in Redis across processes (``open_storage``)."""

    #: What a refusal says there were too many of.
    attempts = "attempts"

    def __init__(
        self,
        pubsub_url: str,
        first: Budget,
        second: Budget,
        *,
        redis_connections: int = redis_pool.CONNECTIONS,
        redis_wait_seconds: float = redis_pool.WAIT_SECONDS,
    ) -> None:
        self.storage = open_storage(pubsub_url, redis_connections, redis_wait_seconds)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.budgets = (first, second)

    async def check(self, first: str | None, second: str | None) -> None:
        """:class:`RateLimited` if either key has used its budget; counts nothing."""
        for budget, key in zip(self.budgets, (first, second), strict=True):
            if key is not None and not await self.limiter.test(budget.item, budget.kind, key):
                await self._refuse(budget, key)

    async def failed(self, first: str | None, second: str | None) -> None:
        """Count a failed attempt against both budgets (never refused itself: it already happened)."""
        for budget, key in zip(self.budgets, (first, second), strict=True):
            if key is not None:
                await self.limiter.hit(budget.item, budget.kind, key)

    async def _hit(self, budget: Budget, key: str) -> None:
        if await self.limiter.hit(budget.item, budget.kind, key):
            return
        await self._refuse(budget, key)

    async def _refuse(self, budget: Budget, key: str) -> None:
        retry = await retry_after(self.limiter, budget.item, budget.kind, key)
        raise RateLimited(
            f"Too many {self.attempts} {budget.scope}: at most {budget.amount} every "
            f"{budget.window_seconds} seconds ({budget.setting}). Try again in {retry} seconds.",
            retry,
        )

    async def reset(self) -> None:
        """Forget every count (tests, and an operator clearing a lockout)."""
        await self.storage.reset()


class AuthLimits(PairedLimits):
    """Sign-in and sign-up attempts, per client IP and per email."""

    attempts = "sign-in and sign-up attempts"

    def __init__(
        self,
        pubsub_url: str,
        per_ip: int,
        per_email: int,
        window_seconds: int,
        *,
        redis_connections: int = redis_pool.CONNECTIONS,
        redis_wait_seconds: float = redis_pool.WAIT_SECONDS,
    ) -> None:
        self.per_ip = Budget(
            "IP address", "from this IP address", per_ip, window_seconds, "DOCSTORE_AUTH_ATTEMPTS_PER_IP"
        )
        self.per_email = Budget(
            "email", "for this email", per_email, window_seconds, "DOCSTORE_AUTH_ATTEMPTS_PER_EMAIL"
        )
        super().__init__(
            pubsub_url,
            self.per_ip,
            self.per_email,
            redis_connections=redis_connections,
            redis_wait_seconds=redis_wait_seconds,
        )

    async def attempt(self, ip: str | None, email: str | None = None) -> None:
        """Count one attempt from ``ip`` (and for ``email``, when given); raises :class:`RateLimited`
        when either has used its budget. A refused attempt is not counted against the other key."""
        if ip is not None:
            await self._hit(self.per_ip, ip)
        if email is not None:
            await self._hit(self.per_email, email)


class SharePasswordLimits(PairedLimits):
    """Wrong share-link passwords, per client IP and per link, in a moving window.

    Only wrong passwords count. Once an IP has spent its budget, every password it sends to any
    link is refused, the right one included, until the window moves on; once a link has spent its
    (larger) budget, so is every password sent to it from anywhere. Guessing from one address
    stops at the IP's budget while the link stays open to everyone else; guessing from many
    addresses stops at the link's."""

    attempts = "wrong passwords"

    def __init__(
        self,
        pubsub_url: str,
        per_ip: int,
        per_link: int,
        window_seconds: int,
        *,
        redis_connections: int = redis_pool.CONNECTIONS,
        redis_wait_seconds: float = redis_pool.WAIT_SECONDS,
    ) -> None:
        super().__init__(
            pubsub_url,
            Budget(
                "share-ip",
                "from this IP address",
                per_ip,
                window_seconds,
                "DOCSTORE_SHARE_PASSWORD_ATTEMPTS_PER_IP",
                SHARE_NAMESPACE,
            ),
            Budget(
                "share-link",
                "for this link",
                per_link,
                window_seconds,
                "DOCSTORE_SHARE_PASSWORD_ATTEMPTS_PER_LINK",
                SHARE_NAMESPACE,
            ),
            redis_connections=redis_connections,
            redis_wait_seconds=redis_wait_seconds,
        )


class RequestLimits:
    """GraphQL operations per signed-in account: ``amount`` every ``window_seconds``, over HTTP and
    WebSocket together (each ``subscribe`` is one). ``amount`` 0 counts nothing."""

    def __init__(
        self,
        pubsub_url: str,
        amount: int,
        window_seconds: int,
        *,
        redis_connections: int = redis_pool.CONNECTIONS,
        redis_wait_seconds: float = redis_pool.WAIT_SECONDS,
    ) -> None:
        self.storage = open_storage(pubsub_url, redis_connections, redis_wait_seconds)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self.amount = amount
        self.window_seconds = window_seconds
        self.item = RateLimitItemPerSecond(max(amount, 1), window_seconds, namespace=REQUESTS_NAMESPACE)

    async def hit(self, account_id: str) -> None:
        """Count one operation of ``account_id``; :class:`RateLimited` (counting nothing) once the
        account has sent ``amount`` in the window."""
        if self.amount <= 0 or await self.limiter.hit(self.item, account_id):
            return
        retry = await retry_after(self.limiter, self.item, account_id)
        raise RateLimited(
            f"Too many requests for this account: at most {self.amount:,} every {self.window_seconds} seconds "
            f"(DOCSTORE_REQUESTS_PER_ACCOUNT). Try again in {retry} seconds.",
            retry,
        )

    async def reset(self) -> None:
        """Forget every count (tests)."""
        await self.storage.reset()
