"""Search: the signed-in account's READY documents, by their words.

The index answers which documents match, in which order and where; DynamoDB answers what each
document is now. A hit whose record is gone or no longer READY (deleted a moment ago, before the
indexer caught up) is left out, so search never shows what the owner no longer has.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from access.context import Context
from access.permissions import require_account
from adapters.search.base import (
    ContentSearchNotAllowed,
    PageTooDeep,
    QuerySyntaxError,
    SearchBackend,
    SearchFilter,
    SearchPage,
)
from domain.documents import DocumentStatus
from domain.sharing import Role
from models import documents, shares
from resolvers import pagination
from schema.documents import Document, DocumentFilter, PageInfo
from schema.errors import BadUserInput
from schema.search import (
    Highlight,
    PremiumRequiredError,
    SearchConnection,
    SearchHit,
    SearchHitEdge,
    SearchResult,
    SearchScope,
)
from services import validation

if TYPE_CHECKING:
    from models.shares import Share

MAX_PAGE = 50
PREMIUM_REQUIRED = (
    "Searching the contents of documents needs the PREMIUM plan; "
    "FREE accounts search names, tags and descriptions (leave out `content:`)."
)


def _scope(account_id: str, query: str, flt: documents.ListFilter, content: bool, whose: SearchScope) -> str:
    """What a cursor is a position in: this query, filter and scope, for this account and plan."""
    raw = json.dumps([account_id, query, repr(flt), content, whose.name], ensure_ascii=False)
    return "search:" + hashlib.sha256(raw.encode()).hexdigest()[:24]


def _fresh_search(backend: SearchBackend, owner_id: str, query: str, **options: Any) -> SearchPage:
    """Search what was last committed, by any process: one trip to a worker thread for both."""
    backend.refresh()
    return backend.search(owner_id, query, **options)


def _offset(cursor: str, scope: str) -> int:
    """Where a cursor of this search's results points: how many hits came before it."""
    try:
        offset = int(pagination.decode(cursor, scope)[0])
    except (validation.InvalidInput, ValueError):
        offset = -1
    if offset < 0:  # cursors are readable, so one can be edited
        raise validation.invalid("after", "The cursor is not one this search gave out.")
    return offset


def _records(account_id: str, document_ids: list[str], granted: dict[str, Share]) -> dict[str, documents.Document]:
    """The hits' documents as they are now: the searcher's own, and each shared one from its owner."""
    by_owner: dict[str, list[str]] = {}
    for document_id in document_ids:
        share = granted.get(document_id)
        by_owner.setdefault(account_id if share is None else share.owner_id, []).append(document_id)
    found: dict[str, documents.Document] = {}
    for owner_id, ids in by_owner.items():
        found |= documents.get_many(owner_id, ids)
    return found


def _search_filter(flt: documents.ListFilter) -> SearchFilter:
    return SearchFilter(
        name_contains=flt.name_contains,
        tags=flt.tags,
        content_type=flt.content_type,
        created_after=flt.created_after,
        created_before=flt.created_before,
        updated_after=flt.updated_after,
        updated_before=flt.updated_before,
    )


async def search(
    info: strawberry.Info[Context, None],
    query: Annotated[
        str,
        strawberry.argument(
            description=(
                'Words to find (all of them, any order), `"a phrase"`, `prefix*`, `AND` / `OR` / `NOT`, `-word`, '
                "parentheses, and `name:`, `tag:`, `description:`, `content:` (PREMIUM) before a word or phrase. "
                "At most 10,000 characters."
            )
        ),
    ],
    filter: Annotated[
        DocumentFilter | None,
        strawberry.argument(description="The filter `documents` takes; only READY documents are ever found."),
    ] = None,
    first: Annotated[int, strawberry.argument(description="How many hits, 1 to 50.")] = 20,
    after: Annotated[
        str | None, strawberry.argument(description="`endCursor` of the previous page of the same search.")
    ] = None,
    scope: Annotated[
        SearchScope,
        strawberry.argument(
            description=(
                "Whose documents: OWN (yours, the default), SHARED (those shared with you) or ALL. Your plan decides "
                "what is searched, whoever owns the document: FREE searches names, tags and descriptions of shared "
                "documents too, PREMIUM their contents as well (where their owner's plan has them extracted)."
            )
        ),
    ] = SearchScope.OWN,
) -> SearchResult:
    account = await require_account(info)
    whose = scope
    services = info.context.services
    backend = services.search
    if backend is None:
        raise RuntimeError("search is not set up in this process")
    content = account.plan.searches_contents
    checks = validation.Checks()
    flt = checks(validation.list_filter, documents.ListFilter(), filter)
    if flt.path_prefix is not None:  # the index holds no paths
        checks.problems.append(
            validation.Problem("filter.pathPrefix", "Search does not filter by path; list a folder with `documents`.")
        )
    filter_read = not checks.problems
    checks(validation.page_size, first, first, MAX_PAGE)
    cursor_scope = _scope(account.id, query, flt, content, whose)
    offset = 0
    if after is not None and filter_read:  # a cursor is a position in one filter's results
        offset = checks(_offset, 0, after, cursor_scope)
    if checks.problems:
        # The query is checked with the rest: one answer names everything that is wrong.
        try:
            await services.blocking.run(functools.partial(backend.validate, query, content=content))
        except QuerySyntaxError as error:
            checks.problems.insert(0, validation.Problem("query", error.message))
        except ContentSearchNotAllowed:
            pass  # not the arguments' fault: asked again with them right, it answers PremiumRequiredError
        raise BadUserInput(checks.problems)
    granted: dict[str, Share] = {}
    if whose is not SearchScope.OWN:  # read now, consistently: a share removed a moment ago is not searched
        newest = await services.blocking.run(shares.newest, account.id, services.settings.search_shared_documents)
        granted = {share.document_id: share for share in newest}
    try:
        if flt.status is not None and flt.status != DocumentStatus.READY:
            # Only READY documents are in the index: nothing else can match, but the query is still checked.
            await services.blocking.run(functools.partial(backend.validate, query, content=content))
            page = SearchPage(hits=[], has_more=False)
        else:
            page = await services.blocking.run(
                functools.partial(
                    _fresh_search,
                    backend,
                    account.id,
                    query,
                    content=content,
                    flt=_search_filter(flt),
                    offset=offset,
                    limit=first,
                    own=whose is not SearchScope.SHARED,
                    shared=[(share.owner_id, share.document_id) for share in granted.values()],
                )
            )
    except ContentSearchNotAllowed:
        return PremiumRequiredError(message=PREMIUM_REQUIRED, plan=account.plan)
    except QuerySyntaxError as error:
        raise BadUserInput([validation.Problem("query", error.message)]) from None
    except PageTooDeep as error:
        raise BadUserInput([validation.Problem("after", str(error))]) from None
    records = await services.blocking.run(_records, account.id, [hit.document_id for hit in page.hits], granted)
    edges = []
    for rank, hit in enumerate(page.hits, start=offset + 1):
        record = records.get(hit.document_id)
        if record is None or record.status != DocumentStatus.READY:
            continue
        share = granted.get(hit.document_id)
        node = SearchHit(
            document=Document.from_model(record, Role.OWNER if share is None else share.role),
            score=hit.score,
            highlights=[Highlight(field=mark.field, snippet=mark.snippet) for mark in hit.highlights],
        )
        edges.append(SearchHitEdge(cursor=pagination.encode(cursor_scope, str(rank), ""), node=node))
    end_cursor = pagination.encode(cursor_scope, str(offset + len(page.hits)), "") if page.hits else None
    return SearchConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_more,
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=end_cursor,
        ),
    )
