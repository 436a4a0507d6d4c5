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
