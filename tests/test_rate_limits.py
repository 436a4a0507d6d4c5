"""Rate and concurrency limits, against a real uvicorn with small limits: sign-in and sign-up per
client IP and per email, the password hashing pool, WebSocket connections per account and
operations per connection. Each refusal says which limit, keeps nothing, and leaves an ordinary
request sent at the same time answered."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
from argon2 import PasswordHasher

from adapters import connection_slots
from adapters.connection_slots import RedisConnectionSlots
from adapters.ratelimits import AuthLimits, RateLimited, RequestLimits
from models import accounts, sessions
from tests import plain_http
from tests.client import PASSWORD, Api, User, operation
from tests.conftest import LiveServer, documents_of
from tests.subscriptions.conftest import bearer, open_socket

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from runtime.services import Services
    from settings import Settings

LIMITS = {
    "auth_attempts_per_ip": 3,
    "auth_attempts_per_email": 2,
    "auth_window_seconds": 3600,
    "hashing_threads": 1,
    "hashing_queue": 1,
    "ws_connections_per_account": 2,
    "ws_subscriptions_per_connection": 2,
}


@pytest.fixture(scope="module")
def limited(settings: Settings, target: Any) -> Iterator[LiveServer]:
    server = LiveServer(settings.with_overrides(run_workers=False, **LIMITS))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def services(limited: LiveServer) -> Services:
    """The limited server's services, with every attempt count forgotten."""
    services: Services = limited.app.state.services
    limited.call(services.auth_limits.reset())
    return services


@pytest.fixture
def limited_api(limited: LiveServer, services: Services) -> Api:
    return Api(limited.url)


def new_email() -> str:
    return f"limits-{uuid.uuid4().hex[:12]}@example.com"


def stored_user(settings: Settings) -> User:
    """An account with PASSWORD and a session, made in storage: it spends no attempt."""
    record = accounts.create(
        email=new_email(), password_hash=PasswordHasher().hash(PASSWORD), plan="FREE", home_region=settings.region
    )
    token, _ = sessions.create(record.id, 3600, region=settings.region)
    return User(token=token, id=record.id, email=record.email)


def sessions_of(account_id: str) -> int:
    return sum(1 for _ in sessions.Session.scan(sessions.Session.account_id == account_id, consistent_read=True))


def sign_in(api: Api, email: str, password: str = PASSWORD) -> dict[str, Any]:
    result: dict[str, Any] = api.data("SignIn", {"input": {"email": email, "password": password}})["signIn"]
    return result


def sign_up(api: Api, email: str, password: str = PASSWORD) -> dict[str, Any]:
    result: dict[str, Any] = api.data("SignUp", {"input": {"email": email, "password": password}})["signUp"]
    return result


