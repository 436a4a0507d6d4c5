"""Plan changes that keep the dashboard's per-plan counters exact.

Documents, bytes and accounts per plan are counted by each owner's *current* plan. An account
keeps its own counted totals (``counted_documents``, ``counted_bytes``, and ``counted_plan`` once
it is counted as an account); changing the plan moves exactly those from ``plan:<old>`` to
``plan:<new>`` in one transaction, conditioned on the plan and the totals it read. Counting and
deleting a document change the same totals conditioned on the plan (``models.processing.count``,
``models.documents.delete_stored``), so whichever of them loses the race reads again and retries:
nothing is counted twice or lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from adapters.messages import AccountUpdated, PlanChanged, new_key
from models import accounts, counters, outbox, retries
from models.accounts import Account
from models.base import failed_items, number_is, transaction_connection
from models.retries import Conflict, Race

if TYPE_CHECKING:
    from domain.plans import Plan


def change_plan(account_id: str, plan: Plan, messages: list[outbox.Pending] | None = None) -> tuple[Plan, Account]:
    """Move the account to ``plan``; the previous plan and the account after the change.

    The same transaction puts two messages in the outbox: ``plan.changed`` for the backfill (the
    documents' text and search entries follow the plan) and ``account.updated`` for the other
    regions' copies; ``messages`` receives them once committed, for the caller to send at once.

    No write, and ``(plan, account)``, when it is already on ``plan``. :class:`AccountNotFound`
    for a missing account; :class:`PlanRace`, and no write, when documents are counted or deleted
    (or the plan changed) before every attempt could write. The quota level is not re-evaluated
    here (the limit changed): call ``models.quota.evaluate`` afterwards.
    """

    def attempt(_: int) -> tuple[Plan, Account]:
        account = accounts.get(account_id)
        old = account.plan
        if old == plan:
            return plan, account
        documents = int(account.counted_documents)
        size = int(account.counted_bytes)
        counted = account.counted_plan is not None
        condition = (
            (Account.plan == old)
            & number_is(Account.counted_documents, documents)
            & number_is(Account.counted_bytes, size)
            & ((Account.counted_plan == old) if counted else Account.counted_plan.does_not_exist())
        )
        # The version orders the copies the other regions keep (models.replicas).
        actions: list[Any] = [Account.plan.set(plan), Account.version.add(1)]
        if counted:
            actions.append(Account.counted_plan.set(plan))
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.update(account, actions=actions, condition=condition)
                counters.move_plan(
                    transaction, old=old, new=plan, documents=documents, size=size, accounts=1 if counted else 0
                )
                sent = [
                    outbox.put(transaction, PlanChanged(account_id=account_id, key=new_key())),
                    outbox.put(transaction, AccountUpdated(account_id=account_id, key=new_key())),
                ]
        except TransactWriteError as error:
            if any(failed_items(error)):
                raise Conflict from None  # a document was counted or deleted, or the plan changed: read again
            raise
        if messages is not None:
            messages.extend(sent)
        account.plan = plan
        if counted:
            account.counted_plan = plan
        return old, account

    return retries.retry(Race.PLAN, account_id, attempt)
