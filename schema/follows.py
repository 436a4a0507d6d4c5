"""Following documents: the inputs and results of followDocument and unfollowDocument."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.documents import Document
from schema.errors import NotFoundError
from schema.regions import WrongRegionError


@strawberry.input(description="A document to follow: yours, or one shared with you.")
class FollowDocumentInput:
    document_id: strawberry.ID = strawberry.field(description="The document: yours, or one shared with you (any role).")


@strawberry.input(description="A document to stop following.")
class UnfollowDocumentInput:
    document_id: strawberry.ID = strawberry.field(description="The document: yours, or one shared with you (any role).")


FollowDocumentResult = Annotated[
    Document | NotFoundError | WrongRegionError,
    strawberry.union(
        "FollowDocumentResult",
        description=(
            "The document, `following` true; or `NotFoundError` (no document with that id that you can read, also "
            "when deleted or no longer shared with you meanwhile). Nothing is written on a refusal."
        ),
    ),
]
UnfollowDocumentResult = Annotated[
    Document | NotFoundError | WrongRegionError,
    strawberry.union(
        "UnfollowDocumentResult",
        description=(
            "The document, `following` false; or `NotFoundError` (no document with that id that you can read, also "
            "when deleted meanwhile). Nothing is written on a refusal."
        ),
    ),
]
