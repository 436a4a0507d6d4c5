"""Document.thumbnailUrl over real HTTP, against the session's live server and its workers: both
sizes of an uploaded image, fetched from moto with their headers, outside the quota; none for a
type without thumbnails; another account's id is NOT_FOUND; a delete takes the thumbnails along."""

from __future__ import annotations

import io

from PIL import Image

from models import documents, keys
from tests import plain_http
from tests.client import Api, User, error_codes
from tests.conftest import objects_under

NOT_FOUND = "No document with that id in this account."
BOTH = (
    "query ($id: ID!) { document(id: $id) { status "
    "small: thumbnailUrl(size: SMALL) large: thumbnailUrl(size: LARGE) } }"
)


def photo(size: tuple[int, int] = (1600, 1200), colour: str = "orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


def thumbnails_of(store, owner_id: str, document_id: str) -> list[str]:
    prefix = keys.thumbnails(owner_id, document_id)
    return [item["Key"] for item in objects_under(store, owner_id) if item["Key"].startswith(prefix)]


def test_an_uploaded_image_has_both_thumbnails_served_immutable_outside_the_quota(api: Api, user: User, store) -> None:
    content = photo()
    document = api.upload(user, content, filename="holiday.jpg", contentType="image/jpeg")
    assert document["status"] == "READY"

    urls = api.data("Document", {"id": document["id"]}, user.token)["document"]
    listed = api.data("Documents", {"first": 10}, user.token)["documents"]["edges"]
    both = api.raw(BOTH, {"id": document["id"]}, user.token)["data"]["document"]

    assert [edge["node"]["id"] for edge in listed] == [document["id"]]
    for url, longer in ((listed[0]["node"]["thumbnailUrl"], 256), (urls["thumbnailUrl"], 1024)):
        response = plain_http.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/webp"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        image = Image.open(io.BytesIO(response.content))
        assert (image.format, image.size) == ("WEBP", (longer, longer * 3 // 4))
    assert plain_http.get(both["small"]).content == plain_http.get(listed[0]["node"]["thumbnailUrl"]).content
    assert plain_http.get(both["large"]).content == plain_http.get(urls["thumbnailUrl"]).content
    # Only the upload's bytes count, though two more objects are stored for it.
    assert api.usage(user)["usedBytes"] == len(content)
    assert len(thumbnails_of(store, user.id, document["id"])) == 2


def test_a_type_without_thumbnails_answers_null(api: Api, user: User, store) -> None:
    document = api.upload(user, b"just words\n", filename="notes.txt", contentType="text/plain")

    both = api.raw(BOTH, {"id": document["id"]}, user.token)["data"]["document"]

    assert both == {"status": "READY", "small": None, "large": None}
    assert thumbnails_of(store, user.id, document["id"]) == []


def test_another_accounts_document_is_not_found_and_its_thumbnail_out_of_reach(
    api: Api, user: User, other_user: User
) -> None:
    document = api.upload(user, photo(), filename="private.jpg", contentType="image/jpeg")

    body = api.raw(BOTH, {"id": document["id"]}, other_user.token)

    assert body["data"] is None
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["message"] == NOT_FOUND
    # Nothing of theirs lists it either: the only way to a thumbnail is the owner's document.
    assert api.data("Documents", {"first": 10}, other_user.token)["documents"]["edges"] == []


def test_deleting_the_document_deletes_its_thumbnails(api: Api, user: User, store) -> None:
    document = api.upload(user, photo(colour="purple"), filename="gone.jpg", contentType="image/jpeg")
    url = api.raw(BOTH, {"id": document["id"]}, user.token)["data"]["document"]["large"]
    assert plain_http.get(url).status_code == 200
    record = documents.get(user.id, document["id"])

    deleted = api.data("DeleteDocument", {"input": {"id": document["id"]}}, user.token)["deleteDocument"]

    assert deleted["__typename"] == "DeleteDocumentPayload"
    assert thumbnails_of(store, user.id, record.document_id) == []
    assert objects_under(store, user.id) == []
    assert plain_http.get(url).status_code == 404  # the link signed before stops working: nothing is there


def test_a_viewer_sees_the_same_thumbnail_as_the_owner(api: Api, user: User, other_user: User) -> None:
    document = api.upload(user, photo(), filename="shared.jpg", contentType="image/jpeg")
    api.share(user, document["id"], other_user, "VIEWER")

    as_owner = api.data("Document", {"id": document["id"]}, user.token)["document"]
    as_viewer = api.data("Document", {"id": document["id"]}, other_user.token)["document"]

    assert plain_http.get(as_viewer["thumbnailUrl"]).content == plain_http.get(as_owner["thumbnailUrl"]).content
    assert plain_http.get(as_viewer["downloadUrl"]).content == plain_http.get(as_owner["downloadUrl"]).content