def beside_me(api: Api, user: User, attack: Callable[[], Any]) -> Any:
    """Run ``attack`` while ``user`` asks Me; checks Me was answered; the attack's result."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        attacking = pool.submit(attack)
        ordinary = pool.submit(api.data, "Me", None, user.token)
        assert ordinary.result(timeout=120)["me"]["email"] == user.email
        return attacking.result(timeout=120)


def test_sign_in_over_the_email_limit_is_refused_and_starts_no_session(limited_api: Api, settings: Settings) -> None:
    owner, bystander = stored_user(settings), stored_user(settings)
    assert [sign_in(limited_api, owner.email, "wrong password")["__typename"] for _ in range(2)] == [
        "InvalidCredentialsError",
        "InvalidCredentialsError",
    ]
    before = sessions_of(owner.id)

    refused = beside_me(limited_api, bystander, lambda: sign_in(limited_api, owner.email.upper()))

    assert refused["__typename"] == "RateLimitedError"
    assert "DOCSTORE_AUTH_ATTEMPTS_PER_EMAIL" in refused["message"]
    assert "attempts for this email: at most 2 every 3600 seconds" in refused["message"]
    assert 3500 <= refused["retryAfterSeconds"] <= 3600
    assert sessions_of(owner.id) == before == 1  # only the stored one


def test_sign_up_over_the_ip_limit_is_refused_and_creates_no_account(limited_api: Api, settings: Settings) -> None:
    bystander = stored_user(settings)
    # Refused input counts too: three attempts, none of them stored.
    for _ in range(3):
        assert sign_up(limited_api, new_email(), "short")["__typename"] == "ValidationError"
    email = new_email()

    refused = beside_me(limited_api, bystander, lambda: sign_up(limited_api, email))

    assert refused["__typename"] == "RateLimitedError"
    assert "from this IP address" in refused["message"]
    assert "DOCSTORE_AUTH_ATTEMPTS_PER_IP" in refused["message"]
    assert 3500 <= refused["retryAfterSeconds"] <= 3600
    assert accounts.find_by_email(email) is None
    # Sign-in shares the IP's budget.
    assert sign_in(limited_api, bystander.email)["__typename"] == "RateLimitedError"
    assert sessions_of(bystander.id) == 1


def test_a_right_password_spends_nothing_and_a_spent_budget_refuses_it_too(
    limited_api: Api, settings: Settings
) -> None:
    owner = stored_user(settings)
    # Four right passwords, over the email's budget of 2 and the IP's of 3: none is counted.
    assert [sign_in(limited_api, owner.email)["__typename"] for _ in range(4)] == ["AuthPayload"] * 4
    assert sessions_of(owner.id) == 5
    # Two wrong ones spend the email's budget; then the right password is refused too.
    assert [sign_in(limited_api, owner.email, "wrong password")["__typename"] for _ in range(2)] == [
        "InvalidCredentialsError",
        "InvalidCredentialsError",
    ]

    refused = sign_in(limited_api, owner.email)

    assert refused["__typename"] == "RateLimitedError"
    assert "DOCSTORE_AUTH_ATTEMPTS_PER_EMAIL" in refused["message"]
    assert sessions_of(owner.id) == 5


def test_sign_ups_spend_the_ip_budget_and_not_the_email_budget(limited_api: Api, settings: Settings) -> None:
    owner = stored_user(settings)
    assert [sign_up(limited_api, owner.email)["__typename"] for _ in range(2)] == ["EmailTakenError"] * 2
    # The email's budget (2) is untouched: its owner signs in. The IP's (3) has one attempt left.
    assert sign_in(limited_api, owner.email)["__typename"] == "AuthPayload"
    assert sign_in(limited_api, owner.email, "wrong password")["__typename"] == "InvalidCredentialsError"

    refused = sign_in(limited_api, owner.email)

    assert refused["__typename"] == "RateLimitedError"
    assert "DOCSTORE_AUTH_ATTEMPTS_PER_IP" in refused["message"]
    assert sessions_of(owner.id) == 2


def test_a_full_hashing_pool_refuses_sign_in_and_up_while_me_is_answered(
    limited: LiveServer, limited_api: Api, services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, bystander = stored_user(settings), stored_user(settings)
    gate = threading.Event()
    looked_up: list[str] = []
    find_by_email = accounts.find_by_email

    def spied(email: str) -> accounts.Account | None:
        looked_up.append(email)
        return find_by_email(email)

    monkeypatch.setattr(accounts, "find_by_email", spied)

    async def occupy() -> list[asyncio.Task[bool]]:
        # One hash running and one waiting: the pool (1 thread) and its queue (1) are full.
        held = [asyncio.create_task(services.hashing.run(gate.wait, 60)) for _ in range(2)]
        await asyncio.sleep(0)  # each task runs up to its wait, admitted
        assert services.hashing.admitted == 2
        return held

    async def drain(held: list[asyncio.Task[bool]]) -> None:
        await asyncio.gather(*held)

    held = limited.call(occupy())
    try:
        refused_in = beside_me(limited_api, bystander, lambda: sign_in(limited_api, owner.email))
        email = new_email()
        refused_up = beside_me(limited_api, bystander, lambda: sign_up(limited_api, email))
    finally:
        gate.set()
        limited.call(drain(held))

    for refused in (refused_in, refused_up):
        assert refused["__typename"] == "RateLimitedError"
        assert "DOCSTORE_HASHING_THREADS" in refused["message"]
        assert refused["retryAfterSeconds"] == 1
    assert looked_up == []  # refused before the account was read
    assert sessions_of(owner.id) == 1
    assert accounts.find_by_email(email) is None
    assert services.hashing.admitted == 0
    assert sign_in(limited_api, owner.email)["__typename"] == "AuthPayload"


def test_attempts_are_allowed_again_once_the_window_passes() -> None:
    async def run() -> None:
        limits = AuthLimits("memory://", per_ip=1, per_email=1, window_seconds=1)
        await limits.attempt("192.0.2.1", "a@example.com")
        with pytest.raises(RateLimited) as refused:
            await limits.attempt("192.0.2.1")
        assert refused.value.retry_after_seconds == 1
        await asyncio.sleep(refused.value.retry_after_seconds + 0.1)
        await limits.attempt("192.0.2.1", "a@example.com")

    asyncio.run(run())


ATTEMPT_FROM_ANOTHER_PROCESS = """
import asyncio, sys
from adapters.ratelimits import AuthLimits
limits = AuthLimits(sys.argv[1], per_ip=2, per_email=5, window_seconds=2)
async def main():
    await limits.attempt(sys.argv[2])
    await limits.attempt(sys.argv[2])
