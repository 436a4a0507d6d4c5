"""Events from real work: two accounts upload at once, each subscriber sees exactly its own."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PIL import Image

from tests.client import Api, User, sample
from tests.domain.test_content_hash import independent
from tests.subscriptions.conftest import Socket


def until_ready(socket: Socket, expected_documents: set[str]) -> list[dict[str, Any]]:
    """documentEvents payloads until every expected document is READY."""
    seen: list[dict[str, Any]] = []
    ready: set[str] = set()
    while ready != expected_documents:
        message = socket.receive()
        assert message["type"] == "next", message
        payload = message["payload"]["data"]["documentEvents"]
        seen.append(payload)
        if payload["__typename"] == "DocumentReady":
            ready.add(payload["documentId"])
    return seen


def test_two_accounts_uploading_at_once_each_receive_exactly_their_own(
    api: Api, user: User, other_user: User, acknowledged: Socket, other_acknowledged: Socket, events
) -> None:
    acknowledged.subscribe("mine", "DocumentEvents")
    other_acknowledged.subscribe("theirs", "DocumentEvents")
    events.wait_for_subscribers(user.id, 1)
    events.wait_for_subscribers(other_user.id, 1)

    contents: dict[str, bytes] = {}

    def upload(who: User, number: int) -> str:
        content = sample("text/plain", f"{who.email} document {number}")
        document_id = str(api.submit(who, content, filename=f"doc-{number}.txt")["id"])
        contents[document_id] = content
        return document_id

    jobs = [(who, number) for number in range(3) for who in (user, other_user)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        done = list(pool.map(lambda job: upload(*job), jobs))
    mine = done[0::2]
    theirs = done[1::2]

    for socket, documents in ((acknowledged, mine), (other_acknowledged, theirs)):
        seen = until_ready(socket, set(documents))
        assert {event["documentId"] for event in seen} == set(documents)
        for document in documents:
            kinds = [event["__typename"] for event in seen if event["documentId"] == document]
            assert kinds == ["UploadStarted", "ProcessingStarted", "DocumentReady"]
        hashes = {event["documentId"]: event["contentHash"] for event in seen if event["__typename"] == "DocumentReady"}
        assert hashes == {document: independent(contents[document]) for document in documents}


def test_document_ready_says_whether_the_document_has_a_thumbnail(
    api: Api, user: User, acknowledged: Socket, events
) -> None:
    acknowledged.subscribe("mine", "DocumentEvents")
    events.wait_for_subscribers(user.id, 1)
    picture = io.BytesIO()
    Image.new("RGB", (640, 480), "teal").save(picture, "PNG")

    image = str(api.submit(user, picture.getvalue(), filename="teal.png", contentType="image/png")["id"])
    text = str(api.submit(user, sample("text/plain", "no picture"), filename="words.txt")["id"])

    seen = until_ready(acknowledged, {image, text})
    flags = {event["documentId"]: event["hasThumbnail"] for event in seen if event["__typename"] == "DocumentReady"}
    assert flags == {image: True, text: False}
