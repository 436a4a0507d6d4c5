"""Following documents, through the API over real HTTP against the session's live server:
followDocument, unfollowDocument and Document.following for the owner, an EDITOR and a VIEWER, and
NOT_FOUND, with nothing written, for anyone else and after the share or the document is gone."""

from __future__ import annotations

from typing import Any

import pytest

from models import documents
from tests.client import Api, User

CONTENT = b"followed notes, twenty"
NO_DOCUMENT = "No document with that id in this account."


def follow(api: Api, user: User, document_id: str, name: str = "FollowDocument") -> dict[str, Any]:
    field = name[0].lower() + name[1:]
    result: dict[str, Any] = api.data(name, {"input": {"documentId": document_id}}, user.token)[field]
    return result


def unfollow(api: Api, user: User, document_id: str) -> dict[str, Any]:
    return follow(api, user, document_id, "UnfollowDocument")


def following(api: Api, user: User, document_id: str) -> bool:
    found: bool = api.data("DocumentFollowing", {"id": document_id}, user.token)["document"]["following"]
    return found


def stored(owner: User, document_id: str) -> tuple[set[str] | None, bool | None]:
    """Who follows the document besides its owner, and the owner's opt-out, as stored."""
    record = documents.get(owner.id, document_id)
    return record.followers, record.owner_unfollowed


def not_found(document_id: str) -> dict[str, Any]:
    return {"__typename": "NotFoundError", "message": NO_DOCUMENT, "id": document_id}


@pytest.fixture
def owner(api: Api) -> User:
    return api.sign_up()


@pytest.fixture
def document_id(api: Api, owner: User) -> str:
    document: dict[str, Any] = api.upload(owner, CONTENT, filename="followed.txt", contentType="text/plain")
    return str(document["id"])


def test_the_owner_follows_by_default_and_its_opt_out_is_kept_until_it_follows_again(
    api: Api, owner: User, document_id: str
) -> None:
    assert following(api, owner, document_id) is True
    assert stored(owner, document_id) == (None, None)

    assert unfollow(api, owner, document_id) == {"__typename": "Document", "id": document_id, "following": False}
    assert following(api, owner, document_id) is False
    assert stored(owner, document_id) == (None, True)

    assert follow(api, owner, document_id) == {"__typename": "Document", "id": document_id, "following": True}
    assert following(api, owner, document_id) is True
    assert stored(owner, document_id) == (None, None)


@pytest.mark.parametrize("role", ["VIEWER", "EDITOR"])
def test_a_grantee_of_any_role_follows_and_unfollows(api: Api, owner: User, document_id: str, role: str) -> None:
    grantee = api.sign_up()
    api.share(owner, document_id, grantee, role)
    assert following(api, grantee, document_id) is False

    assert follow(api, grantee, document_id) == {"__typename": "Document", "id": document_id, "following": True}
    assert follow(api, grantee, document_id)["following"] is True  # again: no change
    assert following(api, grantee, document_id) is True
    assert following(api, owner, document_id) is True  # each viewer's own
    assert stored(owner, document_id) == ({grantee.id}, None)

    assert unfollow(api, grantee, document_id) == {"__typename": "Document", "id": document_id, "following": False}
    assert following(api, grantee, document_id) is False
    assert stored(owner, document_id) == (None, None)


def test_a_stranger_cannot_follow_or_unfollow_and_nothing_is_written(api: Api, owner: User, document_id: str) -> None:
    stranger = api.sign_up()
    before = stored(owner, document_id)

    assert follow(api, stranger, document_id) == not_found(document_id)
    assert unfollow(api, stranger, document_id) == not_found(document_id)
    assert follow(api, stranger, "01JNOSUCHDOCUMENTAAAAAAAAA") == not_found("01JNOSUCHDOCUMENTAAAAAAAAA")

    assert stored(owner, document_id) == before


@pytest.mark.parametrize("who", ["owner", "grantee"])
def test_unsharing_removes_the_grantees_follow_and_it_cannot_follow_again(
    api: Api, owner: User, document_id: str, who: str
) -> None:
    grantee = api.sign_up()
    share = api.share(owner, document_id, grantee, "EDITOR")
    follow(api, grantee, document_id)
    remover = owner if who == "owner" else grantee

    api.data("UnshareDocument", {"input": {"shareId": share["id"]}}, remover.token)

    assert stored(owner, document_id) == (None, None)
    assert follow(api, grantee, document_id) == not_found(document_id)
    assert stored(owner, document_id) == (None, None)
    api.share(owner, document_id, grantee, "VIEWER")  # shared again: not followed until it asks
    assert following(api, grantee, document_id) is False


def test_a_deleted_document_answers_not_found_to_everyone(api: Api, owner: User, document_id: str) -> None:
    grantee = api.sign_up()
    api.share(owner, document_id, grantee)
    follow(api, grantee, document_id)

    api.data("DeleteDocument", {"input": {"id": document_id}}, owner.token)

    for user in (owner, grantee):
        assert follow(api, user, document_id) == not_found(document_id)
        assert unfollow(api, user, document_id) == not_found(document_id)
