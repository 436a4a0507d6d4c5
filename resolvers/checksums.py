"""compareChecksums: maps the query to ``services.checksums`` and back."""

from __future__ import annotations

from typing import Annotated

import strawberry

from access.context import Context
from access.permissions import require_account
from schema.checksums import ChecksumComparison, CompareChecksumsInput
from schema.documents import Document
from schema.errors import BadUserInput
from services import checksums, validation


async def compare_checksums(
    info: strawberry.Info[Context, None],
    input: Annotated[CompareChecksumsInput, strawberry.argument(description="The client's files and their folder.")],
) -> list[ChecksumComparison]:
    account = await require_account(info)
    try:
        found = await checksums.compare(info.context.services, account.id, input.files, input.path_prefix)
    except validation.InvalidInput as error:
        raise BadUserInput(error.problems) from None
    return [
        ChecksumComparison(
            path=comparison.path,
            state=comparison.state,
            document=Document.from_model(comparison.document) if comparison.document is not None else None,
        )
        for comparison in found
    ]
