"""Replicas: the minimal record of an account kept in each region that is not its home.

A replica is a row of the peer region's ``accounts`` table whose ``home_region`` is not that
region, plus the row of its ``emails`` table claiming the email, so that signing up there with
the same email is refused and signing in there can check the password and name the home. It
holds only what that takes: id, email, home region, plan, password hash, version (and the
creation time, so the row reads as an :class:`~models.accounts.Account`).

PynamoDB keeps connection settings on the model classes, for the whole process, pointed at this
region by ``models.tables.configure``. Writing to another region takes models of its own: copies
of the two tables' shapes bound to that region, built once per region here.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from models.accounts import Account, EmailClaim
from models.base import BaseMeta, failed_items

if TYPE_CHECKING:
    from pynamodb.expressions.condition import Condition

log = logging.getLogger(__name__)


class Outcome(Enum):
    WRITTEN = "written"  # the replica is now this version (also when it already was)
    STALE = "stale"  # the peer holds a newer version; nothing changed
    CONFLICT = "conflict"  # the peer has its own account with this email (or id); nothing changed


class _Replica(Model):
    """The replicated attributes of an account, as written to a peer region's ``accounts``."""

    id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    plan = UnicodeAttribute()
    home_region = UnicodeAttribute()
    version = NumberAttribute()
    created_at = UTCDateTimeAttribute()


class _Claim(Model):
    """A peer region's ``emails`` row for a replicated account."""

    email = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute()


@dataclass(frozen=True)
class _Peer:
    replica: type[_Replica]
    claim: type[_Claim]
    connection: Connection


@functools.cache
def _bound(
    region: str,
    host: str | None,
    accounts_table: str,
    emails_table: str,
    access_key: str | None,
    secret_key: str | None,
    pool: int,
) -> _Peer:
    settings = {
        "region": region,
        "host": host,
        "aws_access_key_id": access_key,
        "aws_secret_access_key": secret_key,
        "max_pool_connections": pool,
    }

    def meta(table: str) -> type:
        return type("Meta", (), {"table_name": table, **settings})

    # A fresh _connection: PynamoDB would otherwise reuse a parent's connection to another region.
    replica = type(f"Replica_{region}", (_Replica,), {"Meta": meta(accounts_table), "_connection": None})
    claim = type(f"Claim_{region}", (_Claim,), {"Meta": meta(emails_table), "_connection": None})
    connection = Connection(
        region=region,
        host=host,
        max_pool_connections=pool,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )
    return _Peer(replica=replica, claim=claim, connection=connection)


def _peer(region: str) -> _Peer:
    """This process's tables (same endpoint, credentials and names) in ``region``."""
    return _bound(
        region,
        BaseMeta.host,
        Account.Meta.table_name,
        EmailClaim.Meta.table_name,
        BaseMeta.aws_access_key_id,
        BaseMeta.aws_secret_access_key,
        BaseMeta.max_pool_connections,
    )


def replicate(account: Account, region: str) -> Outcome:
    """Write the replica of ``account`` (a home account of this region) to ``region``.

    One transaction of two conditional puts: the email claim, unless another account holds it
    there; the replica, unless the row there is that region's own account or a newer version.
    Repeating it is harmless. A peer that cannot be reached raises, so the caller retries.
    """
    peer = _peer(region)
    replica = peer.replica(
        id=account.id,
        email=account.email,
        password_hash=account.password_hash,
        plan=account.plan,
        home_region=account.home_region,
        version=int(account.version),
        created_at=account.created_at,
    )
    claim = peer.claim(email=account.email, account_id=account.id)
    Replica = peer.replica  # noqa: N806
    replaceable: Condition = Replica.id.does_not_exist() | (
        (Replica.home_region == account.home_region) & (Replica.version <= int(account.version))
    )
    try:
        with TransactWrite(connection=peer.connection) as transaction:
            transaction.save(claim, condition=peer.claim.email.does_not_exist() | (peer.claim.account_id == account.id))
            transaction.save(replica, condition=replaceable)
    except TransactWriteError as error:
        failed = failed_items(error)  # [claim put, replica put]
        if failed[:1] == [True]:
            log.error(
                "account %s: its email is another account's in %s; not replicated (signed up in both at once?)",
                account.id,
                region,
            )
            return Outcome.CONFLICT
        if failed[1:2] == [True]:
            return _stale_or_conflict(peer, account, region)
        raise
    return Outcome.WRITTEN


def _stale_or_conflict(peer: _Peer, account: Account, region: str) -> Outcome:
    existing = peer.replica.get(account.id, consistent_read=True)
    if existing.home_region != account.home_region:
        log.error("account %s: %s has an account of its own with that id; not replicated", account.id, region)
        return Outcome.CONFLICT
    log.info("account %s: %s holds version %s, newer than %s", account.id, region, existing.version, account.version)
    return Outcome.STALE
