"""Changing plan: the account at once, its documents' contents in the background."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.accounts import Account, Plan
from schema.regions import WrongRegionError


@strawberry.input(description="The plan to move to.")
class UpgradePlanInput:
    plan: Plan = strawberry.field(
        description="PREMIUM (20 GiB, content search) or FREE (5 GiB, search by name, tags and description)."
    )


@strawberry.type(description="The plan changed (or already was the one asked for).")
class PlanChangePayload:
    account: Account = strawberry.field(description="The account on its new plan, with its usage and limit.")
    previous_plan: Plan = strawberry.field(
        description="The plan before; the same as `account.plan` if nothing changed."
    )
    backfill_started: bool = strawberry.field(
        description=(
            "True after a move to PREMIUM: the text of documents stored before is being extracted in the "
            "background (after new uploads, never before them); each document becomes findable by content "
            "as it is done."
        )
    )


UpgradePlanResult = Annotated[
    PlanChangePayload | WrongRegionError,
    strawberry.union(
        "UpgradePlanResult",
        description="The account on its new plan, or `WrongRegionError` when it lives in another region.",
    ),
]
