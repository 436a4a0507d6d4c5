"""The schema's execution context: each subscription event gets its own memo."""

from __future__ import annotations

from schema.root import build_schema
from settings import Settings

schema = build_schema(Settings())


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
