"""The read cache's bounds (entries, seconds, a session's own life) and its invalidations."""

from __future__ import annotations

import anyio
import pytest

from adapters.cache import Invalidation, ReadCache, account_key, session_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def cache_of(clock: Clock, *, seconds: float = 5, entries: int = 3) -> ReadCache:
    return ReadCache(seconds=seconds, entries=entries, timer=clock)


def test_an_entry_is_served_until_its_seconds_are_up_and_not_after(clock: Clock) -> None:
    cache = cache_of(clock)
    assert cache.put("a", 1, epoch=cache.epoch())

    clock.now += 4.999
    assert cache.get("a") == 1
    clock.now += 0.001
    assert cache.get("a") is None
    assert len(cache) == 0


def test_an_entry_with_a_shorter_life_than_the_cache_ends_with_it(clock: Clock) -> None:
    cache = cache_of(clock, seconds=5)
    cache.put("session", "s", epoch=cache.epoch(), seconds=1.5)
    cache.put("long", "l", epoch=cache.epoch(), seconds=60)

    clock.now += 1.5
    assert cache.get("session") is None
    assert cache.get("long") == "l"
    clock.now += 3.5
    assert cache.get("long") is None  # never past the cache's own seconds


def test_an_already_ended_life_is_not_kept(clock: Clock) -> None:
    cache = cache_of(clock)

    assert not cache.put("session", "s", epoch=cache.epoch(), seconds=0)
    assert not cache.put("session", "s", epoch=cache.epoch(), seconds=-3)
    assert len(cache) == 0


def test_past_its_size_the_least_recently_used_entry_goes(clock: Clock) -> None:
    cache = cache_of(clock, entries=3)
    for key in ("a", "b", "c"):
        cache.put(key, key.upper(), epoch=cache.epoch())
    assert cache.get("a") == "A"  # now b is the least recently used

    cache.put("d", "D", epoch=cache.epoch())

    assert len(cache) == 3
    assert [cache.get(key) for key in ("a", "b", "c", "d")] == ["A", None, "C", "D"]


def test_a_read_that_raced_an_invalidation_is_not_kept(clock: Clock) -> None:
    cache = cache_of(clock)
    epoch = cache.epoch()  # a reader starts reading DynamoDB ...
    cache.apply(Invalidation("acc-1"))  # ... the account changes meanwhile

    assert not cache.put(account_key("acc-1"), "as read before the change", epoch=epoch)
    assert cache.get(account_key("acc-1")) is None
    assert cache.put(account_key("acc-1"), "read again", epoch=cache.epoch())


def test_an_invalidation_drops_the_account_or_the_session_it_names_only(clock: Clock) -> None:
    cache = cache_of(clock, entries=10)
    keys = (account_key("acc-1"), account_key("acc-2"), session_key("fp-1"), session_key("fp-2"))
    for key in keys:
        cache.put(key, key, epoch=cache.epoch())

    cache.apply(Invalidation("acc-1", session="fp-1"))  # a session of acc-1 ended
    assert [cache.get(key) for key in keys] == [keys[0], keys[1], None, keys[3]]

    cache.apply(Invalidation("acc-1"))  # acc-1 changed
    assert [cache.get(key) for key in keys] == [None, keys[1], None, keys[3]]


def test_invalidate_drops_here_and_announces_to_the_other_processes(clock: Clock) -> None:
    cache = cache_of(clock)
    cache.put(account_key("acc-1"), "old", epoch=cache.epoch())
    announced: list[Invalidation] = []

    async def announce(invalidation: Invalidation) -> None:
        announced.append(invalidation)

    cache.announce = announce
    anyio.run(cache.invalidate, Invalidation("acc-1"))

    assert cache.get(account_key("acc-1")) is None
    assert announced == [Invalidation("acc-1")]


@pytest.mark.parametrize(("seconds", "entries"), [(0, 100), (5, 0)])
def test_zero_seconds_or_entries_keeps_nothing(clock: Clock, seconds: int, entries: int) -> None:
    cache = cache_of(clock, seconds=seconds, entries=entries)

    assert not cache.enabled
    assert not cache.put("a", 1, epoch=cache.epoch())
    assert cache.get("a") is None


def test_a_suspended_cache_serves_and_keeps_nothing(clock: Clock) -> None:
    cache = cache_of(clock)
    cache.put("a", 1, epoch=cache.epoch())

    cache.suspend("lost the invalidation channel")

    assert not cache.enabled
    assert cache.get("a") is None
    assert not cache.put("a", 1, epoch=cache.epoch())


def test_an_invalidation_survives_its_trip_through_json() -> None:
    for invalidation in (Invalidation("acc-1"), Invalidation("acc-1", session="fp")):
        assert Invalidation.from_json(invalidation.to_json()) == invalidation
    for raw in ('{"session": null}', '{"account_id": 3}', '{"account_id": "a", "session": 4}', "[]"):
        with pytest.raises((ValueError, KeyError, TypeError)):
            Invalidation.from_json(raw)
