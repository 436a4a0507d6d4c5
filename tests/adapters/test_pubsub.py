"""BroadcastPubSub: the inbox bound, one backend subscription per account channel and process,
publishing that never fails its caller, and Redis between separate objects as between processes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import anyio
import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError

from adapters.pubsub import BroadcastPubSub, Inbox, SubscriberTooSlow
from events.envelope import Event, EventType
from tests.conftest import redis_server

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(main)


def ready(account_id: str, number: int) -> Event:
    return Event(EventType.DOCUMENT_READY, account_id, document_id=f"doc-{number}", id=f"event-{number}")


def numsub(url: str, *channels: str) -> dict[str, int]:
    client = redis.Redis.from_url(url)
    try:
        return {name.decode(): count for name, count in client.pubsub_numsub(*channels)}
    finally:
        client.close()


def test_an_inbox_holds_its_limit_and_the_next_event_closes_it_empty() -> None:
    async def main() -> None:
        inbox = Inbox(2)

        assert [inbox.offer(ready("a", 1)), inbox.offer(ready("a", 2))] == [True, True]
        assert len(inbox) == 2
        assert inbox.offer(ready("a", 3)) is False

        assert len(inbox) == 0
        with pytest.raises(SubscriberTooSlow):
            await inbox.get()
        assert inbox.offer(ready("a", 4)) is False
        assert len(inbox) == 0

    run(main)


def test_memory_subscribers_get_every_event_of_their_account_in_order() -> None:
    async def main() -> None:
        pubsub = BroadcastPubSub("memory://")
        await pubsub.connect()
        try:
            async with pubsub.subscribe("a") as first, pubsub.subscribe("a") as second, pubsub.subscribe("b") as other:
                for number in range(1, 6):
                    await pubsub.publish(ready("a" if number != 3 else "b", number))

                assert [(await first.get()).id for _ in range(4)] == ["event-1", "event-2", "event-4", "event-5"]
                assert [(await second.get()).id for _ in range(4)] == ["event-1", "event-2", "event-4", "event-5"]
                assert (await other.get()).id == "event-3"
                assert pubsub.stats().buffered == 0
        finally:
            await pubsub.disconnect()

    run(main)


def test_one_inbox_of_two_accounts_gets_both_in_order_and_leaves_both_channels(redis_url: str) -> None:
    """``subscribe_many``: a grantee's subscription to an owner's document (the owner's channel and
    its own), one inbox, one Redis subscription per channel, both gone when it leaves."""

    async def main() -> None:
        pubsub = BroadcastPubSub(redis_url)
        await pubsub.connect()
        try:
            async with pubsub.subscribe_many(("owner", "grantee", "owner")) as both, pubsub.subscribe("owner") as alone:
                assert (pubsub.subscribers("owner"), pubsub.subscribers("grantee")) == (2, 1)
                assert numsub(redis_url, "account:owner", "account:grantee") == {
                    "account:owner": 1,
                    "account:grantee": 1,
                }
                for number, account in enumerate(("owner", "grantee", "elsewhere", "owner"), start=1):
                    await pubsub.publish(ready(account, number))

                assert [(await both.get()).id for _ in range(3)] == ["event-1", "event-2", "event-4"]
                assert [(await alone.get()).id for _ in range(2)] == ["event-1", "event-4"]
                assert len(both) == 0

            assert numsub(redis_url, "account:owner", "account:grantee") == {
                "account:owner": 0,
                "account:grantee": 0,
            }
            assert pubsub.stats().channels == 0
        finally:
            await pubsub.disconnect()

    run(main)


def test_subscribers_of_one_account_share_one_redis_subscription_until_the_last_leaves(redis_url: str) -> None:
    async def main() -> None:
        pubsub = BroadcastPubSub(redis_url)
        await pubsub.connect()
        try:
            async with pubsub.subscribe("shared") as first, pubsub.subscribe("shared") as second:
                async with pubsub.subscribe("shared"), pubsub.subscribe("alone"):
                    assert numsub(redis_url, "account:shared", "account:alone") == {
                        "account:shared": 1,
                        "account:alone": 1,
                    }
                    assert (pubsub.subscribers("shared"), pubsub.subscribers("alone")) == (3, 1)

                assert numsub(redis_url, "account:shared", "account:alone") == {
                    "account:shared": 1,
                    "account:alone": 0,
                }
                await pubsub.publish(ready("shared", 1))
                assert ((await first.get()).id, (await second.get()).id) == ("event-1", "event-1")

            assert numsub(redis_url, "account:shared") == {"account:shared": 0}
            assert pubsub.stats().channels == 0
        finally:
            await pubsub.disconnect()

    run(main)


def test_an_event_published_by_one_process_reaches_another_over_redis_and_garbage_is_skipped(redis_url: str) -> None:
    async def main() -> None:
        worker, api = BroadcastPubSub(redis_url), BroadcastPubSub(redis_url)
        await worker.connect()
        await api.connect()
        try:
            async with api.subscribe("remote") as inbox:
                sent = ready("remote", 7)
                client = redis.asyncio.Redis.from_url(redis_url)
                await client.publish("account:remote", "not an event")
                await client.aclose()
                await worker.publish(sent)

                assert await inbox.get() == sent
        finally:
            await worker.disconnect()
            await api.disconnect()

    run(main)


def test_publishing_after_redis_went_away_logs_and_drops_the_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        with redis_server(tmp_path) as url:
            pubsub = BroadcastPubSub(url)
            await pubsub.connect()
        try:
            await pubsub.publish(ready("gone", 1))
        finally:
            await pubsub.disconnect()

    with caplog.at_level(logging.ERROR, logger="docstore.pubsub"):
        run(main)

    assert [record.getMessage() for record in caplog.records if record.name == "docstore.pubsub"] == [
        "event event-1 (DocumentReady) for account gone dropped"
    ]


def test_connecting_to_an_unreachable_redis_fails_at_once(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        pass
    pubsub = BroadcastPubSub(url)

    with pytest.raises(RedisConnectionError):
        run(pubsub.connect)


def test_an_invalidation_reaches_the_cache_of_every_process_on_redis(tmp_path: Path) -> None:
    from adapters.cache import Invalidation, ReadCache, account_key, session_key
    from models.sessions import fingerprint

    caches = [ReadCache(seconds=60, entries=10), ReadCache(seconds=60, entries=10)]
    for cache in caches:
        for key in (account_key("acc-1"), account_key("acc-2"), session_key(fingerprint("dst_token"))):
            cache.put(key, "kept", epoch=cache.epoch())

    async def until_dropped(cache: ReadCache, key: str) -> None:
        for _ in range(1000):
            if cache.get(key) is None:
                return
            await anyio.sleep(0.01)
        raise AssertionError(f"{key} still cached after 10 s")

    async def main() -> None:
        with redis_server(tmp_path / "redis") as url:
            first, second = (BroadcastPubSub(url, cache=cache) for cache in caches)
            await first.connect()
            await second.connect()
            try:
                await first.announce(Invalidation("acc-1"))  # a plan change, say
                await until_dropped(caches[1], account_key("acc-1"))
                signed_out = Event(EventType.SESSION_ENDED, "acc-2", data={"session": fingerprint("dst_token")})
                await second.publish(signed_out)  # signOut's event drops the session everywhere
                await until_dropped(caches[0], session_key(fingerprint("dst_token")))
            finally:
                await first.disconnect()
                await second.disconnect()

    run(main)

    for cache in caches:
        assert cache.get(account_key("acc-1")) is None
        assert cache.get(session_key(fingerprint("dst_token"))) is None
        assert cache.suspended is None
        assert cache.get(account_key("acc-2")) == "kept"  # a session ended, not the account
