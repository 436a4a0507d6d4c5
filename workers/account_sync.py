"""Account sync: copy the minimal record of each account to every other region.

Driven by ``account.created`` and ``account.updated`` on the home region's account queue. It
reads the home record as it is now (not as the message saw it) and writes the replica to each
peer with ``models.replicas.replicate``, a conditional put that never takes an older version
over a newer one, so repeated and reordered messages are harmless. A peer that cannot be
reached raises: the message comes back and is tried again (at least once, like every message).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from models import accounts, replicas
from models.errors import AccountNotFound

if TYPE_CHECKING:
    from adapters.blocking import Blocking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountSync:
    """Replicates this region's accounts to ``peers``; with no peers it does nothing."""

    blocking: Blocking
    region: str
    peers: tuple[str, ...]

    async def sync(self, account_id: str) -> dict[str, replicas.Outcome]:
        """Bring every peer's replica of the account up to date; the outcome per peer."""
        if not self.peers:
            return {}
        try:
            account = await self.blocking.run(accounts.get, account_id)
        except AccountNotFound:
            log.warning("account %s to replicate is not in %s", account_id, self.region)
            return {}
        if accounts.is_replica(account, self.region):
            return {}  # only the home region replicates an account
        outcomes = {}
        for peer in self.peers:
            outcomes[peer] = await self.blocking.run(replicas.replicate, account, peer)
        log.info("account %s replicated: %s", account_id, {peer: o.value for peer, o in outcomes.items()})
        return outcomes
