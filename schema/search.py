"""Search: hits with their document, score and highlighted fragments."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from schema.accounts import Plan
from schema.documents import Document, PageInfo
from schema.errors import Error, ValidationError
from schema.regions import WrongRegionError


@strawberry.enum(description="Whose documents a search looks through.")
class SearchScope(Enum):
    OWN = strawberry.enum_value("OWN", description="Your own documents: the default.")
    SHARED = strawberry.enum_value(
        "SHARED",
        description=(
            "Documents other accounts share with you (`sharedWithMe`): the newest ${search_shared_documents} "
            "(DOCSTORE_SEARCH_SHARED_DOCUMENTS)."
        ),
    )
    ALL = strawberry.enum_value("ALL", description="Both: your own documents and those shared with you.")


@strawberry.type(description="Where a hit matched: a fragment of one field with the matched words marked.")
class Highlight:
    field: str = strawberry.field(
        description="The field the fragment is from: `name`, `tags`, `description` or `content`."
    )
    snippet: str = strawberry.field(
        description=(
            "The fragment as HTML: the field's text escaped (`<` is `&lt;`), the matched words in `<b>…</b>`. "
            "Content fragments are at most about 150 characters."
        )
    )


@strawberry.type(description="One document that matches a search.")
class SearchHit:
    document: Document = strawberry.field(description="The matching document, as it is now.")
    score: float = strawberry.field(description="BM25 relevance: higher is better; comparable within one search only.")
    highlights: list[Highlight] = strawberry.field(
        description="Fragments of the fields that matched, name first; empty when only filters matched."
    )


@strawberry.type(description="A hit with its position in the results.")
class SearchHitEdge:
    cursor: str = strawberry.field(description="Opaque position; valid only for the same query and filter.")
    node: SearchHit = strawberry.field(description="The hit.")


@strawberry.type(description="A page of search results, best first (Relay connection).")
class SearchConnection:
    edges: list[SearchHitEdge] = strawberry.field(description="The hits of this page, best first.")
    page_info: PageInfo = strawberry.field(description="How to fetch the next page (up to the first 1,000 hits).")


@strawberry.type(description="Searching the contents of documents needs the PREMIUM plan.")
class PremiumRequiredError(Error):
    plan: Plan = strawberry.field(description="The account's plan now.")


SearchResult = Annotated[
    SearchConnection | PremiumRequiredError | ValidationError | WrongRegionError,
    strawberry.union(
        "SearchResult",
        description=(
            "The hits; `PremiumRequiredError` when a FREE account names `content:`; "
            "`WrongRegionError` for an account that lives in another region. Bad arguments are a top-level "
            "`BAD_USER_INPUT` error, as for `documents`: `ValidationError` is no longer answered here, and "
            "stays a member so that operations selecting it remain valid."
        ),
    ),
]
