"""What every resolver receives: the request, the process's services and the signed-in account."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from access import regions
from models import accounts, keys, sessions
from models.base import utcnow
from models.errors import AccountNotFound, DocumentNotFound
from runtime.services import Services
from services import share_links, shares, versions

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from datetime import datetime

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.websockets import WebSocket

    from adapters.cache import ReadCache
    from models.accounts import Account
    from models.share_links import ShareLink as ShareLinkRecord
    from models.shares import Share as ShareRecord
    from settings import Settings


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@dataclass
class Context:
    """Per request. The account is looked up at most once, and only when a resolver asks."""

    services: Services
    request: Request | WebSocket | None = None
    response: Response | None = None
    token: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: When the signed-in session expires (set by the lookup): a WebSocket connection outlives it.
    session_expires_at: datetime | None = None
    _viewer: asyncio.Task[Account | None] | None = field(default=None, repr=False)
    #: The viewer came from this request's own DynamoDB read, not from the read cache.
    _viewer_read: bool = field(default=False, repr=False)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    async def viewer(self) -> Account | None:
        """The signed-in account, or None for a missing, unknown, revoked or expired token.
        Raises ``WrongRegion`` (and puts the home on the response's headers) for a token or an
        account of another region.

        Fields of one query resolve concurrently: they all await the same single lookup.
        """
        if self._viewer is None:
            self._viewer = asyncio.ensure_future(self._look_up())
        account = await self._viewer
        if account is not None and self.session_expires_at is not None and self.session_expires_at <= utcnow():
            self.end_session()
            return None
        return account

    def viewer_id_known(self) -> str | None:
        """The viewer's account id if :meth:`viewer` has already looked it up (a subscription's
        field awaited it before its first event), without waiting; None otherwise."""
        looked_up = self._viewer
        if looked_up is None or not looked_up.done() or looked_up.cancelled() or looked_up.exception() is not None:
            return None
        account = looked_up.result()
        return None if account is None else account.id

    def end_session(self) -> None:
        """Forget the token: every later ``viewer()`` of this context (a WebSocket connection's
        operations) is None, so they answer ``UNAUTHENTICATED``."""
        self.token = None
        self.session_expires_at = None
        self._viewer = None

    async def viewer_as_stored(self) -> Account | None:
        """:meth:`viewer`, with its byte and document counts as stored now: the read cache keeps
        the account a few seconds and does not follow those (``models.accounts.get_cached``)."""
        account = await self.viewer()
        if account is None or self._viewer_read:
            return account
        try:
            return await self.services.blocking.run(accounts.get_fresh, account.id, self.services.cache)
        except AccountNotFound:
            return None

    async def _look_up(self) -> Account | None:
        if not self.token:
            return None
        wrong = regions.token_refusal(self.settings, self.token)
        if wrong is None:
            found = await self.services.blocking.run(_account_for_token, self.token, self.services.cache)
            account, self.session_expires_at, self._viewer_read = found
            if account is None or not accounts.is_replica(account, self.settings.region):
                return account
            # A replica never gets a session; should one have, send its holder home all the same.
            wrong = regions.refusal(self.settings, account.home_region)
            if wrong is None:
                log.error("session of account %s, whose home %s is unknown here", account.id, account.home_region)
                return None
        regions.point_home(self.response, wrong)
        raise wrong

    async def document_versions(self, owner_id: str, document_id: str, first: int, after: str | None) -> versions.Page:
        """``Document.versions``: a page of the versions of a document the viewer reached (its own,
        or one shared with it: ``access.documents`` built the ``Document`` with its owner)."""
        account = await self.viewer()
        if account is None:
            return versions.Page(entries=[], has_next=False, started_after=after is not None)
        try:
            return await versions.page(self.services, owner_id, document_id, first, after)
        except DocumentNotFound:  # deleted since the document was read
            return versions.Page(entries=[], has_next=False, started_after=after is not None)

    async def document_share_links(self, document_id: str) -> list[tuple[ShareLinkRecord, str | None]]:
        """``Document.shareLinks``: the signed-in account's document's links, each with its URL
        (None when it can no longer be derived); none for anyone else."""
        account = await self.viewer()
        if account is None:
            return []
        links = await share_links.of_document(self.services, account.id, document_id)
        return [(link, self.share_url(link)) for link in links]

    async def document_shares(self, document_id: str) -> list[ShareRecord]:
        """``Document.shares``: the signed-in account's document's shares; none for anyone else."""
        account = await self.viewer()
        if account is None:
            return []
        return await shares.of_document(self.services, account.id, document_id)

    def share_url(self, link: ShareLinkRecord) -> str | None:
        """The link's public page: on ``DOCSTORE_PUBLIC_URL``, else on the address this request came to."""
        token = share_links.token_for(self.services, link)
        if token is None:
            return None
        base = self.settings.public_url
        if not base and self.request is not None:
            base = str(self.request.base_url).rstrip("/")
            if base.startswith("ws"):  # a WebSocket's address: the page is on the same host over HTTP
                base = "http" + base[2:]
        return f"{base or self.settings.endpoint}/s/{token}"

    def download_url(self, key: str, filename: str) -> str:
        """Sign a download link (a local computation, no request to S3)."""
        return self.services.objects.download_url(key, filename=filename, expires_in=self.settings.download_url_seconds)

    def thumbnail_url(self, owner_id: str, document_id: str, content_hash: str, size: int) -> str:
        """Sign a link to a document's thumbnail (``models.keys.thumbnail``), shown inline."""
        key = keys.thumbnail(owner_id, document_id, content_hash, size)
        return self.services.objects.image_url(key, expires_in=self.settings.download_url_seconds)


def _account_for_token(token: str, cache: ReadCache | None) -> tuple[Account | None, datetime | None, bool]:
    """The token's account, when its session expires, and whether the account was read from
    DynamoDB just now (not from the read cache); (None, None, False) for no live session."""
    session = sessions.resolve(token, cache=cache)
    if session is None:
        return None, None, False
    account = accounts.cached(session.account_id, cache)
    if account is not None:
        return account, session.expires_at, False
    try:
        return accounts.get_fresh(session.account_id, cache), session.expires_at, True
    except AccountNotFound:
        return None, None, False
