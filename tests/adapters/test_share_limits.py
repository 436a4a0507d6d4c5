"""Wrong share-link passwords counted per IP and per link, shared by every process through Redis
(two limiters on one Redis stand for two API processes), in memory otherwise."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from adapters.ratelimits import RateLimited, SharePasswordLimits


def limits(url: str) -> SharePasswordLimits:
    return SharePasswordLimits(url, per_ip=2, per_link=3, window_seconds=600)


def test_two_processes_on_one_redis_share_the_counts(redis_url: str) -> None:
    async def scenario() -> None:
        one, two = limits(redis_url), limits(redis_url)
        link = uuid.uuid4().hex
        await one.failed("203.0.113.1", link)
        await two.failed("203.0.113.1", link)

        with pytest.raises(RateLimited) as refused:
            await one.check("203.0.113.1", link)
        assert "from this IP address" in refused.value.message
        assert refused.value.retry_after_seconds >= 1
        await two.check("203.0.113.2", link)  # another IP: the link still has one left

        await one.failed("203.0.113.2", link)
        with pytest.raises(RateLimited) as closed:
            await two.check("203.0.113.3", link)  # the link's budget is spent, from anywhere
        assert "for this link" in closed.value.message

    asyncio.run(scenario())


def test_in_memory_a_check_counts_nothing() -> None:
    async def scenario() -> None:
        memory = limits("memory://")
        for _ in range(10):
            await memory.check("203.0.113.9", "link")
        await memory.failed("203.0.113.9", "link")
        await memory.check("203.0.113.9", "link")
        await memory.failed("203.0.113.9", "link")
        with pytest.raises(RateLimited):
            await memory.check("203.0.113.9", "link")

    asyncio.run(scenario())
