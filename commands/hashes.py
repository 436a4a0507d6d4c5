"""``docstore backfill-hashes``: give documents stored before content hashes their hash.

One ``hash.documents`` message per account on the ``backfill`` queue; the workers' backfill
(``workers.backfill``) streams each document without a content hash from S3 through the hash
and records it, an account's documents in chunks. Sending again is harmless: documents that have
a hash are skipped (read by the query, never downloaded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.messages import HashDocuments, new_key
from adapters.queue import BACKFILL
from models import accounts

if TYPE_CHECKING:
    from runtime.services import Services


def run(services: Services) -> int:
    """Send the messages; print how many accounts they are for."""
    queue = services.queues[BACKFILL]
    sent = 0
    for account_id in accounts.all_ids():
        queue.send(HashDocuments(account_id=account_id, key=new_key()))
        sent += 1
    print(
        f"asked the workers to hash the documents without a content hash of {sent} accounts "
        f"(the {BACKFILL} queue; `docstore stats` shows what waits there)"
    )
    return 0
