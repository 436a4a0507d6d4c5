"""The schema, composed: every query, mutation and extension in one place."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from access.context import Context
from access.regions import AnswersWrongRegion
from events.channels import DEFAULT_BUFFER
from resolvers import accounts, checksums, dashboard, documents, multipart, plans, search, uploads, versions
from resolvers import changes as change_resolvers
from resolvers import follows as follow_resolvers
from resolvers import share_links as share_link_resolvers
from resolvers import shares as share_resolvers
from resolvers.limits import OperationLimits
from resolvers.observability import OperationMetrics
from resolvers.operations import NamedOperation
from resolvers.throttle import AccountRequests
from schema import descriptions
from schema.accounts import Account, SignInResult, SignOutPayload, SignUpResult
from schema.changes import ChangeEvent, ChangesResult
from schema.checksums import ChecksumComparison
from schema.dashboard import Dashboard
from schema.documents import (
    DeleteDocumentResult,
    Document,
    DocumentConnection,
    MoveDocumentResult,
    SharedDocumentConnection,
    UpdateDocumentResult,
)
from schema.errors import CodedError
from schema.events import DocumentEvent, QuotaEvent
from schema.follows import FollowDocumentResult, UnfollowDocumentResult
from schema.multipart import (
    AbortUploadResult,
    CompleteMultipartUploadResult,
    RequestMultipartUploadResult,
    SignUploadPartsResult,
    UploadedPart,
)
from schema.plans import UpgradePlanResult
from schema.scalars import SCALARS
from schema.search import SearchResult
from schema.share_links import CreateShareLinkResult, RevokeShareLinkResult, UpdateShareLinkResult
from schema.shares import ShareDocumentResult, UnshareDocumentResult
from schema.uploads import CompleteUploadResult, RequestUploadResult
from schema.versions import RestoreVersionResult
from subscriptions import changes as change_feed
from subscriptions import feeds, sharing

if TYPE_CHECKING:
    from graphql.execution import Executor
    from strawberry.types import ExecutionContext

    from settings import Settings

log = logging.getLogger("docstore.graphql")


@strawberry.type(
    description=(
        "Reading: every field needs `Authorization: Bearer <token>` and sees only that account, "
        "except `dashboard` (ADMIN accounts only), which sees service-wide totals. A token of another "
        "region's account gets `WRONG_REGION` with `extensions.homeRegion` and `extensions.endpoint`. "
        "Every operation (query, mutation or subscription) is measured before it runs: one over a limit "
        "(its size, tokens, fields with fragments expanded, fields times page sizes, depth, aliases, "
        "directives or values in its variables) gets `LIMIT_EXCEEDED`, with `extensions.limit` naming "
        "the setting and `extensions.allowed` its value. A signed-in account may send $requests_per_account "
        "operations every $requests_window (DOCSTORE_REQUESTS_PER_ACCOUNT, over HTTP and WebSocket "
        "together); past that, an operation gets `RATE_LIMITED` with `extensions.retryAfterSeconds` "
        "(over HTTP, status 429 with `Retry-After`), and nothing of it runs."
    )
)
class Query:
    me: Account = strawberry.field(
        resolver=accounts.me, description="The signed-in account. `UNAUTHENTICATED` without a valid token."
    )
    document: Document = strawberry.field(
        resolver=documents.document,
        description=(
            "One document by id: yours, or one shared with you (`access` says which). `NOT_FOUND` when it does not "
            "exist, or is neither yours nor shared with you."
        ),
    )
    shared_with_me: SharedDocumentConnection = strawberry.field(
        resolver=share_resolvers.shared_with_me,
        description=(
            "The documents other accounts share with you (`shareDocument`), newest document first, each with its "
            "share; page with `first` (1 to 100, default 20) and `after`. A page may hold fewer than `first` when "
            "documents were deleted a moment ago; follow `pageInfo.hasNextPage`. Bad arguments get "
            "`BAD_USER_INPUT`."
        ),
    )
    documents: DocumentConnection = strawberry.field(
        resolver=documents.list_documents,
        description=(
            "Your documents, newest first unless `orderBy` says otherwise: filter by name, tags, type, "
            "dates and status; page with `first` (1 to 100, default 20) and `after`. "
            "Bad arguments (`first`, the cursor, the filter) get `BAD_USER_INPUT`, with `extensions.fields` "
            "listing every one at fault as `{field, message}`."
        ),
    )
    # The resolver answers an async iterator (completed item by item, the loop handed back between
    # batches): the GraphQL type is the list it yields.
    compare_checksums = strawberry.field(
        resolver=checksums.compare_checksums,
        graphql_type=list[ChecksumComparison],
        description=(
            "Compare a sync client's files under one folder with your documents there, by content hash "
            "(`Document.contentHash`, the current version's), without downloading anything: one answer per file, "
            "in the order given, then one per document under `pathPrefix` that no file names (NOT_ON_CLIENT or "
            "PENDING), in path order. Paths match as paths compare, ignoring case. At most "
            "${compare_max_files} files, and at most as many documents under the prefix "
            "(DOCSTORE_COMPARE_MAX_FILES): past either, compare its folders one at a time. A query: it only "
            "reads. Bad input (a bad path or hash, a path outside `pathPrefix` or given twice, too many files "
            "or documents) gets `BAD_USER_INPUT`, with `extensions.fields` listing every one at fault as "
            "`{field, message}` (`input.files.3.path`, ...). One per operation "
            "(DOCSTORE_MAX_COMPARES_PER_OPERATION: more is `LIMIT_EXCEEDED`)."
        ),
    )
    search: SearchResult = strawberry.field(
        resolver=search.search,
        description=(
            "Find your READY documents by their words, best match first (BM25); with `scope` SHARED or ALL, those "
            "shared with you too. PREMIUM searches names, tags, descriptions and contents (with OCR text of images "
            "and scans); FREE searches names, tags and descriptions, of shared documents as well. A change shows in "
            "search within about a second. Pages of 1 to 50 hits, up to the first 1,000. Bad arguments (a query "
            "that cannot be read, the filter, `first`, the cursor) get "
            "`BAD_USER_INPUT`, with `extensions.fields` listing every one at fault as `{field, message}`, "
            "as `documents` does."
        ),
        extensions=[AnswersWrongRegion()],
    )
    uploaded_parts: list[UploadedPart] = strawberry.field(
        resolver=multipart.uploaded_parts,
        description=(
            "The parts S3 holds for one of your multipart uploads in progress, by number, to resume an upload: "
            "send only the parts missing (or of the wrong size). `NOT_FOUND` for an id that is not a multipart "
            "upload of yours in progress (completed, aborted, or another account's)."
        ),
    )
    changes: ChangesResult = strawberry.field(
        resolver=change_resolvers.list_changes,
        extensions=[AnswersWrongRegion()],
        description=(
            "What changed in your documents, oldest first, after the cursor `after` (`latestChangeCursor`, or the "
            "`endCursor` of the previous page): created (an upload completed), updated, moved, a new version, "
            "a version restored, deleted (`Change.kind`). Each "
            "change has the next `sequence` of your account, with no gap. Changes are kept "
            "${change_retention_days} days (DOCSTORE_CHANGE_RETENTION_DAYS, at least 30): a cursor whose next "
            "change is no longer kept answers `CursorExpiredError` (with `retentionDays`) instead of a page: "
            "compare the whole tree, then start again from `latestChangeCursor`. Bad arguments (`first`, a "
            "cursor this API did not give this account) get `BAD_USER_INPUT`."
        ),
    )
    latest_change_cursor: str = strawberry.field(
        resolver=change_resolvers.latest_change_cursor,
        description=(
            "A cursor after your latest change: `changes(after:)` and `changeEvents(after:)` with it answer "
            "only what changes from now on. Take it before a full compare, so nothing made meanwhile is missed."
        ),
    )
    dashboard: Dashboard = strawberry.field(
        resolver=dashboard.dashboard,
        description="Service-wide totals and queue backlogs. ADMIN accounts only: `FORBIDDEN` for anyone else.",
    )


@strawberry.type(
    description=(
        "Changing: every mutation but `signUp` and `signIn` needs a bearer token. A token of another "
        "region's account gets `WrongRegionError` (or `WRONG_REGION` where the result is no union). "
        "A change that loses the race to another change of the same account (a plan change while "
        "documents are being counted) is tried again, ${plan_race_attempts} times in all, then answered "
        "with `CONFLICT` and nothing changed: send it again a moment later. An input that is not "
        "acceptable is answered with `ValidationError`, whose `fields` lists every input field at fault; "
        "nothing is stored."
    )
)
class Mutation:
    sign_up: SignUpResult = strawberry.mutation(
        resolver=accounts.sign_up,
        description=(
            "Create an account and sign in to it. Counted with signIn: at most "
            "DOCSTORE_AUTH_ATTEMPTS_PER_IP attempts per client IP and DOCSTORE_AUTH_ATTEMPTS_PER_EMAIL "
            "per email every DOCSTORE_AUTH_WINDOW_SECONDS (10, 5 and 60 by default); beyond, "
            "`RateLimitedError`."
        ),
    )
    sign_in: SignInResult = strawberry.mutation(
        resolver=accounts.sign_in,
        description=(
            "Start a session with email and password. Counted with signUp: at most "
            "DOCSTORE_AUTH_ATTEMPTS_PER_IP attempts per client IP and DOCSTORE_AUTH_ATTEMPTS_PER_EMAIL "
            "per email every DOCSTORE_AUTH_WINDOW_SECONDS (10, 5 and 60 by default); beyond, "
            "`RateLimitedError`."
        ),
    )
    sign_out: SignOutPayload = strawberry.mutation(
        resolver=accounts.sign_out,
        description=(
            "End the session of the token sent: it stops working at once, and subscriptions running "
            "under it end with `UNAUTHENTICATED`."
        ),
    )
    request_upload: RequestUploadResult = strawberry.mutation(
        resolver=uploads.request_upload,
        extensions=[AnswersWrongRegion()],
        description=(
            "Reserve room for a file and get a signed S3 form (valid ${upload_form_seconds} s) to POST it to. "
            "Then call `completeUpload`. Uncompleted forms are released after they expire."
        ),
    )
    complete_upload: CompleteUploadResult = strawberry.mutation(
        resolver=uploads.complete_upload,
        extensions=[AnswersWrongRegion()],
        description=(
            "After the POST to S3 succeeded: keep the file the form posted (copied, within S3, to where no "
            "form can write), check it and count it. A file the form posts after this changes nothing: "
            "the document keeps the file counted here, and the later one is deleted once the form expires. "
            "Safe to repeat: a second call returns the same document."
        ),
    )
    request_multipart_upload: RequestMultipartUploadResult = strawberry.mutation(
        resolver=multipart.request_multipart_upload,
        extensions=[AnswersWrongRegion()],
        description=(
            "For a large file: reserve room for it and start an S3 multipart upload, whose parts go straight to "
            "S3, in parallel if you like (`signUploadParts`, then a PUT per part), then `completeMultipartUpload`: "
            "S3 assembles the parts, never this API. Any size up to the plan's quota. Not completed within "
            "${multipart_upload_seconds} seconds, it is aborted and its reservation released."
        ),
    )
    sign_upload_parts: SignUploadPartsResult = strawberry.mutation(
        resolver=multipart.sign_upload_parts,
        extensions=[AnswersWrongRegion()],
        description=(
            "A presigned PUT URL for each part named of a multipart upload in progress "
            "(valid ${multipart_part_url_seconds} s). Ask again for parts whose URL expired or whose PUT failed."
        ),
    )
    complete_multipart_upload: CompleteMultipartUploadResult = strawberry.mutation(
        resolver=multipart.complete_multipart_upload,
        extensions=[AnswersWrongRegion()],
        description=(
            "After every part's PUT succeeded: check the parts against what S3 holds (each but the last exactly "
            "`partSize` bytes, adding up to the declared size, with the ETags named), have S3 assemble them, and "
            "count the file, as `completeUpload` does. Parts that do not match reject the upload: S3's upload is "
            "aborted and the reservation released. Once completed, the part URLs can change nothing. Safe to "
            "repeat: a second call returns the same document."
        ),
    )
    abort_upload: AbortUploadResult = strawberry.mutation(
        resolver=multipart.abort_upload,
        extensions=[AnswersWrongRegion()],
        description=(
            "Abort a multipart upload in progress: S3 deletes its parts, its reservation is released and it is "
            "forgotten. A completed upload is a document: delete it with `deleteDocument` (which also cancels a "
            "form's upload)."
        ),
    )
    update_document: UpdateDocumentResult = strawberry.mutation(
        resolver=documents.update_document,
        description="Rename a document or change its tags or description.",
        extensions=[AnswersWrongRegion()],
    )
    move_document: MoveDocumentResult = strawberry.mutation(
        resolver=documents.move_document,
        extensions=[AnswersWrongRegion()],
        description=(
            "Move a document to another path: another folder, another last segment, or only another spelling "
            "of the same path. Its name, and everything else, stays as it is. `PathTakenError` when another "
            "document is there; a move never replaces anything."
        ),
    )
    delete_document: DeleteDocumentResult = strawberry.mutation(
        resolver=documents.delete_document,
        extensions=[AnswersWrongRegion()],
        description=(
            "Delete a document: its file, every version it keeps, its record and their bytes in the quota, together. "
            "An upload of a new version of it still in progress is cancelled with it, its reservation released."
        ),
    )
    restore_version: RestoreVersionResult = strawberry.mutation(
        resolver=versions.restore_version,
        extensions=[AnswersWrongRegion()],
        description=(
            "Make an earlier version of a document its new current version: a copy of that version's bytes, "
            "processed as an upload is (type, content hash, text, search). The history is kept: the restored "
            "version stays, and the copy counts in the quota as every version does."
        ),
    )
    create_share_link: CreateShareLinkResult = strawberry.mutation(
        resolver=share_link_resolvers.create_share_link,
        extensions=[AnswersWrongRegion()],
        description=(
            "Make a public link to one of your stored documents (or to one version of it): its `url` opens a page "
            "with the document's name, size and a download button (a password form first, when it has one). At most "
            "${share_links_per_document} live links a document (DOCSTORE_SHARE_LINKS_PER_DOCUMENT; revoked ones do "
            "not count). A download redirects to a signed S3 URL valid ${share_download_url_lifetime}. A password "
            "is hashed as account passwords are: while the server hashes too many at once, `CONFLICT` (nothing "
            "written; send it again)."
        ),
    )
    update_share_link: UpdateShareLinkResult = strawberry.mutation(
        resolver=share_link_resolvers.update_share_link,
        extensions=[AnswersWrongRegion()],
        description=(
            "Change a share link's expiry, password or download limit; a field left null stays as it is; "
            '`password: ""` removes the password.'
        ),
    )
    revoke_share_link: RevokeShareLinkResult = strawberry.mutation(
        resolver=share_link_resolvers.revoke_share_link,
        extensions=[AnswersWrongRegion()],
        description="End a share link at once: its page answers 410 from now on. It stays listed, revoked.",
    )
    share_document: ShareDocumentResult = strawberry.mutation(
        resolver=share_resolvers.share_document,
        extensions=[AnswersWrongRegion()],
        description=(
            "Share one of your stored documents with another account of this region, by its email, as VIEWER (read, "
            "download, thumbnails, versions, events) or EDITOR (also rename, retag, redescribe and upload a new "
            "version, whose bytes count in your quota). Sharing again with the same email changes the role. Only "
            "the owner shares: a document shared with you answers `FORBIDDEN`."
        ),
    )
    unshare_document: UnshareDocumentResult = strawberry.mutation(
        resolver=share_resolvers.unshare_document,
        extensions=[AnswersWrongRegion()],
        description=(
            "Remove a share: the owner ends it, or the account it is shared with leaves it. That account loses "
            "access at once: its next request answers `NOT_FOUND`, and its open subscriptions to the document end "
            "with `NOT_FOUND`."
        ),
    )
    follow_document: FollowDocumentResult = strawberry.mutation(
        resolver=follow_resolvers.follow_document,
        extensions=[AnswersWrongRegion()],
        description=(
            "Follow a document you can read (yours, or shared with you in any role): from now on you hear live, on "
            "`documentEvents`, of each new version, rename, retag, restore and delete someone else makes of it "
            "(`DocumentChanged`). You follow your own documents from the start; following again changes nothing. "
            "An account the document is no longer shared with follows it no longer."
        ),
    )
    unfollow_document: UnfollowDocumentResult = strawberry.mutation(
        resolver=follow_resolvers.unfollow_document,
        extensions=[AnswersWrongRegion()],
        description=(
            "Stop following a document you can read; on your own document this is kept until you follow it again."
        ),
    )
    upgrade_plan: UpgradePlanResult = strawberry.mutation(
        resolver=plans.upgrade_plan,
        description=(
            "Move to another plan. To PREMIUM: the limit rises to 20 GiB at once, and the text of documents "
            "stored before is extracted in the background, after new uploads. To FREE: contents leave the "
            "search index and the quota is checked against 5 GiB (over it, uploads are refused until you delete)."
        ),
        extensions=[AnswersWrongRegion()],
    )


@strawberry.type(
    description=(
        "Live events, over WebSocket with the `graphql-transport-ws` protocol only. Authenticate in "
        '`connection_init` with `{"authorization": "Bearer <token>"}`: the socket closes with 4403 without '
        "a live token, with 4421 (reason `WRONG_REGION <homeRegion> <endpoint>`) for a token of another region's "
        "account, and with 4408 when no `connection_init` comes within 3 s. A subscription that leaves "
        f"more than {DEFAULT_BUFFER} events unread ends with `TOO_SLOW`. Subscriptions end with "
        "`UNAUTHENTICATED` when their session expires or is signed out, and the connection's later "
        "subscriptions are refused the same way: open a new connection with a new token."
    )
)
class Subscription:
    document_events: AsyncIterator[DocumentEvent] = strawberry.subscription(
        resolver=feeds.document_events,
        description=(
            "Your documents' events as they happen, or one document's with `documentId`: yours, or one shared "
            "with you (`NOT_FOUND` when it is neither). A shared document's subscription ends with `NOT_FOUND` the "
            "moment its share is removed, and after its `DocumentDeleted` when it is deleted. Events published "
            "before you subscribed are not replayed."
        ),
    )
    change_events: AsyncIterator[ChangeEvent] = strawberry.subscription(
        resolver=change_feed.change_events,
        description=(
            "Your change feed: every change after the cursor `after` replayed in order, then each new one as it "
            "is made, each exactly once (by `sequence`) across the switch from replay to live. A cursor whose next "
            "change is no longer kept gets one `CursorExpiredError` event (with `retentionDays`), and the "
            "subscription completes: compare the whole tree, then subscribe again from `latestChangeCursor`. "
            "The same ends a replay that falls behind the changes kept. A bad cursor is refused with "
            "`BAD_USER_INPUT`."
        ),
    )
    quota_events: AsyncIterator[QuotaEvent] = strawberry.subscription(
        resolver=feeds.quota_events,
        description="Your quota's events as they happen: usage changes, warnings, going over the limit.",
    )


def should_mask(error: GraphQLError) -> bool:
    """Mask what users did not cause: anything raised that is not a coded or GraphQL error. An
    operation name the document lacks is the client's (the WebSocket handler words its message)."""
    original = error.original_error
    return original is not None and not isinstance(original, (CodedError, GraphQLError, CannotGetOperationTypeError))


