"""Changing plan: the account at once, its documents' contents in the background."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.cache import Invalidation
from models import outbox, plans

if TYPE_CHECKING:
    from domain.plans import Plan
    from models.accounts import Account
    from runtime.services import Services


@dataclass(frozen=True)
class PlanChange:
    account: Account
    previous: Plan
    #: The move was to a plan that searches contents: documents stored before are being extracted.
    backfill_started: bool


async def change(services: Services, account_id: str, plan: Plan) -> PlanChange:
    """Move the account to ``plan`` (nothing changes when it is on it already).

    Every process drops its cached copy of the account before this returns; the documents'
    search entries, the quota check against the new limit and the other regions' copies of the
    account follow in the background. :class:`AccountNotFound`; :class:`PlanRace`, with nothing
    changed, when documents kept being counted or deleted meanwhile.
    """
    messages: list[outbox.Pending] = []
    previous, record = await services.blocking.run(
        functools.partial(plans.change_plan, account_id, plan, messages=messages)
    )
    changed = previous != record.plan
    if changed and services.cache is not None:
        await services.cache.invalidate(Invalidation(account_id))
    await services.deliver(messages)
    return PlanChange(account=record, previous=previous, backfill_started=changed and record.plan.searches_contents)
