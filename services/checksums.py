"""Comparing a client's files with the account's documents by content hash (``compareChecksums``).

A sync client sends the paths and content hashes (``domain.content_hash``) of its files under one
folder; the answer says, path by path, whether DocStore holds the same bytes there, others, none,
or a document the client lacks. Only the document's current content hash is compared.

Where the documents come from: one Query of the owner's partition of ``documents``, filtered on
the compared path and paged by DynamoDB (``models.documents.holding_under``). The alternative, a
key-range Query of the owner's claims under the prefix (``paths``, small rows) followed by a
BatchGetItem of each claimed document for its hash, costs a request per 100 documents on top:
for 10,000 documents, 2 Queries and 100 BatchGetItems against 7 Queries of the partition (1 MB a
page; ``tests/services/test_checksums.py`` counts both). The partition Query reads every document
of the owner, under the prefix or not; for a sync client, which compares its whole tree, those are
the same documents.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.checksums import ChecksumState
from models import documents, paths
from services import validation

if TYPE_CHECKING:
    from collections.abc import Sequence

    from runtime.services import Services


@dataclass(frozen=True)
class Comparison:
    """One path's answer: the client's path as sent (the document's, for NOT_ON_CLIENT), and the
    account's document there, if any."""

    path: str
    state: ChecksumState
    document: documents.Document | None


class TooManyDocuments(validation.InvalidInput):
    """More documents under the prefix than one comparison reads."""


def state_of(document: documents.Document | None, client_hash: str | None) -> ChecksumState:
    """What one path is: ``client_hash`` None for a document the client did not list."""
    if document is None:
        return ChecksumState.NOT_ON_SERVER
    if document.content_hash is None:
        return ChecksumState.PENDING
    if client_hash is None:
        return ChecksumState.NOT_ON_CLIENT
    return ChecksumState.UNCHANGED if document.content_hash == client_hash else ChecksumState.DIFFERENT


async def compare(
    services: Services, owner_id: str, files: Sequence[validation.RawFile], path_prefix: str = "/"
) -> list[Comparison]:
    """Each of the client's ``files`` in the order given, then the account's documents under
    ``path_prefix`` that the client did not list, in path order (compared form).

    :class:`InvalidInput` naming every file at fault (a bad path or hash, a path outside the
    prefix or given twice, ignoring case), or the files, when there are more than
    ``DOCSTORE_COMPARE_MAX_FILES``; :class:`TooManyDocuments` when the account holds more than
    that many documents under the prefix. Reads only; nothing is written."""
    settings = services.settings
    # Off the event loop: checking 10,000 paths takes a while, and other requests go on meanwhile.
    wanted = await services.blocking.run(
        validation.comparison, files, path_prefix, validation.path_limits(settings), settings.compare_max_files
    )
    held, more = await services.blocking.run(
        functools.partial(documents.holding_under, owner_id, paths.key(wanted.path_prefix), settings.compare_max_files)
    )
    if more:
        raise TooManyDocuments(
            [
                validation.Problem(
                    "input.pathPrefix",
                    f"More than {settings.compare_max_files:,} documents are under {wanted.path_prefix!r} "
                    "(DOCSTORE_COMPARE_MAX_FILES): compare its folders one at a time.",
                )
            ]
        )
    by_key = {str(document.path_key): document for document in held}
    answer = []
    for path, client_hash in wanted.files:
        document = by_key.pop(paths.key(path), None)
        answer.append(Comparison(path, state_of(document, client_hash), document))
    for key in sorted(by_key):
        document = by_key[key]
        answer.append(Comparison(documents.path_of(document), state_of(document, None), document))
    return answer
