"""Replicas in another region: conditional puts that never move a replica backwards or take over
the other region's own accounts; run against the session's moto server, which keeps regions apart."""

from __future__ import annotations

import pytest
from pynamodb.exceptions import PynamoDBException

from domain.plans import Plan
from models import accounts, replicas
from tests.peers import ATTRIBUTES, HOME, NOWHERE, PEER, Peer, home_account
from tests.peers import peer as peer


def test_replicate_writes_the_minimal_record_and_claims_the_email(peer: Peer) -> None:
    account = home_account(plan=Plan.PREMIUM)

    assert replicas.replicate(account, PEER) is replicas.Outcome.WRITTEN

    row = peer.row("accounts", "id", account.id)
    assert row is not None
    assert set(row) == ATTRIBUTES
    assert {name: row[name] for name in ("email", "home_region", "plan", "password_hash", "version")} == {
        "email": account.email,
        "home_region": HOME,
        "plan": "PREMIUM",
        "password_hash": "$argon2id$home-hash",
        "version": "0",
    }
    assert peer.row("emails", "email", account.email) == {"email": account.email, "account_id": account.id}


def test_replicating_again_is_harmless(peer: Peer) -> None:
    account = home_account()
    replicas.replicate(account, PEER)
    first = peer.row("accounts", "id", account.id)

    assert replicas.replicate(account, PEER) is replicas.Outcome.WRITTEN

    assert peer.row("accounts", "id", account.id) == first


def test_an_older_version_never_replaces_a_newer_one(peer: Peer) -> None:
    account = home_account()
    older = accounts.get(account.id)
    older.version, older.plan = 1, "FREE"
    newer = accounts.get(account.id)
    newer.version, newer.plan = 2, "PREMIUM"

    assert replicas.replicate(newer, PEER) is replicas.Outcome.WRITTEN
    assert replicas.replicate(older, PEER) is replicas.Outcome.STALE

    row = peer.row("accounts", "id", account.id)
    assert row is not None
    assert (row["version"], row["plan"]) == ("2", "PREMIUM")


def test_the_peers_own_account_is_never_overwritten(peer: Peer) -> None:
    account = home_account()
    own = {"id": account.id, "email": "own@example.com", "home_region": PEER, "plan": "FREE", "password_hash": "p"}
    peer.put("accounts", **own)

    assert replicas.replicate(account, PEER) is replicas.Outcome.CONFLICT

    assert peer.row("accounts", "id", account.id) == own
    assert peer.row("emails", "email", account.email) is None


def test_an_email_the_peer_gave_another_account_is_not_replicated(peer: Peer) -> None:
    account = home_account()
    peer.put("emails", email=account.email, account_id="someone-else")

    assert replicas.replicate(account, PEER) is replicas.Outcome.CONFLICT

    assert peer.row("accounts", "id", account.id) is None
    assert peer.row("emails", "email", account.email) == {"email": account.email, "account_id": "someone-else"}


def test_a_peer_that_cannot_take_the_write_raises_so_it_is_retried(target) -> None:
    account = home_account()

    with pytest.raises(PynamoDBException):
        replicas.replicate(account, NOWHERE)
