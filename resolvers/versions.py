"""Restoring an earlier version of a document (its history is ``Document.versions``)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from access import documents as access
from access.context import Context
from access.permissions import require_account
from models.errors import DocumentNotFound, QuotaExceeded, RaceLost, VersionConflict, VersionNotFound
from resolvers.uploads import quota_exceeded
from schema.documents import Document, VersionConflictError
from schema.errors import Conflict, NotFoundError, ValidationError
from schema.versions import RestoreVersionInput, RestoreVersionResult, VersionNotFoundError
from services import validation, versions


async def restore_version(
    info: strawberry.Info[Context, None],
    input: Annotated[RestoreVersionInput, strawberry.argument(description="The document and the version.")],
) -> RestoreVersionResult:
    account = await require_account(info)
    try:
        record = await versions.restore(info.context.services, account, str(input.document_id), input.version)
    except validation.InvalidInput as error:
        return ValidationError.of(error.problems)
    except DocumentNotFound:
        await access.refuse_shared(info.context.services, account.id, str(input.document_id))
        return NotFoundError(message="No document with that id in this account.", id=input.document_id)
    except VersionNotFound as error:
        return VersionNotFoundError(message=str(error), version=error.version)
    except VersionConflict as error:
        return VersionConflictError(
            message="Another version of the document is being uploaded or processed; try again once it is READY.",
            current_version=error.current_version,
        )
    except QuotaExceeded as error:
        return quota_exceeded(error)
    except RaceLost as error:
        raise Conflict(str(error)) from None
    return Document.from_model(record)
