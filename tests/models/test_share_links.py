"""Share link records: the limit per document held by one transaction even when creates race, a
link never made for a document that is not stored, revokes giving a place back once, and downloads
counted atomically against ``max_downloads``; nothing written on any refusal."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from ulid import ULID

from models import documents, share_links
from models.base import utcnow
from models.errors import DocumentNotFound, TooManyLinks
from models.share_links import ShareLink
from services.documents import _delete
from tests.conftest import new_account, pending_upload, stored


def new_link(document_id: str, **changes: object) -> share_links.NewLink:
    fields: dict[str, object] = {
        "document_id": document_id,
        "link_id": str(ULID()),
        "token_hash": ULID().hex,
        "version": None,
        "expires_at": utcnow() + timedelta(hours=1),
        "max_downloads": None,
        "password_hash": None,
        **changes,
    }
    return share_links.NewLink(**fields)  # type: ignore[arg-type]


def held(owner_id: str, document_id: str) -> int:
    return int(documents.get(owner_id, document_id).share_links or 0)


def test_concurrent_creates_never_pass_the_limit(store) -> None:
    account = new_account()
    document = stored(store, account, b"shared bytes", "text/plain")
    start = threading.Barrier(12)

    def make() -> str:
        start.wait()
        try:
            share_links.create(account.id, new_link(document.document_id), limit=3)
        except TooManyLinks:
            return "refused"
        return "made"

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(lambda _: make(), range(12)))

    assert sorted(outcomes) == ["made"] * 3 + ["refused"] * 9
    assert len(share_links.of_document(account.id, document.document_id)) == 3
    assert held(account.id, document.document_id) == 3


def test_no_link_for_an_upload_in_progress_or_a_deleted_document(store) -> None:
    account = new_account()
    pending = pending_upload(account)
    document = stored(store, account, b"soon gone", "text/plain")
    _delete(store, account.id, document.document_id, [], [])

    for document_id in (pending.document_id, document.document_id, str(ULID())):
        with pytest.raises(DocumentNotFound):
            share_links.create(account.id, new_link(document_id), limit=3)

    assert share_links.of_owner(account.id) == []


def test_a_revoke_gives_its_place_back_once(store) -> None:
    account = new_account()
    document = stored(store, account, b"shared bytes", "text/plain")
    link = share_links.create(account.id, new_link(document.document_id), limit=1)

    first = share_links.revoke(link)
    again = share_links.revoke(share_links.get(account.id, document.document_id, link.link_id))

    assert again.revoked_at == first.revoked_at
    assert held(account.id, document.document_id) == 0
    assert share_links.create(account.id, new_link(document.document_id), limit=1).revoked_at is None


def test_downloads_are_counted_only_while_the_link_is_live(store) -> None:
    account = new_account()
    document = stored(store, account, b"shared bytes", "text/plain")
    limited = share_links.create(account.id, new_link(document.document_id, max_downloads=2), limit=5)
    expired = share_links.create(
        account.id, new_link(document.document_id, expires_at=utcnow() - timedelta(seconds=1)), limit=5
    )
    revoked = share_links.revoke(share_links.create(account.id, new_link(document.document_id), limit=5))

    assert [share_links.count_download(limited) for _ in range(3)] == [True, True, False]
    assert share_links.count_download(expired) is False
    assert share_links.count_download(revoked) is False
    downloads = {row.link_id: int(row.downloads) for row in share_links.of_document(account.id, document.document_id)}
    assert downloads == {limited.link_id: 2, expired.link_id: 0, revoked.link_id: 0}


def test_a_documents_delete_takes_its_links(store) -> None:
    account = new_account()
    document = stored(store, account, b"shared bytes", "text/plain")
    kept = stored(store, account, b"other bytes", "text/plain")
    for _ in range(2):
        share_links.create(account.id, new_link(document.document_id), limit=5)
    other = share_links.create(account.id, new_link(kept.document_id), limit=5)

    _delete(store, account.id, document.document_id, [], [])

    assert [row.link_key for row in ShareLink.query(account.id, consistent_read=True)] == [other.link_key]


def test_a_listing_holds_the_newest_links_oldest_first(store) -> None:
    account = new_account()
    document = stored(store, account, b"shared bytes", "text/plain")
    made = [share_links.create(account.id, new_link(document.document_id), limit=5) for _ in range(3)]

    newest = share_links.of_document(account.id, document.document_id, limit=2)

    assert [link.link_id for link in newest] == [made[1].link_id, made[2].link_id]
    assert len(share_links.of_document(account.id, document.document_id, limit=None)) == 3
