"""compareChecksums: maps the query to ``services.checksums`` and back.

The answer is an async iterator, not a list: graphql-core completes each comparison (its document,
a signed ``downloadUrl``) as the iterator yields it, and the iterator hands the event loop back
every ``ANSWER_BATCH`` comparisons. A list of 11,000 was completed in one go, about 4 s during which
every other request of the process waited."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import strawberry

from access.context import Context
from access.permissions import require_account
from schema.checksums import ChecksumComparison, CompareChecksumsInput
from schema.documents import Document
from schema.errors import BadUserInput
from services import checksums, validation

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

#: Comparisons completed between two turns of the event loop: about 0.35 ms each with the usual
#: selection (a document and its ``downloadUrl``), so other requests wait at most about 10 ms.
ANSWER_BATCH = 32


async def compare_checksums(
    info: strawberry.Info[Context, None],
    input: Annotated[CompareChecksumsInput, strawberry.argument(description="The client's files and their folder.")],
) -> AsyncIterator[ChecksumComparison]:
    account = await require_account(info)
    try:
        found = await checksums.compare(info.context.services, account.id, input.files, input.path_prefix)
    except validation.InvalidInput as error:
        raise BadUserInput(error.problems) from None
    return answer(found)


async def answer(found: Sequence[checksums.Comparison]) -> AsyncIterator[ChecksumComparison]:
    for index, comparison in enumerate(found):
        if index and not index % ANSWER_BATCH:
            await asyncio.sleep(0)
        yield ChecksumComparison(
            path=comparison.path,
            state=comparison.state,
            document=Document.from_model(comparison.document) if comparison.document is not None else None,
        )
