"""What the read cache saves a request: its session and account are read from DynamoDB once, then
kept; a process that wrote them (signing up, signing in) keeps them as written. Counted with
PynamoDB's ``pre_dynamodb_send`` signal, only for the request under test (a context variable the
request's blocking threads inherit)."""

from __future__ import annotations

import contextvars
import uuid
from collections import Counter
from typing import Any

import anyio
import httpx
from pynamodb.signals import pre_dynamodb_send

from server import create_app
from tests import plain_http
from tests.client import PASSWORD, operation

_counting: contextvars.ContextVar[bool] = contextvars.ContextVar("counting_get_items", default=False)


class GetItems:
    def __init__(self) -> None:
        self.tables: Counter[str] = Counter()

    def __call__(self, _sender: Any, *, operation_name: str, table_name: str, **_: Any) -> None:
        if _counting.get() and operation_name == "GetItem":
            self.tables[table_name] += 1


async def signed_up(app, settings) -> str:
    """A new account's token, signed up on ``app``, else (None) on an app of its own: as another
    process would, whose read cache this one does not share."""
    if app is None:
        app = create_app(settings.with_overrides(run_workers=False))
        async with app.router.lifespan_context(app):
            return await signed_up(app, settings)
    async with plain_http.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        email = f"cache-{uuid.uuid4().hex[:12]}@example.com"
        variables = {"input": {"email": email, "password": PASSWORD}}
        answer = (await http.post("/graphql", json={"query": operation("SignUp"), "variables": variables})).json()
        return str(answer["data"]["signUp"]["token"])


def get_items_of(settings, calls: list[str], *, signed_up_here: bool = True) -> list[dict[str, int]]:
    """Sign up (on the app the calls go to, or on another), then make each call of ``calls`` in
    turn on one app: the GetItem calls of each, by table."""
    counted = GetItems()
    pre_dynamodb_send.connect(counted)
    app = create_app(settings.with_overrides(run_workers=False))
    results: list[dict[str, int]] = []

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            plain_http.AsyncClient(transport=transport, base_url="http://t") as http,
        ):
            headers = {"Authorization": f"Bearer {await signed_up(app if signed_up_here else None, settings)}"}
            for name in calls:
                counted.tables.clear()
                token = _counting.set(True)
                try:
                    response = await http.post("/graphql", json={"query": operation(name)}, headers=headers)
                finally:
                    _counting.reset(token)
                assert "errors" not in response.json(), response.text
                results.append(dict(counted.tables))

    try:
        anyio.run(main)
    finally:
        pre_dynamodb_send.disconnect(counted)
    return results


def test_a_second_request_reads_neither_the_session_nor_the_account(settings, target) -> None:
    first, second = get_items_of(settings, ["Documents", "Documents"], signed_up_here=False)

    assert first == {"test-sessions": 1, "test-accounts": 1}
    assert second == {}


def test_the_process_that_signed_up_keeps_the_session_and_account_it_wrote(settings, target) -> None:
    first, second = get_items_of(settings, ["Documents", "Documents"])

    assert first == second == {}


def test_me_reads_the_account_again_for_its_usage_but_not_the_session(settings, target) -> None:
    first, second = get_items_of(settings, ["Me", "Me"], signed_up_here=False)
    kept = get_items_of(settings, ["Me"])

    assert first == {"test-sessions": 1, "test-accounts": 1}
    assert second == kept[0] == {"test-accounts": 1}


def test_without_a_cache_every_request_reads_both(settings, target) -> None:
    first, second = get_items_of(settings.with_overrides(cache_seconds=0), ["Documents", "Documents"])

    assert first == second == {"test-sessions": 1, "test-accounts": 1}


class Calls:
    """Every DynamoDB request the request under test sends, by operation."""

    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()

    def __call__(self, _sender: Any, *, operation_name: str, **_: Any) -> None:
        if _counting.get():
            self.operations[operation_name] += 1


def calls_of(settings, requests: list[tuple[str, dict[str, Any]]]) -> list[dict[str, int]]:
    """Sign up, then send each ``(operation, variables)`` in turn on one app: the DynamoDB requests of each."""
    counted = Calls()
    pre_dynamodb_send.connect(counted)
    app = create_app(settings.with_overrides(run_workers=False))
    results: list[dict[str, int]] = []

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            plain_http.AsyncClient(transport=transport, base_url="http://t") as http,
        ):
            email = f"calls-{uuid.uuid4().hex[:12]}@example.com"
            variables = {"input": {"email": email, "password": PASSWORD}}
            answer = (await http.post("/graphql", json={"query": operation("SignUp"), "variables": variables})).json()
            headers = {"Authorization": f"Bearer {answer['data']['signUp']['token']}"}
            for name, variables in requests:
                counted.operations.clear()
                token = _counting.set(True)
                try:
                    body = {"query": operation(name), "variables": variables}
                    response = await http.post("/graphql", json=body, headers=headers)
                finally:
                    _counting.reset(token)
                assert "errors" not in response.json(), response.text
                results.append(dict(counted.operations))

    try:
        anyio.run(main)
    finally:
        pre_dynamodb_send.disconnect(counted)
    return results


def test_request_upload_costs_one_transaction_and_a_taken_path_a_query_and_one_more(settings, target) -> None:
    upload = {"input": {"filename": "costs.txt", "contentType": "text/plain", "size": 5}}

    _, free, taken = calls_of(settings, [("Documents", {}), ("RequestUpload", upload), ("RequestUpload", upload)])

    assert free == {"TransactWriteItems": 1}  # as before paths: the session and account come from the cache
    assert taken == {"TransactWriteItems": 2, "Query": 1}


def test_overwrite_costs_one_transaction_to_a_free_path_and_two_reads_and_one_more_to_a_taken_one(
    settings, target
) -> None:
    fields = {"filename": "versions.txt", "contentType": "text/plain", "size": 5}
    overwrite = {"input": {**fields, "mode": "OVERWRITE"}}
    update = {"input": {**fields, "mode": "UPDATE", "ifVersion": 1}}

    _, free, taken, updated = calls_of(
        settings,
        [("Documents", {}), ("RequestUpload", overwrite), ("RequestUpload", overwrite), ("RequestUpload", update)],
    )

    assert free == {"TransactWriteItems": 1}  # as ADD to a free path
    assert taken == {"TransactWriteItems": 2, "GetItem": 2}  # the refused claim, the holder's claim and record
    assert updated == {"TransactWriteItems": 1, "GetItem": 2}  # UPDATE reads the holder first
