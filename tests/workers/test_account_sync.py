"""The account sync: the pipeline hands it account messages; it replicates home accounts only."""

from __future__ import annotations

import asyncio

import pytest
from pynamodb.exceptions import PynamoDBException
from ulid import ULID

from adapters.blocking import Blocking
from adapters.messages import AccountUpdated
from models import accounts
from models.accounts import Account
from tests.peers import NOWHERE, PEER, Peer, home_account
from tests.peers import peer as peer
from workers.account_sync import AccountSync
from workers.pipeline import Pipeline


def sync(peers: tuple[str, ...]) -> AccountSync:
    return AccountSync(Blocking(4), "us-west-2", peers)


def test_account_updated_replicates_the_home_record_as_it_is_now(peer: Peer) -> None:
    account = home_account()
    Account(id=account.id).update(actions=[Account.plan.set("PREMIUM"), Account.version.add(1)])
    pipeline = Pipeline(
        blocking=Blocking(4),
        objects=None,  # type: ignore[arg-type]  # account messages touch no object, event, file or mail
        publisher=None,  # type: ignore[arg-type]
        extraction=None,  # type: ignore[arg-type]
        mailer=None,  # type: ignore[arg-type]
        account_sync=sync((PEER,)),
    )

    asyncio.run(pipeline.handle(AccountUpdated(account_id=account.id, key="plan-1")))

    row = peer.row("accounts", "id", account.id)
    assert row is not None
    assert (row["plan"], row["version"], row["home_region"]) == ("PREMIUM", "1", "us-west-2")


def test_with_no_other_region_nothing_is_replicated(peer: Peer) -> None:
    account = home_account()

    assert asyncio.run(sync(()).sync(account.id)) == {}

    assert peer.row("accounts", "id", account.id) is None


def test_only_the_home_region_replicates_an_account(peer: Peer) -> None:
    elsewhere = accounts.create(
        email=f"elsewhere-{ULID()}@example.com".lower(), password_hash="h", plan="FREE", home_region=PEER
    )

    assert asyncio.run(sync((PEER,)).sync(elsewhere.id)) == {}

    assert peer.row("accounts", "id", elsewhere.id) is None


def test_a_peer_that_cannot_be_written_fails_the_message(peer: Peer) -> None:
    account = home_account()

    with pytest.raises(PynamoDBException):
        asyncio.run(sync((PEER, NOWHERE)).sync(account.id))

    # The reachable peer got its replica; the retry writes it again, harmlessly.
    assert peer.row("accounts", "id", account.id) is not None
