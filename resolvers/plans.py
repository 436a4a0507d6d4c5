"""Changing plan."""

from __future__ import annotations

import functools
from typing import Annotated

import strawberry

from access.context import Context
from access.permissions import require_account
from adapters.cache import Invalidation
from models import outbox, plans
from models.errors import RaceLost
from schema.accounts import Account
from schema.errors import Conflict
from schema.plans import PlanChangePayload, UpgradePlanInput, UpgradePlanResult


async def upgrade_plan(
    info: strawberry.Info[Context, None],
    input: Annotated[UpgradePlanInput, strawberry.argument(description="The plan to move to.")],
) -> UpgradePlanResult:
    account = await require_account(info)
    services = info.context.services
    changed_messages: list[outbox.Pending] = []
    try:
        previous, record = await services.blocking.run(
            functools.partial(plans.change_plan, account.id, input.plan, messages=changed_messages)
        )
    except RaceLost as error:
        raise Conflict(str(error)) from None
    changed = previous != record.plan
    if changed and services.cache is not None:
        # Every process drops its copy of the account before the answer says the plan changed.
        await services.cache.invalidate(Invalidation(account.id))
    # The search entries follow the plan, the quota is checked against the new limit, and the
    # other region's copy of the account learns the plan; all in the background.
    await services.deliver(changed_messages)
    return PlanChangePayload(
        account=Account.from_model(record),
        previous_plan=previous,
        backfill_started=changed and record.plan.searches_contents,
    )
