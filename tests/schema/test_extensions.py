"""The schema's guards and caches, exercised through schema.execute."""

from __future__ import annotations

import anyio
from strawberry.extensions.validation_cache import _get_validate_cache

from schema.root import schema

CACHE_SIZE = 1000  # as configured in schema/root.py


def execute(query: str) -> list[str]:
    async def run() -> list[str]:
        result = await schema.execute(query)
        return [error.message for error in result.errors or []]

    return anyio.run(run)


def test_validation_cache_hits_for_a_repeated_query() -> None:
    query = "query Probe { __typename }"
    cache = _get_validate_cache(CACHE_SIZE)
    execute(query)
    before = cache.cache_info().hits

    assert execute(query) == []

    assert cache.cache_info().hits == before + 1


def test_more_than_thirty_aliases_are_refused() -> None:
    query = "query Many { " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"

    assert execute(query) == ["31 aliases found. Allowed: 30"]


def test_each_subscription_event_gets_its_own_subfield_memo() -> None:
    # graphql-core 3.3.2 shares one memo between a subscription's per-event executors, keyed on
    # lists made anew for each event: a live subscription kept ~2 KiB per event until it ended.
    from graphql import parse

    from schema.root import PerEventMemoExecutor

    subscription = PerEventMemoExecutor.build(schema._schema, parse("subscription { quotaEvents { __typename } }"))
    assert schema.execution_context_class is PerEventMemoExecutor
    subscription._relevant_sub_fields[1] = "from an earlier event"

    first = subscription.build_per_event_executor({"quotaEvents": None})
    second = subscription.build_per_event_executor({"quotaEvents": None})

    assert first._relevant_sub_fields == {}
    assert second._relevant_sub_fields == {}
    assert first._relevant_sub_fields is not second._relevant_sub_fields
