"""Tokens name the region that issued them, so another region can send their holder home."""

from __future__ import annotations

import pytest

from models import sessions


@pytest.mark.parametrize(
    ("token", "region"),
    [
        ("dst_us-west-2.abc_-DEF", "us-west-2"),
        ("dst_ap-southeast-2.x.y", "ap-southeast-2"),
        ("dst_abc_-DEF", None),  # issued before tokens named their region: this region's
        ("dst_.abc", None),
        ("xyz_us-west-2.abc", None),
        ("dst_us-west-2." + "a" * 200, None),
    ],
)
def test_region_of_reads_the_issuing_region(token: str, region: str | None) -> None:
    assert sessions.region_of(token) == region


def test_a_new_token_names_its_region_and_resolves_to_its_session(target) -> None:
    token, session = sessions.create("some-account", 60, region="us-west-2")

    assert token.startswith("dst_us-west-2.")
    assert sessions.region_of(token) == "us-west-2"
    resolved = sessions.resolve(token)
    assert resolved is not None
    assert resolved.account_id == "some-account"
    assert session.token_hash == sessions.hash_token(token)


def test_a_cached_session_is_served_until_it_expires_and_never_after(target) -> None:
    from datetime import timedelta

    from adapters.cache import ReadCache, session_key

    cache = ReadCache(seconds=3600, entries=10)
    token, session = sessions.create("some-account", 60, region="us-west-2")
    assert sessions.resolve(token, cache=cache) is not None  # read, and kept
    sessions.Session(token_hash=sessions.hash_token(token)).delete()  # gone from DynamoDB, not from the cache

    just_before = sessions.resolve(token, now=session.expires_at - timedelta(seconds=1), cache=cache)
    at_expiry = sessions.resolve(token, now=session.expires_at, cache=cache)

    assert just_before is not None
    assert (just_before.account_id, just_before.expires_at) == ("some-account", session.expires_at)
    assert at_expiry is None
    assert cache.get(session_key(sessions.fingerprint(token))) is None  # and dropped
