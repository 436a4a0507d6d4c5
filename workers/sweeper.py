"""The sweeper: settles upload forms that expired without ``completeUpload``.

A form that delivered its file is completed as ``completeUpload`` would; one that did not has its
reservation released. Rejected uploads get any late-arriving object deleted. Every step is a
conditional write, so any number of sweepers may run at once.

Once an hour it also deletes staging objects older than ``DOCSTORE_STAGING_DAYS``, as the
bucket's lifecycle rule does on S3: the embedded AWS runs no lifecycle rules, and a form it was
given stays usable (moto checks no form's expiry), so only this bounds what such forms leave.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING

import anyio

from models import outbox, uploads
from services import uploads as upload_files

if TYPE_CHECKING:
    from datetime import datetime

    from adapters.blocking import Blocking
    from adapters.s3 import ObjectStore
    from runtime.outbox import Outbox

log = logging.getLogger(__name__)

#: How often staging objects past their age are looked for. One listing of the ``staging/``
#: prefix: moto walks every key of the bucket for it (about 0.1 s of the embedded AWS's CPU with
#: 75,000 keys), and the age is counted in days.
STAGING_SCAN_SECONDS = 3600.0


async def sweep_once(
    blocking: Blocking,
    objects: ObjectStore,
    now: datetime | None = None,
    max_rounds: int = 20,
    deliveries: Outbox | None = None,
) -> Counter[str]:
    """Settle every expired form, a batch at a time until none is due (or ``max_rounds`` batches,
    so a form that keeps failing cannot hold the sweeper); what happened, counted by outcome.
    A completed upload's ``upload.completed`` message goes out through ``deliveries`` at once
    (without it, the outbox relay sends it)."""
    outcomes: Counter[str] = Counter()
    for _ in range(max_rounds):
        due = await blocking.run(uploads.due_for_sweep, now)
        if not due:
            break
        for owner_id, document_id in due:
            try:
                completed: list[outbox.Pending] = []
                outcome = await blocking.run(
                    functools.partial(upload_files.sweep, objects, owner_id, document_id, now, messages=completed)
                )
                if deliveries is not None:
                    # The upload is PROCESSING now: the pipeline takes it on like any completed one.
                    await deliveries.deliver(completed)
            except Exception:
                log.exception("sweeping upload %s failed; it stays due", document_id)
                outcome = "error"
            outcomes[outcome.split(":")[0]] += 1
        if outcomes["error"]:
            break
    if outcomes:
        log.info("sweeper settled expired uploads: %s", dict(outcomes))
    return outcomes


async def expire_staging(blocking: Blocking, objects: ObjectStore, days: int, now: datetime | None = None) -> int:
    """Delete the staging objects older than ``days``; how many."""
    expired = await blocking.run(upload_files.expire_staging, objects, days, now)
    if expired:
        log.info("sweeper deleted %d staging objects older than %d days", expired, days)
    return expired


async def run_forever(
    blocking: Blocking,
    objects: ObjectStore,
    interval_seconds: float,
    deliveries: Outbox | None = None,
    *,
    staging_days: int,
) -> None:
    scanned: float | None = None
    while True:
        try:
            await sweep_once(blocking, objects, deliveries=deliveries)
            # After the pass: an upload whose form expired long ago is settled before its file goes.
            if scanned is None or time.monotonic() - scanned >= STAGING_SCAN_SECONDS:
                await expire_staging(blocking, objects, staging_days)
                scanned = time.monotonic()
        except Exception:
            log.exception("sweeper pass failed; trying again in %s s", interval_seconds)
        await anyio.sleep(interval_seconds)
