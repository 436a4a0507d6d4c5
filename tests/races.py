"""Races for tests: another change of the same account, landing just before a tested write leaves.

Between a write's read and its request to DynamoDB, a change that another process could make (a
plan change, a document counted, the quota level moved) is made first, through the models, so that
the write's conditions fail as they would in a real race. Hooked where botocore sends the request.
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from domain.plans import Plan
from models import accounts, plans, retries
from models.accounts import Account
from models.base import transaction_connection

T = TypeVar("T")


class ContextPool(ThreadPoolExecutor):
    """A thread pool whose jobs run in a copy of the submitting thread's context, as
    ``asyncio.to_thread`` and anyio's threads do: a test's own tables (``own_tables``) are its
    threads' too."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


@pytest.fixture
def three_attempts() -> Iterator[None]:
    """Every race is tried three times in this test (the defaults are 10 and 5)."""
    retries.configure(plan_race_attempts=3, quota_level_attempts=3)
    yield
    retries.configure(plan_race_attempts=10, quota_level_attempts=5)


class Racer:
    """Before each ``operation`` request about ``account_id`` that this thread sends (any thread's,
    for a request the API makes), the tested write, ``change`` runs first, the first ``times``
    times: another change of the same account landing between the write's read and its request."""

    def __init__(self, account_id: str, change: Callable[[int], None], times: int, *, any_thread: bool) -> None:
        self.account_id = account_id
        self.change = change
        self.times = times
        #: Tested requests sent (the racing changes' own requests are not counted).
        self.requests = 0
        self._thread = None if any_thread else threading.get_ident()
        self._racing = False

    def before(self, params: dict[str, Any], **_: Any) -> None:
        if self._racing or self._thread not in (None, threading.get_ident()):
            return
        if self.account_id not in json.dumps(params, default=str):
            return
        self.requests += 1
        if self.requests <= self.times:
            self._racing = True
            try:
                self.change(self.requests)
            finally:
                self._racing = False


@contextmanager
def racing(
    account_id: str,
    change: Callable[[int], None],
    times: int,
    operation: str = "TransactWriteItems",
    *,
    any_thread: bool = False,
) -> Iterator[Racer]:
    client = transaction_connection().client if operation == "TransactWriteItems" else _table_client()
    racer = Racer(account_id, change, times, any_thread=any_thread)
    event = f"before-call.dynamodb.{operation}"
    client.meta.events.register(event, racer.before)
    try:
        yield racer
    finally:
        client.meta.events.unregister(event, racer.before)


def _table_client() -> Any:
    return Account._get_connection().connection.client


def flip_plan(account_id: str) -> Callable[[int], None]:
    """A plan change, FREE and PREMIUM in turn, as upgradePlan makes it."""

    def change(_: int) -> None:
        current = accounts.get(account_id).plan
        plans.change_plan(account_id, Plan.FREE if current is Plan.PREMIUM else Plan.PREMIUM)

    return change
