"""Share links ("Make Public"): a document's public links, and what the public page does with one.

A link's token is ``base64url(HMAC-SHA256(secret, owner/document#link))``: 256 bits no one can
guess without the server's secret (``DOCSTORE_SHARE_SECRET``, else one kept in the data folder),
derived again whenever the owner reads the link's ``url``, and stored only as its SHA-256, the key
the public page looks it up by. A leaked table gives no working link; a link's URL needs no stored
copy of the token. Should the secret change, links keep working (their hash is stored) but their
URL can no longer be shown (``url`` is None).

Owner side: :func:`create`, :func:`update`, :func:`revoke`, :func:`of_document`, and
:func:`make_public` (requestUpload's ``public``, once the upload completes). Public side:
:func:`open_link` (the page) and :func:`download` (the button: the password checked, the download
counted atomically against ``maxDownloads``, a short-lived signed S3 URL). Failures are typed:
:class:`InvalidInput`, :class:`DocumentNotFound`, :class:`ShareLinkNotFound`,
:class:`TooManyLinks`; :class:`Unknown` (404), :class:`Gone` (410), :class:`WrongPassword`,
:class:`RateLimited` on the public side.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, cast

from argon2.exceptions import VerifyMismatchError
from ulid import ULID

from adapters.hashing import HashingBusy
from adapters.ratelimits import RateLimited
from domain.documents import STORED
from models import documents, keys, share_links, versions
from models.base import utcnow
from models.errors import DocumentNotFound, ShareLinkNotFound, TooManyLinks
from services import validation

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from models.documents import Document
    from models.share_links import ShareLink
    from runtime.services import Services

log = logging.getLogger(__name__)

__all__ = ["RateLimited", "ShareLinkNotFound", "TooManyLinks"]

#: A link's id as the API shows it: its document's id, then its own (two ULIDs).
LINK_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{52}")
#: What a token looks like (43 characters of URL-safe base64): anything else is unknown at once.
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_PASSWORD_CHARS = 128


class Unknown(Exception):
    """No such link, or its document (or pinned version) is gone: 404, the same either way."""


class Gone(Exception):
    """The link was revoked, has expired or has no downloads left: 410."""


class WrongPassword(Exception):
    """The link has a password and this was not it (or none was sent)."""


@dataclass(frozen=True)
class Shared:
    """What the public page shows of a live link."""

    link: ShareLink
    name: str
    size: int
    object_key: str
    #: The large thumbnail of the bytes shared (``models.keys.thumbnail``), when they have one.
    thumbnail_key: str | None = None

    @property
    def has_password(self) -> bool:
        return self.link.password_hash is not None


# --- tokens ------------------------------------------------------------------------------------


def token_of(secret: bytes, owner_id: str, link_key: str) -> str:
    digest = hmac.new(secret, f"{owner_id}/{link_key}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_for(services: Services, link: ShareLink) -> str | None:
    """The link's token, derived again; None when the secret changed since it was made."""
    token = token_of(services.share_secret, link.owner_id, link.link_key)
    return token if hmac.compare_digest(hash_token(token), link.token_hash) else None


def public_id(link: ShareLink) -> str:
    return f"{link.document_id}{link.link_id}"


def parse_id(raw: str) -> tuple[str, str]:
    """(document id, link id) of an API id; :class:`ShareLinkNotFound` for one that cannot be."""
    if not LINK_ID.fullmatch(raw):
        raise ShareLinkNotFound(raw[:64])
    return raw[:26], raw[26:]


# --- input rules ---------------------------------------------------------------------------------


def expiry(raw: int | None, services: Services, field: str = "expiresInSeconds") -> int:
    longest = services.settings.share_max_expiry_seconds
    if raw is None:
        return services.settings.share_default_expiry_seconds
    if not 1 <= raw <= longest:
        raise validation.invalid(field, f"`{field}` must be between 1 and {longest:,} seconds.")
    return raw


def downloads_limit(raw: int | None, services: Services, field: str = "maxDownloads") -> int | None:
    most = services.settings.share_max_downloads
    if raw is not None and not 1 <= raw <= most:
        raise validation.invalid(field, f"`{field}` must be between 1 and {most:,}.")
    return raw


def password(raw: str | None, field: str = "password", *, removable: bool = False) -> str | None:
    if raw is None or (removable and raw == ""):
        return raw
    if not raw.strip():
        raise validation.invalid(field, "The password may not be empty or only spaces.")
    if len(raw) > MAX_PASSWORD_CHARS:
        raise validation.invalid(field, f"The password may have at most {MAX_PASSWORD_CHARS} characters.")
    return raw


