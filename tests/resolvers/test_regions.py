"""One region (the default): nothing is redirected, and tokens of either form work. Two: the
viewer lookup sends tokens and accounts of the other region home."""

from __future__ import annotations

import asyncio

import pytest
from starlette.responses import Response
from ulid import ULID

from access.context import Context
from adapters.blocking import Blocking
from models import accounts, sessions
from runtime.services import Services
from schema.regions import WrongRegion
from settings import Settings
from tests import plain_http
from tests.client import Api, User, error_codes, operation


def test_tokens_name_this_region(user: User) -> None:
    assert user.token.startswith("dst_us-west-2.")


def test_a_token_of_the_old_form_still_signs_in(api: Api, user: User) -> None:
    token, _ = sessions.create(user.id, 60)  # as issued before tokens named their region
    assert sessions.region_of(token) is None

    assert api.data("Me", token=token)["me"]["id"] == user.id


def test_a_token_naming_a_region_not_configured_is_only_unauthenticated(live_url: str, user: User) -> None:
    secret = user.token.partition(".")[2]
    response = plain_http.post(
        f"{live_url}/graphql",
        json={"query": operation("Me")},
        headers={"Authorization": f"Bearer dst_ap-southeast-2.{secret}"},
    )

    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
    assert "x-docstore-home-endpoint" not in response.headers
    assert "x-docstore-home-region" not in response.headers


def regional_context(token: str) -> Context:
    settings = Settings(regions=(("us-west-2", "http://us.example"), ("ap-southeast-2", "http://ap.example")))
    services = Services(
        settings=settings,
        objects=None,  # type: ignore[arg-type]  # finding the viewer needs only settings and blocking
        blocking=Blocking(2),
        passwords=None,  # type: ignore[arg-type]
        publisher=None,  # type: ignore[arg-type]
        events=None,  # type: ignore[arg-type]
        queues={},
        mailer=None,  # type: ignore[arg-type]
        hashing=None,  # type: ignore[arg-type]
        auth_limits=None,  # type: ignore[arg-type]
        request_limits=None,  # type: ignore[arg-type]
        connections=None,  # type: ignore[arg-type]
        outbox=None,  # type: ignore[arg-type]
    )
    return Context(services=services, response=Response(), token=token)


def test_a_session_of_a_replica_is_sent_home_all_the_same(target) -> None:
    replica = accounts.create(
        email=f"replica-{ULID()}@example.com".lower(), password_hash="h", plan="FREE", home_region="ap-southeast-2"
    )
    token, _ = sessions.create(replica.id, 60)  # cannot happen: replicas never get sessions
    context = regional_context(token)

    with pytest.raises(WrongRegion) as raised:
        asyncio.run(context.viewer())

    assert raised.value.extensions == {
        "code": "WRONG_REGION",
        "homeRegion": "ap-southeast-2",
        "endpoint": "http://ap.example",
    }
    assert context.response is not None
    assert context.response.headers["x-docstore-home-endpoint"] == "http://ap.example"
    assert context.response.headers["x-docstore-home-region"] == "ap-southeast-2"


def test_a_token_of_a_configured_region_is_sent_home_without_a_lookup() -> None:
    context = regional_context("dst_ap-southeast-2.never-issued")

    with pytest.raises(WrongRegion) as raised:
        asyncio.run(context.viewer())

    assert (raised.value.home_region, raised.value.endpoint) == ("ap-southeast-2", "http://ap.example")
