"""The public page of a share link, ``/s/{token}``, over real HTTP against the session's live server
(a real uvicorn): what it shows, its headers, downloads counted exactly against ``maxDownloads`` by
20 clients at once, passwords and their rate limits, and 404 / 410 for links that serve nothing."""

from __future__ import annotations

import io
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from PIL import Image

from models.base import utcnow
from models.share_links import ShareLink
from tests import plain_http
from tests.client import Api, User, post_form
from tests.resolvers.test_share_links import create, revoke, rows

CONTENT = b"the quarterly report, shared"


class Forms(HTMLParser):
    """The page's forms as a browser without JavaScript sees them: method, action, named inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form":
            self.forms.append({"method": named.get("method"), "action": named.get("action"), "inputs": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"].append(named.get("name"))
        for attribute in ("src", "href"):
            if named.get(attribute):
                self.loads.append(str(named[attribute]))


def forms_of(html: str) -> Forms:
    parser = Forms()
    parser.feed(html)
    return parser


def submit(url: str, html: str, values: dict[str, str] | None = None, ip: str | None = None) -> httpx.Response:
    """Send the page's one form as a browser with JavaScript off does: its method, to its action (the
    page itself when it names none), its named inputs urlencoded."""
    (form,) = forms_of(html).forms
    assert form["method"] == "post"
    target = httpx.URL(url).join(form["action"] or url)
    data = {name: (values or {}).get(name, "") for name in form["inputs"] if name}
    headers = {"X-Forwarded-For": ip} if ip else {}
    return plain_http.post(target, data=data, headers=headers)


def stored_link(owner_id: str) -> ShareLink:
    (link,) = ShareLink.query(owner_id, consistent_read=True)
    return link


@pytest.fixture
def document(api: Api, user: User) -> dict[str, Any]:
    return api.submit(user, CONTENT, filename="Q3 report.txt", contentType="text/plain")


def test_the_page_shows_name_size_and_a_button_that_downloads_without_javascript(
    api: Api, user: User, document: dict[str, Any]
) -> None:
    link = create(api, user, document["id"])

    page = plain_http.get(link["url"])

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Q3 report.txt" in page.text
    assert f"{len(CONTENT)} bytes" in page.text
    assert "<script" not in page.text
    parsed = forms_of(page.text)
    assert parsed.loads == []  # nothing loaded from anywhere: no CDN, no asset
    assert [secret for secret in (user.email, user.id, document["id"]) if secret in page.text] == []
    assert plain_http.get(link["url"]).status_code == 200  # a preview robot's fetch, again
    assert int(stored_link(user.id).downloads) == 0  # opening the page counts nothing
    downloaded = submit(link["url"], page.text)
    assert downloaded.status_code == 303
    s3 = plain_http.get(downloaded.headers["location"])
    assert s3.content == CONTENT
    assert 'filename="Q3 report.txt"' in s3.headers["content-disposition"]
    assert int(stored_link(user.id).downloads) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_answer_is_never_cached_and_sends_no_referrer(
    api: Api, user: User, document: dict[str, Any], method: str
) -> None:
    link = create(api, user, document["id"])
    gone = create(api, user, document["id"])
    revoke(api, user, gone["id"])
    unknown = link["url"].rsplit("/", 1)[0] + "/" + "A" * 43

    answers = [plain_http.request(method, url) for url in (link["url"], gone["url"], unknown)]

    assert [answer.status_code for answer in answers] == [200 if method == "GET" else 303, 410, 404]
    for answer in answers:
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"


def test_twenty_clients_at_once_get_exactly_max_downloads(api: Api, user: User, document: dict[str, Any]) -> None:
    link = create(api, user, document["id"], maxDownloads=5)
    start = threading.Barrier(20)

    def press() -> int:
        with plain_http.Client() as client:
            start.wait()
            return client.post(link["url"]).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda _: press(), range(20)))

    assert sorted(codes) == [303] * 5 + [410] * 15
    assert int(stored_link(user.id).downloads) == 5
    assert (
        api.data("DocumentShareLinks", {"id": document["id"]}, user.token)["document"]["shareLinks"][0]["downloads"]
        == 5
    )


def test_a_password_is_asked_checked_and_brute_force_from_one_ip_is_rate_limited(
    api: Api, user: User, document: dict[str, Any], settings: Any
) -> None:
    link = create(api, user, document["id"], password="right horse")
    page = plain_http.get(link["url"])
    assert page.status_code == 200
    assert "Q3 report.txt" not in page.text  # nothing about the document before the password
    assert forms_of(page.text).forms[0]["inputs"] == ["password"]
    attacker, friend = "203.0.113.7", "198.51.100.9"

    wrong = [submit(link["url"], page.text, {"password": f"guess {n}"}, ip=attacker) for n in range(5)]
    assert [answer.status_code for answer in wrong] == [403] * settings.share_password_attempts_per_ip
    assert all("The password is wrong." in answer.text for answer in wrong)
    limited = submit(link["url"], page.text, {"password": "right horse"}, ip=attacker)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert int(stored_link(user.id).downloads) == 0

    allowed = submit(link["url"], page.text, {"password": "right horse"}, ip=friend)

    assert allowed.status_code == 303
    assert plain_http.get(allowed.headers["location"]).content == CONTENT
    assert int(stored_link(user.id).downloads) == 1


def test_no_password_at_all_is_a_wrong_one(api: Api, user: User, document: dict[str, Any]) -> None:
    link = create(api, user, document["id"], password="right horse")

    answer = plain_http.post(link["url"], headers={"X-Forwarded-For": "192.0.2.44"})

    assert answer.status_code == 403
    assert "The password is wrong." in answer.text
    assert int(stored_link(user.id).downloads) == 0


def test_an_expired_link_answers_410(api: Api, user: User, document: dict[str, Any]) -> None:
    link = create(api, user, document["id"], expiresInSeconds=1)
    expires_at = stored_link(user.id).expires_at
    while utcnow() <= expires_at:  # waits on the record's own expiry, not a guess
        time.sleep(0.05)

    assert plain_http.get(link["url"]).status_code == 410
    assert plain_http.post(link["url"]).status_code == 410
    assert int(stored_link(user.id).downloads) == 0


def test_an_exhausted_link_answers_410_and_a_revoked_one_too(api: Api, user: User, document: dict[str, Any]) -> None:
    once = create(api, user, document["id"], maxDownloads=1)
    assert plain_http.post(once["url"]).status_code == 303
    revoked = create(api, user, document["id"])
    revoke(api, user, revoked["id"])

    for url in (once["url"], revoked["url"]):
        page = plain_http.get(url)
        assert (page.status_code, "This link has ended" in page.text) == (410, True)
        assert plain_http.post(url).status_code == 410


def test_unknown_tokens_and_a_deleted_documents_links_answer_the_same_404(
    api: Api, user: User, document: dict[str, Any], live_url: str
) -> None:
    link = create(api, user, document["id"])
    unknown = plain_http.get(f"{live_url}/s/{'B' * 43}")
    malformed = plain_http.get(f"{live_url}/s/not-a-token")

    deleted = api.data("DeleteDocument", {"input": {"id": document["id"]}}, user.token)["deleteDocument"]
    assert deleted["__typename"] == "DeleteDocumentPayload"

    page, pressed = plain_http.get(link["url"]), plain_http.post(link["url"])
    assert [answer.status_code for answer in (unknown, malformed, page, pressed)] == [404] * 4
    assert unknown.text == malformed.text == page.text == pressed.text
    assert rows(user.id) == []  # the document's delete took its links


def test_the_token_never_reaches_the_access_log(
    api: Api, user: User, document: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    link = create(api, user, document["id"])
    token = link["url"].rsplit("/", 1)[1]

    with caplog.at_level("INFO", logger="docstore.access"):
        plain_http.get(link["url"])

    lines = [record.getMessage() for record in caplog.records]
    assert any(re.search(r"GET /s/\[REDACTED\] 200", line) for line in lines), lines
    assert not any(token in line for line in lines)


def test_a_link_pinned_to_a_version_past_retention_answers_404(api: Api, user: User, settings: Any) -> None:
    first = api.upload(user, b"version 1", filename="kept.txt", contentType="text/plain")
    link = create(api, user, first["id"], version=1)
    assert plain_http.get(link["url"]).status_code == 200

    for number in range(2, settings.versions_free + 2):  # the plan keeps versions_free: v1 goes
        content = f"version {number}".encode()
        form = api.request_upload(user, size=len(content), filename="kept.txt", path="/kept.txt", mode="OVERWRITE")
        post_form(form, content)
        assert api.complete(user, form["documentId"])["__typename"] == "Document"
        assert api.settled(user, first["id"])["status"] == "READY"

    assert [answer.status_code for answer in (plain_http.get(link["url"]), plain_http.post(link["url"]))] == [404, 404]
    assert int(stored_link(user.id).downloads) == 0


class Images(HTMLParser):
    """The page's ``<img>`` elements, as (src, alt)."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[tuple[str | None, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append((dict(attrs).get("src"), dict(attrs).get("alt")))


