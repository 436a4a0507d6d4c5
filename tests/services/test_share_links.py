"""The share link use cases, called as the API calls them (on the live server's services and
event loop): the token derived from the link's id and the secret, stored only as its hash; input
refused whole with every field at fault and nothing written."""

from __future__ import annotations

import dataclasses

import pytest

from models import share_links as records
from models.errors import ShareLinkNotFound
from services import share_links, validation
from tests.conftest import LiveServer, new_account, stored


@pytest.fixture
def services(live_server: LiveServer):
    return live_server.app.state.services


def test_the_token_is_derived_again_and_only_its_hash_is_kept(live_server: LiveServer, services, store) -> None:
    account = new_account()
    document = stored(store, account, b"shared bytes", "text/plain")

    link = live_server.call(share_links.create(services, account.id, document.document_id, max_downloads=2))

    token = share_links.token_for(services, link)
    assert token is not None
    assert len(token) == 43  # 256 bits, URL-safe base64
    assert records.by_token_hash(share_links.hash_token(token)).link_key == link.link_key
    assert token not in str(records.get(account.id, document.document_id, link.link_id).attribute_values)
    other_secret = dataclasses.replace(services, share_secret=b"another secret, after a rotation")
    assert share_links.token_for(other_secret, link) is None  # the URL can no longer be shown


def test_a_refused_create_names_every_field_and_writes_nothing(live_server: LiveServer, services, store) -> None:
    account = new_account()
    document = stored(store, account, b"shared bytes", "text/plain")

    with pytest.raises(validation.InvalidInput) as refused:
        live_server.call(
            share_links.create(
                services,
                account.id,
                document.document_id,
                expires_in_seconds=services.settings.share_max_expiry_seconds + 1,
                password_text="",
                max_downloads=0,
                version=-1,
            )
        )

    assert [problem.field for problem in refused.value.problems] == [
        "expiresInSeconds",
        "password",
        "maxDownloads",
        "version",
    ]
    assert records.of_owner(account.id) == []


def test_a_link_of_another_account_is_not_found(live_server: LiveServer, services, store) -> None:
    owner, stranger = new_account(), new_account()
    document = stored(store, owner, b"shared bytes", "text/plain")
    link = live_server.call(share_links.create(services, owner.id, document.document_id))
    link_id = share_links.public_id(link)

    for attempt in (
        share_links.revoke(services, stranger.id, link_id),
        share_links.update(services, stranger.id, link_id, max_downloads=9),
    ):
        with pytest.raises(ShareLinkNotFound):
            live_server.call(attempt)
    assert live_server.call(share_links.of_document(services, stranger.id, document.document_id)) == []
    (kept,) = records.of_owner(owner.id)
    assert (kept.revoked_at, kept.max_downloads) == (None, None)
