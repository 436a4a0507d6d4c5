"""Claims for records that hold none: those written before paths existed, and restored ones.

A record written before paths has no ``path`` (the embedded data folder and AWS tables keep such
records across an upgrade): it is shown at its default until it gets one here
(``models.documents.path_of``). A backup holds the documents but not their claims (they follow
from the documents), so a restore claims every restored path again. Either way, a path another
document holds is numbered Dropbox-style, the rule an upload follows.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from models import paths
from models.base import failed_items, transaction_connection
from models.documents import Document, path_unchanged, placed

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger(__name__)


def without_path() -> Iterable[Document]:
    """The records written before paths (one Scan of the documents table)."""
    return Document.scan(filter_condition=Document.path.does_not_exist(), consistent_read=True)


def every_record() -> Iterable[Document]:
    """Every record (one Scan of the documents table), for a restore."""
    return Document.scan(consistent_read=True)


def backfill(records: Iterable[Document]) -> int:
    """Give each record its path (its own, or its default when it has none) and, while it holds
    bytes or a reservation, that path's claim, each in one transaction conditioned on the record
    not having changed since it was read: running it twice, or beside uploads and moves, never
    puts two documents on one path. Oldest first within each owner, so the first ``report.pdf``
    keeps ``/report.pdf``. How many records were placed."""
    done = 0
    for record in sorted(records, key=lambda record: (record.owner_id, record.document_id)):
        path = paths.of(record.path, record.name)
        for _ in range(paths.RENAME_ATTEMPTS):
            claims = record.status in paths.CLAIMING
            if record.path == path and not claims:
                break  # placed, and holds no claim: nothing to do
            try:
                with TransactWrite(connection=transaction_connection()) as transaction:
                    if claims:
                        paths.claim(transaction, record.owner_id, path, record.document_id)
                    transaction.update(
                        record,
                        actions=placed(path),
                        condition=(Document.status == record.status) & path_unchanged(record),
                    )
            except TransactWriteError as error:
                flags = failed_items(error)  # [claim put (if it claims), record update]
                if claims and flags[0]:
                    if paths.holder(record.owner_id, paths.key(path)) == record.document_id:
                        break  # claimed already (a restore over what it restored before)
                    path = paths.next_free(record.owner_id, paths.of(record.path, record.name))
                    continue
                if flags[-1:] == [True]:  # deleted, settled or moved meanwhile: look again
                    try:
                        record = Document.get(record.owner_id, record.document_id, consistent_read=True)
                    except Document.DoesNotExist:
                        break
                    path = paths.of(record.path, record.name)
                    continue
                raise
            done += 1
            break
        else:
            log.warning("document %s kept no path: every free name tried was taken meanwhile", record.document_id)
    return done


#: The row that says the records written before paths were all given one (no account id starts with ``#``).
DONE = ("#backfill", "paths-v1")


def once(*, again: bool = False) -> int | None:
    """:func:`backfill` the records without a path, unless that was done already in this deployment
    (one read to know) and not asked for ``again``; then mark it done. How many records were
    placed, None if it was done before. Records written after the mark by this DocStore all have a
    path (every upload gives one); ``again`` is for a deployment where older processes may still
    have written some meanwhile (``docstore init`` after a rolling upgrade on AWS)."""
    if not again and paths.holder(*DONE) is not None:
        return None
    placed_count = backfill(without_path())
    paths.PathClaim(owner_id=DONE[0], path_key=DONE[1], document_id="done").save()
    return placed_count