asyncio.run(main())
"""


def test_attempts_counted_in_redis_are_refused_in_another_process(redis_url: str) -> None:
    ip = f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    subprocess.run([sys.executable, "-c", ATTEMPT_FROM_ANOTHER_PROCESS, redis_url, ip], check=True, timeout=60)

    async def run() -> None:
        limits = AuthLimits(redis_url, per_ip=2, per_email=5, window_seconds=2)
        with pytest.raises(RateLimited) as refused:
            await limits.attempt(ip)
        assert "DOCSTORE_AUTH_ATTEMPTS_PER_IP" in refused.value.message
        assert 1 <= refused.value.retry_after_seconds <= 2
        await asyncio.sleep(refused.value.retry_after_seconds + 0.1)
        await limits.attempt(ip)  # the window passed: allowed again, in any process

    asyncio.run(run())


def ws_url(server: LiveServer) -> str:
    return server.url.replace("http://", "ws://", 1) + "/graphql"


def held(server: LiveServer, services: Services, account_id: str) -> int:
    return server.call(services.connections.holding(account_id))


def test_a_connection_over_the_account_limit_is_closed_with_4429(
    limited: LiveServer, services: Services, settings: Settings
) -> None:
    owner, bystander = stored_user(settings), stored_user(settings)
    url = ws_url(limited)
    with open_socket(url) as first, open_socket(url) as second:
        for socket in (first, second):
            socket.init(bearer(owner))
            assert socket.receive() == {"type": "connection_ack"}

        with open_socket(url) as third, open_socket(url) as ordinary:
            third.init(bearer(owner))
            ordinary.init(bearer(bystander))
            code, reason = third.closed()
            assert ordinary.receive() == {"type": "connection_ack"}

        assert code == 4429
        assert reason == "At most 2 connections an account (DOCSTORE_WS_CONNECTIONS_PER_ACCOUNT)."
        assert held(limited, services, owner.id) == 2

        first.connection.close()
        deadline = time.monotonic() + 15
        while held(limited, services, owner.id) != 1:
            assert time.monotonic() < deadline, "the closed connection's slot was never given back"
            time.sleep(0.02)
        with open_socket(url) as again:
            again.init(bearer(owner))
            assert again.receive() == {"type": "connection_ack"}
    deadline = time.monotonic() + 15
    while held(limited, services, owner.id) != 0:
        assert time.monotonic() < deadline, "slots were never given back"
        time.sleep(0.02)


def test_an_operation_over_the_connection_limit_is_refused_and_the_connection_stays(
    limited: LiveServer, services: Services, settings: Settings
) -> None:
    owner = stored_user(settings)
    with open_socket(ws_url(limited)) as socket:
        socket.init(bearer(owner))
        assert socket.receive() == {"type": "connection_ack"}
        socket.subscribe("1", "QuotaEvents")
        socket.subscribe("2", "QuotaEvents")

        socket.subscribe("3", "Me")
        refused = socket.receive()

        assert refused["id"] == "3"
        assert refused["type"] == "error"
        (error,) = refused["payload"]
        assert error["message"] == (
            "This connection runs 2 operations already, the most one connection may "
            "(DOCSTORE_WS_SUBSCRIPTIONS_PER_CONNECTION); complete one first, or open another connection."
        )
        assert error["extensions"] == {"code": "RATE_LIMITED", "limit": 2}

        socket.send({"id": "1", "type": "complete"})
        socket.subscribe("4", "Me")
        answered = socket.receive()
        assert answered["id"] == "4"
        assert answered["type"] == "next"
        assert answered["payload"]["data"]["me"]["email"] == owner.email
        assert socket.receive() == {"id": "4", "type": "complete"}


@pytest.fixture(scope="module")
def redis_pair(settings: Settings, target: Any, redis_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two API servers sharing one real Redis (their events and their counts), each its own app."""
    shared = settings.with_overrides(run_workers=False, pubsub_url=redis_url, **LIMITS)
    first, second = LiveServer(shared), LiveServer(shared)
    first.start()
    try:
        second.start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def test_connections_are_counted_across_servers_sharing_redis(
    redis_pair: tuple[LiveServer, LiveServer], settings: Settings
) -> None:
    first, second = redis_pair
    first_services: Services = first.app.state.services
    owner, bystander = stored_user(settings), stored_user(settings)
    with open_socket(ws_url(first)) as one, open_socket(ws_url(second)) as two:
        for socket in (one, two):
            socket.init(bearer(owner))
            assert socket.receive() == {"type": "connection_ack"}

        with open_socket(ws_url(first)) as third, open_socket(ws_url(second)) as ordinary:
            third.init(bearer(owner))
            ordinary.init(bearer(bystander))
            code, reason = third.closed()
            assert ordinary.receive() == {"type": "connection_ack"}

        assert (code, reason) == (4429, "At most 2 connections an account (DOCSTORE_WS_CONNECTIONS_PER_ACCOUNT).")
        assert held(first, first_services, owner.id) == 2

        two.connection.close()  # a slot taken on the second server, given back there
        deadline = time.monotonic() + 15
        while held(first, first_services, owner.id) != 1:
            assert time.monotonic() < deadline, "the closed connection's slot was never given back"
            time.sleep(0.02)
        with open_socket(ws_url(first)) as again:
            again.init(bearer(owner))
            assert again.receive() == {"type": "connection_ack"}


