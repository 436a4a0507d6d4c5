"""Changing plan."""

from __future__ import annotations

from typing import Annotated

import strawberry

from access.context import Context
from access.permissions import require_account
from adapters.cache import Invalidation
from adapters.queue import ACCOUNT_EVENTS, BACKFILL, account_updated, plan_changed
from models import plans
from schema.accounts import Account, Plan
from schema.plans import PlanChangePayload, UpgradePlanInput, UpgradePlanResult


async def upgrade_plan(
    info: strawberry.Info[Context, None],
    input: Annotated[UpgradePlanInput, strawberry.argument(description="The plan to move to.")],
) -> UpgradePlanResult:
    account = await require_account(info)
    services = info.context.services
    previous, record = await services.blocking.run(plans.change_plan, account.id, input.plan.name)
    changed = previous != record.plan
    if changed and services.cache is not None:
        # Every process drops its copy of the account before the answer says the plan changed.
        await services.cache.invalidate(Invalidation(account.id))
    if changed:
        # The search entries follow the plan, the quota is checked against the new limit, and the
        # other region's copy of the account learns the plan; all in the background.
        await services.enqueue(BACKFILL, plan_changed(account.id))
        await services.enqueue(ACCOUNT_EVENTS, account_updated(account.id))
    return PlanChangePayload(
        account=Account.from_model(record),
        previous_plan=Plan(previous),
        backfill_started=changed and record.plan == "PREMIUM",
    )