class PerEventMemoExecutor(StrawberryGraphQLCoreExecutionContext):
    """Gives each subscription event its own subfield memo. graphql-core 3.3.2's per-event executor
    shares the subscription's memo, keyed on the id of a field list that is new for every event, so
    each live subscription kept about 20 objects per event delivered until it ended: memory grew
    without bound and full garbage collections of ~300 ms stalled every subscriber (docs/BENCHMARKS.md)."""

    #: Whether this executor runs one subscription event (built by ``build_per_event_executor``).
    per_event = False

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        executor.per_event = True  # type: ignore[attr-defined]
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        """A subscription event's result, executed once per event and selection in the process and
        shared by every subscriber with that selection (``subscriptions.sharing``)."""
        viewer = self.context_value.viewer_id_known() if isinstance(self.context_value, Context) else None
        if not self.per_event or viewer is None:
            return super().execute_operation(serially)
        key = (self.operation, sharing.variables_key(self.variable_values.coerced), viewer)
        run = super().execute_operation
        return sharing.SHARING.result(self.root_value, key, lambda: run(serially))


class DocStoreSchema(strawberry.Schema):
    """Logs only the unexpected (with the request id): user errors are answers, not incidents."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        context = execution_context.context if execution_context else None
        request_id = getattr(context, "request_id", "-")
        for error in errors:
            if should_mask(error):
                log.error("request %s failed: %s", request_id, error.message, exc_info=error.original_error)


def build_schema(settings: Settings) -> DocStoreSchema:
    """The schema as ``settings`` serve it: the same types and fields whatever the settings, with
    descriptions that name a setting saying its value (``schema.descriptions``)."""
    built = DocStoreSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=PerEventMemoExecutor,
        extensions=[
            # Factories, not instances: an extension holds per-request state. The limits' cache of
            # parsed and validated operations lives at module level, so every request shares it.
            AccountRequests,
            OperationLimits,
            NamedOperation,
            functools.partial(MaskErrors, should_mask_error=should_mask),
            OperationMetrics,
            feeds.WebSocketOnlySubscriptions,
        ],
    )
    descriptions.fill(built._schema, settings)
    return built
