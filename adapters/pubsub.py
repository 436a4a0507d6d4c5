"""Events between processes: publishing to an account's channel, and reading it with a bounded buffer.

broadcaster carries the messages: ``memory://`` within one process (the embedded default),
``redis://`` between the API and worker processes (over :mod:`adapters.redis_backend`). Its own
subscriber queues are unbounded and its listener fills them without waiting, so a subscriber that
stops reading would hold every event published after it stopped. So a process here makes one
broadcaster subscription per account channel that has local subscribers, and that channel's pump
hands each event to every local subscriber's :class:`Inbox`, which holds at most ``buffer`` unread
events. The pump never waits for a subscriber.

A subscriber with ``buffer`` events unread when another arrives has fallen behind for good: its inbox
is emptied at once and closed, and its next read raises :class:`SubscriberTooSlow`. Dropping the
oldest events instead would hand the client a stream that looks complete and is not; ending it tells
the client to fetch the current state and subscribe again. Subscribers that keep up never notice.

With a read cache (``adapters.cache``), a process also listens, from :meth:`BroadcastPubSub.connect`
on, to the process-wide invalidation channel and drops what each invalidation names. A
``SessionEnded`` event (signOut) invalidates its session too: the path that ends a session's
subscriptions ends its cached lookups in every process as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from broadcaster import Broadcast

from adapters.cache import Invalidation
from events import channels
from events.channels import DEFAULT_BUFFER
from events.envelope import Event, EventType

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from contextlib import AbstractAsyncContextManager

    from adapters.cache import ReadCache
    from adapters.redis_backend import RedisBackend

log = logging.getLogger("docstore.pubsub")


class Publisher(Protocol):
    """Where resolvers and workers send events. Publishing never fails the caller's work:
    an event that cannot be delivered is logged and dropped (events are notifications; the
    document's state in DynamoDB is the truth)."""

    async def publish(self, event: Event) -> None: ...


class EventSource(Protocol):
    """Where subscriptions read an account's events, in the order they were published."""

    def subscribe(self, account_id: str) -> AbstractAsyncContextManager[Inbox]:
        """An inbox that receives every event published to the account from the moment this is
        entered until it is left. Entering fails if the pub/sub backend cannot subscribe."""
        ...

    def subscribe_many(self, account_ids: Sequence[str]) -> AbstractAsyncContextManager[Inbox]:
        """:meth:`subscribe` to several accounts' channels with one inbox: their events in the
        order they arrive here (a grantee's subscription to an owner's document)."""
        ...


class SubscriberTooSlow(Exception):
    """The subscriber left ``limit`` events unread and another arrived: its subscription is over."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} events were waiting to be read")
        self.limit = limit


class Inbox:
    """One subscriber's unread events, oldest first: at most ``limit`` of them.

    Filled by its channel's pump through :meth:`offer`, which never waits; emptied by the
    subscriber through :meth:`get`. A closed inbox holds nothing and its reader gets the reason.

    Small, as every live subscription holds one: a list (at most ``limit`` long, so taking the
    first is cheap) and a future only while its reader waits, not a deque and an ``asyncio.Event``
    (each a 64-slot block of its own: about 1.2 KiB a subscriber, docs/BENCHMARKS.md).
    """

    __slots__ = ("_events", "_waiter", "closed_by", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.closed_by: Exception | None = None
        self._events: list[Event] = []
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._events)

    def offer(self, event: Event) -> bool:
        """Add ``event``; False, and the inbox closed, when ``limit`` events were still unread."""
        if self.closed_by is not None:
            return False
        if len(self._events) >= self.limit:
            self.close(SubscriberTooSlow(self.limit))
            return False
        self._events.append(event)
        self._wake()
        return True

    def close(self, reason: Exception) -> None:
        """Drop what is unread; the reader's next :meth:`get` raises ``reason``."""
        if self.closed_by is None:
            self.closed_by = reason
        self._events.clear()
        self._wake()

    async def get(self) -> Event:
        """The oldest unread event, waiting for one; raises the reason once the inbox is closed."""
        while not self._events:
            if self.closed_by is not None:
                raise self.closed_by
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._events.pop(0)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class PubSubUnavailable(Exception):
    """The process lost its pub/sub connection, or is shutting down: subscriptions end."""


@dataclass(frozen=True)
class PubSubStats:
    """What one process holds for its subscribers right now, and how many it ended as too slow."""

    channels: int
    subscribers: int
    buffered: int
    fullest: int
    too_slow: int


@dataclass(eq=False)
class _Channel:
    name: str
    ready: asyncio.Future[None]
    inboxes: set[Inbox] = field(default_factory=set)
    pump: asyncio.Task[None] | None = None


class BroadcastPubSub:
    """The :class:`Publisher` and :class:`EventSource` of one process, over broadcaster.

    :meth:`connect` before use and :meth:`disconnect` after (the app's lifespan; a worker's run).
    With ``memory://`` only this object's own subscribers see what it publishes; with ``redis://``
    every process connected to the same Redis does.
    """

    def __init__(self, url: str, *, buffer: int = DEFAULT_BUFFER, cache: ReadCache | None = None) -> None:
        if buffer < 1:
            raise ValueError("a subscriber's buffer holds at least one event")
        self.url = url
        self.buffer = buffer
        self._redis: RedisBackend | None = None
        if urlsplit(url).scheme in {"redis", "rediss"}:
            # Imported here: redis-py is only loaded by a process that talks to Redis.
            from adapters.redis_backend import RedisBackend

            self._redis = RedisBackend(url)
        self._broadcast = Broadcast(backend=self._redis) if self._redis is not None else Broadcast(url)
        self._channels: dict[str, _Channel] = {}
        # Opening a channel is serialised: broadcaster's subscribe is not safe against a second
        # first subscriber of the same channel arriving while the first one subscribes.
        self._opening = asyncio.Lock()
        self._too_slow = 0
        self.cache = cache
        self._invalidations: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Connect; with a read cache, return only once invalidations are heard (none is missed
        after this returns)."""
        await self._broadcast.connect()
        if self.cache is not None and self.cache.enabled:
            ready = asyncio.get_running_loop().create_future()
            self._invalidations = asyncio.create_task(self._follow_invalidations(ready), name="pubsub invalidations")
            await ready
            self.cache.announce = self.announce

    async def ping(self) -> None:
        """Raises when the backend does not answer (Redis's PING; ``memory://`` always answers)."""
        if self._redis is not None:
            await self._redis.ping()

    async def disconnect(self) -> None:
        if self.cache is not None:
            self.cache.announce = None
        if self._invalidations is not None:
            self._invalidations.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._invalidations
            self._invalidations = None
        pumps = [channel.pump for channel in self._channels.values() if channel.pump is not None]
        for channel in self._channels.values():
            for inbox in channel.inboxes:
                inbox.close(PubSubUnavailable("the server is shutting down"))
        self._channels.clear()
        for pump in pumps:
            pump.cancel()
        for pump in pumps:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
        try:
            await self._broadcast.disconnect()
        except Exception:
            log.exception("the pub/sub listener had failed before disconnecting")

    async def publish(self, event: Event) -> None:
        if event.type == EventType.SESSION_ENDED and self.cache is not None:
            session = event.data.get("session")
            await self.cache.invalidate(Invalidation(event.account_id, session if isinstance(session, str) else None))
        try:
            await self._broadcast.publish(channels.account(event.account_id), event.to_json())
        except Exception:
            log.exception("event %s (%s) for account %s dropped", event.id, event.type.value, event.account_id)

    async def announce(self, invalidation: Invalidation) -> None:
        """Send ``invalidation`` to every process on this pub/sub (this one included)."""
        try:
            await self._broadcast.publish(channels.invalidations(), invalidation.to_json())
        except Exception:
            # The other processes keep what they hold for at most DOCSTORE_CACHE_SECONDS.
            log.exception("invalidation of account %s not sent", invalidation.account_id)

    async def _follow_invalidations(self, ready: asyncio.Future[None]) -> None:
        """Apply every invalidation to the cache; suspend the cache if the channel is lost."""
        assert self.cache is not None
        try:
            async with self._broadcast.subscribe(channels.invalidations()) as subscriber:
                ready.set_result(None)
                while True:
                    message = await subscriber.get()
                    try:
                        invalidation = Invalidation.from_json(message.message)
                    except (ValueError, KeyError, TypeError):
                        log.warning("malformed invalidation dropped: %.200r", message.message)
                        continue
                    self.cache.apply(invalidation)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.cache.suspend(f"lost the invalidation channel ({type(error).__name__})")
            if not ready.done():
                ready.set_result(None)
        else:
            # broadcaster ends a subscription without an error when it disconnects.
            self.cache.suspend("the invalidation channel closed")

    def subscribe(self, account_id: str) -> AbstractAsyncContextManager[Inbox]:
        return self.subscribe_many((account_id,))

    @contextlib.asynccontextmanager
    async def subscribe_many(self, account_ids: Sequence[str]) -> AsyncIterator[Inbox]:
        inbox = Inbox(self.buffer)
        joined: list[_Channel] = []
        try:
            for account_id in dict.fromkeys(account_ids):
                joined.append(await self._join(channels.account(account_id), inbox))
            yield inbox
        finally:
            closing = [task for task in (self._leave(channel, inbox) for channel in joined) if task is not None]
            if closing:
                # The last subscriber leaves once the backend has unsubscribed; a second
                # cancellation stops the waiting, never the unsubscribing.
                await asyncio.wait(closing)

    def subscribers(self, account_id: str) -> int:
        """Subscribers of the account in this process whose subscription is live."""
        channel = self._channels.get(channels.account(account_id))
        if channel is None or not channel.ready.done() or channel.ready.exception() is not None:
            return 0
        return len(channel.inboxes)

    def stats(self) -> PubSubStats:
        inboxes = [inbox for channel in self._channels.values() for inbox in channel.inboxes]
        return PubSubStats(
            channels=len(self._channels),
            subscribers=len(inboxes),
            buffered=sum(len(inbox) for inbox in inboxes),
            fullest=max((len(inbox) for inbox in inboxes), default=0),
            too_slow=self._too_slow,
        )

    async def _join(self, name: str, inbox: Inbox) -> _Channel:
        async with self._opening:
            channel = self._channels.get(name)
            if channel is None:
                channel = _Channel(name, asyncio.get_running_loop().create_future())
                channel.pump = asyncio.create_task(self._pump(channel), name=f"pubsub {name}")
                self._channels[name] = channel
            channel.inboxes.add(inbox)
            try:
                await asyncio.shield(channel.ready)
            except BaseException:
                self._leave(channel, inbox)
                raise
        return channel

    def _leave(self, channel: _Channel, inbox: Inbox) -> asyncio.Task[None] | None:
        """Forget ``inbox``; the channel's pump, stopping, if that was its last subscriber."""
        channel.inboxes.discard(inbox)
        if channel.inboxes or self._channels.get(channel.name) is not channel:
            return None
        del self._channels[channel.name]
        pump = channel.pump
        if pump is None:
            return None
        if not channel.ready.done():
            # Cancelling broadcaster's subscribe half-way leaves its bookkeeping inconsistent.
            channel.ready.add_done_callback(lambda _: pump.cancel())
            return None
        pump.cancel()
        return pump

    async def _pump(self, channel: _Channel) -> None:
        try:
            async with self._broadcast.subscribe(channel.name) as subscriber:
                if not channel.ready.done():
                    channel.ready.set_result(None)
                while True:
                    message = await subscriber.get()
                    try:
                        event = Event.from_json(message.message)
                    except (ValueError, KeyError, TypeError):
                        log.warning("malformed event on %s dropped: %.200r", channel.name, message.message)
                        continue
                    behind = [inbox for inbox in channel.inboxes if not inbox.offer(event)]
                    for inbox in behind:
                        channel.inboxes.discard(inbox)
                        self._too_slow += 1
                        log.warning(
                            "a subscriber of %s left %d events unread: subscription ended", channel.name, inbox.limit
                        )
        except Exception as error:
            if not channel.ready.done():
                channel.ready.set_exception(error)
                return
            log.exception("the pump of %s failed: its subscriptions end", channel.name)
            for inbox in channel.inboxes:
                inbox.close(PubSubUnavailable(f"lost the subscription to {channel.name}"))


async def announce_once(url: str, invalidation: Invalidation) -> None:
    """Publish one invalidation on ``url`` from a process that does not otherwise use the pub/sub
    (``docstore admin``). Logged, not raised, when it cannot be sent."""
    if urlsplit(url).scheme not in {"redis", "rediss"}:
        return  # memory:// reaches only this process, which keeps no cache
    pubsub = BroadcastPubSub(url)
    try:
        await pubsub.connect()
        await pubsub.announce(invalidation)
    except Exception:
        log.exception("invalidation of account %s not sent", invalidation.account_id)
    finally:
        with contextlib.suppress(Exception):
            await pubsub.disconnect()