async def _hash_password(services: Services, raw: str | None) -> str | None:
    if not raw:
        return None
    hashed: str = await services.hashing.run(services.passwords.hash, raw)
    return hashed


# --- the owner's side ----------------------------------------------------------------------------


async def create(
    services: Services,
    owner_id: str,
    raw_document_id: str,
    *,
    expires_in_seconds: int | None = None,
    password_text: str | None = None,
    max_downloads: int | None = None,
    version: int | None = None,
) -> ShareLink:
    """A new link to the owner's stored document (or to one of its versions, ``version``).

    :class:`InvalidInput` for a bad field (every one at fault; a version the document does not
    keep is ``version``'s), :class:`DocumentNotFound` for a document that is not the owner's or
    not stored, :class:`TooManyLinks` past ``DOCSTORE_SHARE_LINKS_PER_DOCUMENT``: nothing is
    written then."""
    checks = validation.Checks()
    seconds = checks(expiry, 0, expires_in_seconds, services)
    checks(password, None, password_text)
    limit = checks(downloads_limit, None, max_downloads, services)
    if version is not None:
        checks(validation.version_number, 0, "version", version)
    checks.done()
    document_id = validation.document_id(raw_document_id)
    document = await services.blocking.run(documents.get, owner_id, document_id)
    if not document.reachable:
        raise DocumentNotFound(document_id)
    if version is not None and version != document.current_version:
        row = await services.blocking.run(versions.get, owner_id, document_id, version)
        if row is None:
            raise validation.invalid(
                "version",
                f"The document has no version {version} (it never had one, or it is past the plan's retention).",
            )
    return await _make(services, owner_id, document_id, str(ULID()), seconds, password_text, limit, version)


async def _make(
    services: Services,
    owner_id: str,
    document_id: str,
    link_id: str,
    seconds: int,
    password_text: str | None,
    limit: int | None,
    version: int | None,
) -> ShareLink:
    if not services.share_secret:
        raise RuntimeError("this process has no share secret (DOCSTORE_SHARE_SECRET): it cannot make links")
    now = utcnow()
    token = token_of(services.share_secret, owner_id, share_links.link_key(document_id, link_id))
    new = share_links.NewLink(
        document_id=document_id,
        link_id=link_id,
        token_hash=hash_token(token),
        version=version,
        expires_at=now + timedelta(seconds=seconds),
        max_downloads=limit,
        password_hash=await _hash_password(services, password_text),
    )
    return await services.blocking.run(
        share_links.create, owner_id, new, services.settings.share_links_per_document, now
    )


async def make_public(services: Services, owner_id: str, completed: Sequence[tuple[str, str]]) -> None:
    """The links requestUpload's ``public`` asked for, once their uploads completed: one per
    (upload id, document id), with the default expiry, no password and no download limit. The
    link's id is the upload's, so a completion repeated makes no second link. A document already
    holding its most links gets none (logged): the upload itself succeeded."""
    for upload_id, document_id in completed:
        try:
            await _make(
                services,
                owner_id,
                document_id,
                upload_id,
                services.settings.share_default_expiry_seconds,
                None,
                None,
                None,
            )
        except (TooManyLinks, DocumentNotFound) as refused:
            log.warning("no share link for upload %s of document %s: %s", upload_id, document_id, refused)


async def _owned(services: Services, owner_id: str, raw_id: str) -> ShareLink:
    document_id, link_id = parse_id(raw_id)
    return await services.blocking.run(share_links.get, owner_id, document_id, link_id)


async def update(
    services: Services,
    owner_id: str,
    raw_id: str,
    *,
    expires_in_seconds: int | None = None,
    password_text: str | None = None,
    max_downloads: int | None = None,
) -> ShareLink:
    """Change a link: a new expiry counted from now (extending or shortening it, reviving an
    expired one), a new password (``""`` removes it), a new download limit (under the downloads
    made, the link is exhausted). None leaves a field as it is. A revoked link cannot change
    (:class:`InvalidInput` on ``id``); another owner's is :class:`ShareLinkNotFound`."""
    checks = validation.Checks()
    seconds = checks(expiry, 0, expires_in_seconds, services) if expires_in_seconds is not None else None
    checks(password, None, password_text, removable=True)
    limit = checks(downloads_limit, None, max_downloads, services)
    checks.done()
    link = await _owned(services, owner_id, raw_id)
    if link.revoked_at is not None:
        raise validation.invalid("id", "The link is revoked and cannot change; make a new one.")
    hashed = await _hash_password(services, password_text)
    expires_at = utcnow() + timedelta(seconds=seconds) if seconds is not None else None
    return await services.blocking.run(
        functools.partial(
            share_links.update,
            link,
            expires_at=expires_at,
            max_downloads=limit,
            password_hash=hashed,
            remove_password=password_text == "",
        )
    )