def test_sign_in_attempts_are_counted_across_servers_sharing_redis(
    redis_pair: tuple[LiveServer, LiveServer], settings: Settings
) -> None:
    first, second = redis_pair
    first.call(first.app.state.services.auth_limits.reset())
    owner = stored_user(settings)
    on_first, on_second = Api(first.url), Api(second.url)
    assert sign_in(on_first, owner.email, "wrong password")["__typename"] == "InvalidCredentialsError"
    assert sign_in(on_first, owner.email, "wrong password")["__typename"] == "InvalidCredentialsError"

    refused = sign_in(on_second, owner.email)

    assert refused["__typename"] == "RateLimitedError"
    assert "DOCSTORE_AUTH_ATTEMPTS_PER_EMAIL" in refused["message"]
    assert sessions_of(owner.id) == 1


@pytest.fixture(scope="module")
def budgeted(settings: Settings, target: Any) -> Iterator[LiveServer]:
    """A server allowing 3 operations an account an hour."""
    server = LiveServer(
        settings.with_overrides(run_workers=False, requests_per_account=3, requests_window_seconds=3600)
    )
    server.start()
    yield server
    server.stop()


def post(server: LiveServer, name: str, variables: dict[str, Any] | None, token: str) -> Any:
    return plain_http.post(
        f"{server.url}/graphql",
        json={"query": operation(name), "operationName": name, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


def test_operations_over_the_account_budget_answer_429_and_run_nothing(
    budgeted: LiveServer, settings: Settings
) -> None:
    budgeted.call(budgeted.app.state.services.request_limits.reset())
    owner, bystander = stored_user(settings), stored_user(settings)
    assert [post(budgeted, "Me", None, owner.token).status_code for _ in range(3)] == [200, 200, 200]
    upload = {"input": {"filename": "over.txt", "contentType": "text/plain", "size": 10}}

    refused = post(budgeted, "RequestUpload", upload, owner.token)

    assert refused.status_code == 429
    body = refused.json()
    assert body.keys() == {"data", "errors"}
    assert body["data"] is None
    (error,) = body["errors"]
    retry = error["extensions"]["retryAfterSeconds"]
    # The sliding window counter frees a slot by the end of the current fixed window at the latest.
    assert 1 <= retry <= 3600
    assert refused.headers["retry-after"] == str(retry)
    assert error["extensions"] == {
        "code": "RATE_LIMITED",
        "retryAfterSeconds": retry,
        "limit": "DOCSTORE_REQUESTS_PER_ACCOUNT",
        "allowed": 3,
    }
    assert error["message"] == (
        "Too many requests for this account: at most 3 every 3600 seconds (DOCSTORE_REQUESTS_PER_ACCOUNT). "
        f"Try again in {retry} seconds."
    )
    assert documents_of(owner.id) == []
    # Counted per account, not per session: a new session of the same account has no fresh budget.
    token, _ = sessions.create(owner.id, 3600, region=settings.region)
    assert post(budgeted, "Me", None, token).status_code == 429
    # Another account is served; signing in carries no session, so it is not counted.
    assert post(budgeted, "Me", None, bystander.token).json()["data"]["me"]["email"] == bystander.email
    assert sign_in(Api(budgeted.url), owner.email)["__typename"] == "AuthPayload"


def test_a_subscribe_over_the_account_budget_answers_an_error_and_the_connection_stays(
    budgeted: LiveServer, settings: Settings
) -> None:
    budgeted.call(budgeted.app.state.services.request_limits.reset())
    owner = stored_user(settings)
    with open_socket(ws_url(budgeted)) as socket:
        socket.init(bearer(owner))
        assert socket.receive() == {"type": "connection_ack"}
        for id in ("1", "2", "3"):
            socket.subscribe(id, "Me")
            assert socket.receive()["type"] == "next"
            assert socket.receive() == {"id": id, "type": "complete"}

        socket.subscribe("4", "Me")
        refused = socket.receive()

        assert refused["id"] == "4"
        assert refused["type"] == "error"
        (error,) = refused["payload"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["limit"] == "DOCSTORE_REQUESTS_PER_ACCOUNT"
        # HTTP shares the budget with the socket.
        assert post(budgeted, "Me", None, owner.token).status_code == 429
        budgeted.call(budgeted.app.state.services.request_limits.reset())
        socket.subscribe("5", "Me")
        answered = socket.receive()
        assert answered["id"] == "5"
        assert answered["payload"]["data"]["me"]["email"] == owner.email


def test_request_budgets_are_shared_through_redis_and_zero_counts_nothing(redis_url: str) -> None:
    account = f"account-{uuid.uuid4().hex}"

    async def run() -> None:
        first, second = RequestLimits(redis_url, 2, 60), RequestLimits(redis_url, 2, 60)
        await first.hit(account)
        await second.hit(account)
        with pytest.raises(RateLimited) as refused:
            await first.hit(account)
        assert "DOCSTORE_REQUESTS_PER_ACCOUNT" in refused.value.message
        assert 1 <= refused.value.retry_after_seconds <= 60
        unlimited = RequestLimits("memory://", 0, 60)
        for _ in range(100):
            await unlimited.hit(account)

    asyncio.run(run())


def test_hundreds_of_sockets_closing_at_once_give_every_slot_back(redis_url: str) -> None:
    """Each slot taken and given back is a Redis command: 300 at once are more than a pool of 100
    connections (redis-py's default, which then refused with MaxConnectionsError) or of 32."""
    accounts_ = [f"burst-{uuid.uuid4().hex}" for _ in range(30)]

    async def run() -> None:
        slots = RedisConnectionSlots(redis_url, limit=10)
        try:
            taken = await asyncio.gather(*(slots.acquire(account) for account in accounts_ for _ in range(10)))
            assert None not in taken
            assert [await slots.holding(account) for account in accounts_] == [10] * 30
            held = list(slots.mine.items())
            assert len(held) == 300
            await asyncio.gather(*(slots.release(account, slot) for slot, account in held))
            assert [await slots.holding(account) for account in accounts_] == [0] * 30
            assert slots.mine == {}
        finally:
            await slots.close()

    asyncio.run(run())


def test_hundreds_of_operations_at_once_are_counted_through_redis(redis_url: str) -> None:
    account = f"burst-{uuid.uuid4().hex}"

    async def run() -> None:
        limits = RequestLimits(redis_url, 300, 60)
        await asyncio.gather(*(limits.hit(account) for _ in range(300)))
        with pytest.raises(RateLimited):
            await limits.hit(account)

    asyncio.run(run())


async def lease(slots: RedisConnectionSlots, account: str, slot: str | None) -> float | None:
    """When the slot's lease ends, as Redis holds it; None for a slot it does not hold."""
    ends: float | None = await slots.client.zscore(connection_slots.KEY_PREFIX + account, slot)
    return ends


def test_leases_are_renewed_per_account_in_batches_and_a_slot_given_back_stays_gone(redis_url: str) -> None:
    """Renewing is one ZADD and one EXPIRE an account, RENEW_BATCH accounts a pipeline: thousands
    of connections in one pipeline held the event loop for hundreds of milliseconds."""
    accounts_ = [f"renew-{uuid.uuid4().hex}" for _ in range(connection_slots.RENEW_BATCH * 2 + 50)]

    async def run() -> None:
        slots = RedisConnectionSlots(redis_url, limit=10)
        try:
            taken = [(account, await slots.acquire(account)) for account in accounts_ for _ in range(2)]
            given_back = taken[0]
            assert given_back[1] is not None
            await slots.release(*given_back)  # type: ignore[arg-type]
            before = {
                slot: await slots.client.zscore(connection_slots.KEY_PREFIX + account, slot) for account, slot in taken
            }
            pipelines = []
            real = slots.client.pipeline

            def counted(*args: Any, **kwargs: Any) -> Any:
                pipe = real(*args, **kwargs)
                pipelines.append(pipe)
                return pipe

            slots.client.pipeline = counted  # type: ignore[method-assign]
            await asyncio.sleep(0.01)

            await slots.renew()

            after = {
                slot: await slots.client.zscore(connection_slots.KEY_PREFIX + account, slot) for account, slot in taken
            }
            assert after[given_back[1]] is None
            assert before[given_back[1]] is None
            assert all(after[slot] > before[slot] for _, slot in taken[1:])
            assert len(pipelines) == 3
            assert [await slots.holding(account) for account in accounts_] == [1] + [2] * (len(accounts_) - 1)
        finally:
            await slots.close()

    asyncio.run(run())
