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
