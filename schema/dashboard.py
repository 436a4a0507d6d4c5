"""The operations dashboard: totals for administrators, read from atomic counters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from schema.accounts import Plan
from schema.scalars import Long

if TYPE_CHECKING:
    from models.stats import Figures


@strawberry.type(description="How many accounts are on one plan.")
class PlanAccounts:
    plan: Plan = strawberry.field(description="The plan.")
    accounts: int = strawberry.field(description="Accounts on it (once the workers counted them after sign-up).")


@strawberry.type(description="Documents and their bytes on one plan, by each owner's current plan.")
class PlanShare:
    plan: Plan = strawberry.field(description="The plan.")
    documents: int = strawberry.field(description="Counted documents whose owner is on this plan now.")
    bytes: Long = strawberry.field(description="Their total size in bytes.")


@strawberry.type(description="Documents and their bytes of one content type (the type detected from the bytes).")
class ContentTypeShare:
    content_type: str = strawberry.field(description="The MIME type, e.g. `application/pdf`.")
    documents: int = strawberry.field(description="Counted documents of this type.")
    bytes: Long = strawberry.field(description="Their total size in bytes.")


@strawberry.type(description="One work queue's backlog, read live from SQS (approximate, as SQS reports it).")
class QueueDepth:
    queue: str = strawberry.field(description="The queue's purpose, e.g. `upload-events`.")
    messages: int = strawberry.field(description="Messages waiting to be handled.")
    dead_letters: int = strawberry.field(
        description="Messages in its dead-letter queue: they failed every delivery and need a look."
    )


@strawberry.type(
    description=(
        "Service-wide totals. Counted documents are those the pipeline has detected and counted "
        "(PROCESSING ones join once counted); each total changes in the same transaction as what "
        "it counts, so they are exact, never sampled."
    )
)
class Dashboard:
    document_count: int = strawberry.field(description="Counted documents stored.")
    average_document_size: Long = strawberry.field(
        description="Bytes per counted document, rounded half up to a whole byte; 0 when there are none."
    )
    total_storage_bytes: Long = strawberry.field(description="Total size of the counted documents, in bytes.")
    accounts_per_plan: list[PlanAccounts] = strawberry.field(description="Accounts on each plan, every plan listed.")
    per_plan: list[PlanShare] = strawberry.field(
        description="Documents and bytes on each plan, by the owner's current plan; every plan listed."
    )
    per_content_type: list[ContentTypeShare] = strawberry.field(
        description="Documents and bytes per content type: only types with documents, sorted by type."
    )
    accounts_over_quota: int = strawberry.field(description="Accounts whose usage is over their plan's limit.")
    failed_documents: int = strawberry.field(description="Stored documents whose processing FAILED.")
    queue_depth: list[QueueDepth] = strawberry.field(description="Each work queue's backlog, live from SQS.")

    @classmethod
    def from_model(cls, figures: Figures, queues: list[QueueDepth]) -> Dashboard:
        return cls(
            document_count=figures.documents,
            average_document_size=Long(figures.average_size),
            total_storage_bytes=Long(figures.bytes),
            accounts_per_plan=[
                PlanAccounts(plan=plan, accounts=count) for plan, count in figures.accounts_per_plan.items()
            ],
            per_plan=[
                PlanShare(plan=plan, documents=share.documents, bytes=Long(share.bytes))
                for plan, share in figures.per_plan.items()
            ],
            per_content_type=[
                ContentTypeShare(content_type=content_type, documents=share.documents, bytes=Long(share.bytes))
                for content_type, share in figures.per_type.items()
            ],
            accounts_over_quota=figures.accounts_over_quota,
            failed_documents=figures.failed_documents,
            queue_depth=queues,
        )
