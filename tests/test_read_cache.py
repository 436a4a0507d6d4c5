"""The read cache across processes: two real API processes (uvicorn) sharing one Redis and one moto,
each keeping sessions and accounts for 300 s. Only an invalidation can make the second process see
a change the first one made, and it sees it on its very next call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import plain_http
from tests.client import PASSWORD, User, operation
from tests.serving import Served, docstore, on_aws, start

CACHE_SECONDS = "300"


def environment(aws_endpoint: str, redis_url: str) -> dict[str, str]:
    return on_aws(
        aws_endpoint,
        "test",
        DOCSTORE_PUBSUB_URL=redis_url,
        DOCSTORE_RUN_WORKERS="false",
        DOCSTORE_CACHE_SECONDS=CACHE_SECONDS,
    )


@pytest.fixture(scope="module")
def apis(redis_url: str, aws_endpoint: str, target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two ``docstore serve`` processes on the session's AWS and one Redis."""
    env = environment(aws_endpoint, redis_url)
    processes: list[Served] = []
    try:
        for number in range(2):
            folder = tmp_path_factory.mktemp(f"cache-api-{number}")
            processes.append(start("serve", env=env, data_dir=folder))
        yield [process.url for process in processes]
    finally:
        for process in processes:
            process.end()


def call(url: str, name: str, token: str | None = None, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"query": operation(name), "variables": variables or {}}
    response = plain_http.post(f"{url}/graphql", json=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def codes(answer: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in answer.get("errors", [])]


def sign_up(url: str, email: str) -> User:
    result = call(url, "SignUp", variables={"input": {"email": email, "password": PASSWORD}})["data"]["signUp"]
    assert result["__typename"] == "AuthPayload", result
    return User(token=result["token"], id=result["account"]["id"], email=email)


def content_search(url: str, user: User) -> str:
    """What a content search answers: PremiumRequiredError on FREE, SearchConnection on PREMIUM."""
    answer = call(url, "Search", user.token, {"query": "content:invoice"})
    assert "errors" not in answer, answer
    typename: str = answer["data"]["search"]["__typename"]
    return typename


def admin(action: str, email: str, aws_endpoint: str, redis_url: str) -> None:
    done = docstore("admin", action, email, env=environment(aws_endpoint, redis_url))
    assert done.returncode == 0, done.stderr


@pytest.fixture
def user(apis: list[str], tmp_path: Path) -> User:
    return sign_up(apis[0], f"cache-{tmp_path.name.lower()}@example.com")


def test_a_token_signed_out_in_one_process_is_refused_by_the_other_at_once(apis: list[str], user: User) -> None:
    first, second = apis
    for url in apis:  # both processes hold the session and the account now
        assert call(url, "Documents", user.token)["data"]["documents"]["edges"] == []

    signed_out = call(first, "SignOut", user.token)
    refused = call(second, "Documents", user.token)

    assert signed_out["data"] == {"signOut": {"revoked": True}}
    assert codes(refused) == ["UNAUTHENTICATED"]
    assert refused["data"] is None
    assert codes(call(first, "Documents", user.token)) == ["UNAUTHENTICATED"]


def test_a_plan_change_in_one_process_holds_in_the_other_at_once(apis: list[str], user: User) -> None:
    first, second = apis
    assert [content_search(url, user) for url in apis] == ["PremiumRequiredError", "PremiumRequiredError"]

    upgraded = call(first, "UpgradePlan", user.token, {"input": {"plan": "PREMIUM"}})["data"]["upgradePlan"]
    assert upgraded["__typename"] == "PlanChangePayload", upgraded
    assert content_search(second, user) == "SearchConnection"

    call(second, "UpgradePlan", user.token, {"input": {"plan": "FREE"}})
    assert content_search(first, user) == "PremiumRequiredError"


def test_the_cache_serves_a_change_made_behind_its_back_until_it_is_invalidated(
    apis: list[str], user: User, aws_endpoint: str, redis_url: str, target
) -> None:
    """The control: a plan written straight into DynamoDB (no invalidation) is not seen by a
    process that holds the account; `docstore admin` (which invalidates the account) makes it seen."""
    second = apis[1]
    assert [content_search(url, user) for url in apis] == ["PremiumRequiredError", "PremiumRequiredError"]
    dynamodb = target.client("dynamodb")

    def plan(value: str) -> None:
        dynamodb.update_item(
            TableName="test-accounts",
            Key={"id": {"S": user.id}},
            UpdateExpression="SET #plan = :plan",
            ExpressionAttributeNames={"#plan": "plan"},
            ExpressionAttributeValues={":plan": {"S": value}},
        )

    plan("PREMIUM")
    try:
        assert content_search(second, user) == "PremiumRequiredError"  # served from its cache

        admin("grant", user.email, aws_endpoint, redis_url)  # every process told to read it again

        assert [content_search(url, user) for url in apis] == ["SearchConnection", "SearchConnection"]
    finally:
        plan("FREE")
        admin("revoke", user.email, aws_endpoint, redis_url)
    assert [content_search(url, user) for url in apis] == ["PremiumRequiredError", "PremiumRequiredError"]


def test_the_admin_role_is_never_served_from_the_cache(apis: list[str], user: User, target) -> None:
    """A role is read fresh for every check: even a change no process was told of holds at once."""
    for url in apis:
        assert codes(call(url, "Dashboard", user.token)) == ["FORBIDDEN"]
    dynamodb = target.client("dynamodb")

    def role(value: str) -> None:
        dynamodb.update_item(
            TableName="test-accounts",
            Key={"id": {"S": user.id}},
            UpdateExpression="SET #role = :role",
            ExpressionAttributeNames={"#role": "role"},
            ExpressionAttributeValues={":role": {"S": value}},
        )

    role("ADMIN")
    try:
        assert [codes(call(url, "Dashboard", user.token)) for url in apis] == [[], []]
    finally:
        role("USER")
    assert [codes(call(url, "Dashboard", user.token)) for url in apis] == [["FORBIDDEN"], ["FORBIDDEN"]]
