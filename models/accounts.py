"""Accounts: identity, plan and the byte counts that enforce its quota."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite
from ulid import ULID

from adapters.cache import account_key
from adapters.messages import AccountCreated
from domain.plans import Plan
from models import counters, outbox, retries
from models.base import BaseMeta, EnumAttribute, TableModel, failed_items, transaction_connection, utcnow
from models.errors import AccountNotFound, EmailTaken
from models.retries import Conflict, Race

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from adapters.cache import ReadCache


class Account(TableModel):
    """One account. ``allocated_bytes`` is always ``used_bytes + reserved_bytes``.

    DynamoDB conditions cannot add, so the sum is kept as its own attribute and every quota
    check is one comparison against it.
    """

    class Meta(BaseMeta):
        table_name = "accounts"

    id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    plan = EnumAttribute(Plan)
    home_region = UnicodeAttribute()
    role = UnicodeAttribute(default="USER")
    used_bytes = NumberAttribute(default=0)
    reserved_bytes = NumberAttribute(default=0)
    allocated_bytes = NumberAttribute(default=0)
    document_count = NumberAttribute(default=0)
    over_quota = BooleanAttribute(default=False)
    #: The quota level last announced: 0, 80, 90, or 100 (over quota). See models.quota.
    quota_level = NumberAttribute(default=0)
    #: Set once the account is counted in the dashboard's account counters: always its current
    #: plan (a plan change moves it along, see models.plans).
    counted_plan = EnumAttribute(Plan, null=True)
    #: The account's documents and bytes in the dashboard counters (``plan:<plan>`` holds the sum
    #: over its accounts), changed in the same transactions as the counters.
    counted_documents = NumberAttribute(default=0)
    counted_bytes = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    #: Grows by one with every change of a replicated field (email, plan, password hash): other
    #: regions keep a replica (models.replicas) and never take an older version over a newer one.
    version = NumberAttribute(default=0)

    @property
    def limit_bytes(self) -> int:
        return self.plan.limit_bytes


class EmailClaim(TableModel):
    """One row per email: the unique constraint a global secondary index cannot give."""

    class Meta(BaseMeta):
        table_name = "emails"

    email = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute()


def create(
    *,
    email: str,
    password_hash: str,
    plan: Plan,
    home_region: str,
    now: datetime | None = None,
    messages: list[outbox.Pending] | None = None,
) -> Account:
    """Create the account, claim its email and put its ``account.created`` message in the outbox,
    in one transaction; :class:`EmailTaken` if claimed (then nothing is written). ``messages``
    receives the outbox message once committed, for the caller to send at once."""
    now = now or utcnow()
    account = Account(
        id=str(ULID()),
        email=email,
        password_hash=password_hash,
        plan=plan,
        home_region=home_region,
        created_at=now,
    )
    claim = EmailClaim(email=email, account_id=account.id)
    try:
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.save(claim, condition=EmailClaim.email.does_not_exist())
            transaction.save(account, condition=Account.id.does_not_exist())
            created = outbox.put(transaction, AccountCreated(account_id=account.id), now=now)
    except TransactWriteError as error:
        if failed_items(error)[:1] == [True]:  # [claim put, account put, outbox put]
            raise EmailTaken(email) from None
        raise
    if messages is not None:
        messages.append(created)
    return account


def count_new(account_id: str) -> bool:
    """Count a new account in the dashboard counters under its current plan, once; False if
    already counted. Conditioned on the plan it read, so a plan change cannot slip in between:
    one that does is a race (``models.retries``), :class:`PlanRace` if it wins every attempt."""

    def attempt(_: int) -> bool:
        account = get(account_id)
        if account.counted_plan is not None:
            return False
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                counters.add_account(transaction, plan=account.plan, accounts=1)
                transaction.update(
                    Account(id=account_id),
                    actions=[Account.counted_plan.set(account.plan)],
                    condition=Account.counted_plan.does_not_exist() & (Account.plan == account.plan),
                )
        except TransactWriteError as error:
            if any(failed_items(error)):
                raise Conflict from None  # counted meanwhile, or the plan changed: look again
            raise
        return True

    return retries.retry(Race.PLAN, account_id, attempt)


def is_replica(account: Account, region: str) -> bool:
    """True for the copy another region keeps of its account: never signed in to here, no data."""
    return account.home_region != region


def all_ids() -> Iterator[str]:
    """Every account's id, replicas of other regions' accounts too: a Scan of the table that reads
    only the key."""
    return (account.id for account in Account.scan(attributes_to_get=["id"]))


def get(account_id: str) -> Account:
    try:
        return Account.get(account_id, consistent_read=True)
    except Account.DoesNotExist:
        raise AccountNotFound(account_id) from None


def get_cached(account_id: str, cache: ReadCache | None) -> Account:
    """The account as read at most ``cache.seconds`` ago (:func:`get` without a cache).

    Good for what changes only together with an invalidation (``adapters.cache``): identity, plan,
    role, home region, the over-quota flag. The byte and document counts move with every upload and
    are not invalidated: where a user sees them, read them with :func:`get` or :func:`get_fresh`.
    Each call returns a copy of its own, so a caller may change it freely.
    """
    kept = cached(account_id, cache)
    return kept if kept is not None else get_fresh(account_id, cache)


def cached(account_id: str, cache: ReadCache | None) -> Account | None:
    """The cached copy of the account (a copy of its own), or None when none is kept."""
    kept = None if cache is None else cache.get(account_key(account_id))
    return None if kept is None else Account.from_raw_data(kept)


def get_fresh(account_id: str, cache: ReadCache | None) -> Account:
    """:func:`get`, keeping what it read as the cached copy (nothing is newer)."""
    if cache is None or not cache.enabled:
        return get(account_id)
    epoch = cache.epoch()
    account = get(account_id)
    remember(account, cache, epoch)
    return account


def remember(account: Account, cache: ReadCache | None, epoch: int) -> None:
    """Keep ``account`` as the cached copy: read (or written) consistently after ``epoch``
    (``ReadCache.epoch``) was taken, so that an invalidation since then keeps it out."""
    if cache is not None:
        cache.put(account_key(account.id), account.serialize(), epoch=epoch)


def find_by_email(email: str) -> Account | None:
    try:
        claim = EmailClaim.get(email, consistent_read=True)
    except EmailClaim.DoesNotExist:
        return None
    try:
        return get(claim.account_id)
    except AccountNotFound:
        return None