async def revoke(services: Services, owner_id: str, raw_id: str) -> ShareLink:
    """End a link at once (410 from now on); a second revoke changes nothing."""
    link = await _owned(services, owner_id, raw_id)
    return await services.blocking.run(share_links.revoke, link)


async def of_document(services: Services, owner_id: str, document_id: str) -> list[ShareLink]:
    """The owner's document's links, oldest first, revoked and expired ones included."""
    return await services.blocking.run(share_links.of_document, owner_id, document_id)


# --- the public side ----------------------------------------------------------------------------


def _find(token: str, now: datetime, *, consistent: bool) -> ShareLink:
    """The link of ``token`` that may still serve: :class:`Unknown` or :class:`Gone`."""
    if not TOKEN.fullmatch(token):
        raise Unknown
    link = share_links.by_token_hash(hash_token(token), consistent=consistent)
    if link is None:
        raise Unknown
    if not link.live(now):
        raise Gone
    return link


def _shared(link: ShareLink) -> Shared:
    """What the link serves now: :class:`Unknown` when its document or pinned version is gone."""
    try:
        document = documents.get(link.owner_id, link.document_id)
    except DocumentNotFound:
        raise Unknown from None
    if document.status not in STORED:
        raise Unknown
    if link.version is None:
        return Shared(
            link=link,
            name=document.name,
            size=int(document.size),
            object_key=document.served,
            thumbnail_key=_thumbnail(document),
        )
    if int(link.version) == document.current_version:
        return Shared(
            link=link,
            name=document.name,
            size=int(document.size),
            object_key=document.object_key,
            thumbnail_key=_thumbnail(document),
        )
    row = versions.get(link.owner_id, link.document_id, int(link.version))
    if row is None:
        raise Unknown
    return Shared(link=link, name=document.name, size=int(row.size), object_key=row.object_key)


def _thumbnail(document: Document) -> str | None:
    """The key of the document's large thumbnail; None while it has none (or only one size)."""
    # PynamoDB types a list's items by their attribute: numbers, read back as such.
    sizes = [int(size) for size in cast("list[float]", document.thumbnail_sizes or [])]
    if document.thumbnail_hash is None or len(sizes) != 2:
        return None
    return keys.thumbnail(document.owner_id, document.document_id, document.thumbnail_hash, sizes[1])


def _open(token: str, consistent: bool) -> Shared:
    return _shared(_find(token, utcnow(), consistent=consistent))


async def open_link(services: Services, token: str, *, consistent: bool = False) -> Shared:
    """What the public page shows for ``token``; reads only (a preview robot counts nothing). The
    page takes the index's copy of the link (one read fewer; it may show a link revoked a moment
    ago, whose button the download's own read and conditional write then refuse)."""
    return await services.blocking.run(_open, token, consistent)


async def download(services: Services, token: str, password_text: str | None, client_ip: str | None) -> str:
    """Check the password (rate limited per IP and per link), count the download atomically
    against ``maxDownloads`` and the expiry, and sign a GET of the file under its name, valid
    ``DOCSTORE_SHARE_DOWNLOAD_URL_SECONDS``. :class:`Unknown`, :class:`Gone` (also when the last
    download was taken meanwhile), :class:`WrongPassword`, :class:`RateLimited`."""
    shared = await open_link(services, token, consistent=True)
    link = shared.link
    if link.password_hash is not None:
        limits = services.share_limits
        if limits is not None:
            await limits.check(client_ip, link.token_hash)
        try:
            await services.hashing.run(services.passwords.verify, link.password_hash, password_text or "")
        except VerifyMismatchError:
            if limits is not None:
                await limits.failed(client_ip, link.token_hash)
            raise WrongPassword from None
        except HashingBusy as busy:
            raise RateLimited(str(busy), 1) from None
    if not await services.blocking.run(share_links.count_download, link):
        raise Gone
    return services.objects.download_url(
        shared.object_key, filename=shared.name, expires_in=services.settings.share_download_url_seconds
    )
