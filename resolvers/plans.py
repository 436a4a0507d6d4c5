"""Changing plan."""

from __future__ import annotations

from typing import Annotated

import strawberry

from access.context import Context
from access.permissions import require_account
from models.errors import RaceLost
from schema.accounts import Account
from schema.errors import Conflict
from schema.plans import PlanChangePayload, UpgradePlanInput, UpgradePlanResult
from services import plans


async def upgrade_plan(
    info: strawberry.Info[Context, None],
    input: Annotated[UpgradePlanInput, strawberry.argument(description="The plan to move to.")],
) -> UpgradePlanResult:
    account = await require_account(info)
    try:
        change = await plans.change(info.context.services, account.id, input.plan)
    except RaceLost as error:
        raise Conflict(str(error)) from None
    return PlanChangePayload(
        account=Account.from_model(change.account),
        previous_plan=change.previous,
        backfill_started=change.backfill_started,
    )
