"""Share links in a real browser: made in the web app (the Make public box, and a document's Share
form), opened in a fresh browser context without a session, downloaded with the page's button,
revoked in the app; the page then answers 410."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from tests.browser.test_web_app import drop, sign_up
from tests.client import Api


def test_a_link_made_in_the_app_downloads_without_a_session_until_it_is_revoked(
    server: tuple[str, Path], browser: Browser, shots: Any
) -> None:
    url, _ = server
    notes = b"Minutes of the meeting: the zebra budget passed.\n" * 20
    owner = browser.new_context()
    page = owner.new_page()
    user = sign_up(page, url)

    page.get_by_label("Make public").check()
    drop(page, notes, "minutes.txt", "text/plain")
    document = page.get_by_role("listitem", name="minutes.txt")
    expect(document.locator(".status")).to_have_text("Ready")
    document.get_by_role("button", name="Share minutes.txt").click()
    links = document.get_by_role("list", name="Share links")
    expect(links.get_by_role("listitem")).to_have_count(1)  # Make public's link

    form = document.get_by_role("form", name="New share link for minutes.txt")
    form.get_by_label("Expires in (days)").fill("2")
    form.get_by_label("Most downloads (optional)").fill("3")
    form.get_by_role("button", name="Create share link").click()
    expect(links.get_by_role("listitem")).to_have_count(2)
    made = links.get_by_role("listitem").nth(1)
    expect(made).to_contain_text("0 of 3 downloads")
    shots(page, "share-links", mask=[links.get_by_label("Share link URL")])
    link_url = made.get_by_label("Share link URL").input_value()
    assert link_url.startswith(f"{url}/s/")

    stranger = browser.new_context(accept_downloads=True)  # no session, no token
    public = stranger.new_page()
    opened = public.goto(link_url)
    assert opened is not None
    assert opened.status == 200
    expect(public.get_by_role("heading", name="minutes.txt")).to_be_visible()
    shots(public, "share-page")
    with public.expect_download() as downloading:
        public.get_by_role("button", name="Download").click()
    download = downloading.value
    assert download.suggested_filename == "minutes.txt"
    assert Path(download.path()).read_bytes() == notes

    page.get_by_role("button", name="Share minutes.txt").click()  # closed
    page.get_by_role("button", name="Share minutes.txt").click()  # open again: read afresh
    made = document.get_by_role("list", name="Share links").get_by_role("listitem").nth(1)
    expect(made).to_contain_text("1 of 3 downloads")
    document_id = _only_document(url, user.token)
    before = _links(url, user.token, document_id)[1]["expiresAt"]
    made.get_by_role("button", name="Renew for 7 days").click()  # the form's expiry (7 days again), from now
    deadline = time.monotonic() + 30
    while _links(url, user.token, document_id)[1]["expiresAt"] == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _links(url, user.token, document_id)[1]["expiresAt"] > before
    made.get_by_role("button", name="Revoke").click()
    expect(made).to_contain_text("revoked")

    reloaded = public.reload()
    assert reloaded is not None
    assert reloaded.status == 410
    expect(public.get_by_role("heading", name="This link has ended")).to_be_visible()
    assert [link["active"] for link in _links(url, user.token, document_id)] == [True, False]
    stranger.close()
    owner.close()


def _only_document(url: str, token: str) -> str:
    (edge,) = Api(url).data("Documents", token=token)["documents"]["edges"]
    return str(edge["node"]["id"])


def _links(url: str, token: str, document_id: str) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = Api(url).data("DocumentShareLinks", {"id": document_id}, token)["document"][
        "shareLinks"
    ]
    return links