def images_of(html: str) -> list[tuple[str | None, str | None]]:
    parser = Images()
    parser.feed(html)
    return parser.images


def test_an_image_shows_its_large_thumbnail_from_the_one_origin_the_page_may_load_from(api: Api, user: User) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1200), "orange").save(buffer, "JPEG")
    document = api.upload(user, buffer.getvalue(), filename="holiday.jpg", contentType="image/jpeg")
    assert document["status"] == "READY"
    link = create(api, user, document["id"])
    protected = create(api, user, document["id"], password="a long passphrase")

    page = plain_http.get(link["url"])
    behind_a_password = plain_http.get(protected["url"])

    ((src, alt),) = images_of(page.text)
    assert src is not None
    assert alt == "A preview of holiday.jpg"
    origin = httpx.URL(src)
    assert page.headers["content-security-policy"].endswith(f"; img-src {origin.scheme}://{origin.netloc.decode()}")
    thumbnail = plain_http.get(src)
    assert (thumbnail.status_code, thumbnail.headers["content-type"]) == (200, "image/webp")
    assert Image.open(io.BytesIO(thumbnail.content)).size == (1024, 768)
    # Before its password, a link shows nothing of the document, its picture neither.
    assert images_of(behind_a_password.text) == []
    assert "img-src" not in behind_a_password.headers["content-security-policy"]
