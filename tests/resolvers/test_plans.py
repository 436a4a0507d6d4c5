"""upgradePlan: the plan at once; contents extracted or stripped in the background; quota re-checked."""

from __future__ import annotations

import time
from typing import Any

import pytest

from adapters.search.base import SearchFilter
from domain.plans import GIB, Plan
from models import accounts, documents, processing
from models.accounts import Account
from tests.client import Api, User, error_codes
from tests.conftest import objects_under
from tests.models.test_counters import processing_document
from tests.races import racing, three_attempts  # noqa: F401 (a fixture)
from tests.resolvers.test_search import eventually, hit_ids, search, text_document, word
from tests.workers import files


def upgrade(api: Api, user: User, plan: str) -> dict[str, Any]:
    result: dict[str, Any] = api.data("UpgradePlan", {"input": {"plan": plan}}, user.token)["upgradePlan"]
    assert result["__typename"] == "PlanChangePayload", result
    return result


def content_hits(live_server: Any, user: User, query: str) -> list[str]:
    """What the index itself holds for ``query`` in the account's contents (no plan check)."""
    backend = live_server.app.state.services.search
    backend.refresh()
    page = backend.search(user.id, f"content:{query}", content=True, flt=SearchFilter(), offset=0, limit=10)
    return [hit.document_id for hit in page.hits]


def test_upgrade_extracts_earlier_documents_and_makes_them_searchable(api: Api, store: Any) -> None:
    user = api.sign_up("FREE")
    secret = word()
    document = text_document(api, user, f"invoice {secret} from the plumber", filename="bill.txt")
    original = documents.get(user.id, document["id"]).object_key
    assert [obj["Key"] for obj in objects_under(store, user.id)] == [original]

    result = upgrade(api, user, "PREMIUM")

    assert result["previousPlan"] == "FREE"
    assert result["backfillStarted"] is True
    assert result["account"]["plan"] == "PREMIUM"
    assert result["account"]["usage"]["limitBytes"] == 20 * GIB
    found = eventually(api, user, secret, [document["id"]])
    assert [mark["field"] for mark in found["edges"][0]["node"]["highlights"]] == ["content"]
    assert sorted(obj["Key"] for obj in objects_under(store, user.id)) == [
        original,
        f"{user.id}/{document['id']}/text.txt",
    ]


def test_asking_for_the_plan_one_has_changes_nothing(api: Api) -> None:
    user = api.sign_up("PREMIUM")

    result = upgrade(api, user, "PREMIUM")

    assert result["previousPlan"] == "PREMIUM"
    assert result["backfillStarted"] is False
    assert result["account"]["plan"] == "PREMIUM"


def test_downgrade_strips_contents_from_the_index(api: Api, live_server: Any, store: Any) -> None:
    user = api.sign_up("PREMIUM")
    secret = word()
    document = text_document(api, user, f"the body holds {secret}", filename="body.txt")
    eventually(api, user, secret, [document["id"]])
    assert content_hits(live_server, user, secret) == [document["id"]]

    result = upgrade(api, user, "FREE")

    assert result["previousPlan"] == "PREMIUM"
    assert result["backfillStarted"] is False
    assert result["account"]["usage"]["limitBytes"] == 5 * GIB
    assert search(api, user, f"content:{secret}")["__typename"] == "PremiumRequiredError"
    deadline = time.monotonic() + 20
    while content_hits(live_server, user, secret):
        assert time.monotonic() < deadline, "the content is still in the index"
        time.sleep(0.05)
    assert hit_ids(search(api, user, secret)) == []
    # The extracted text stays beside the original: upgrading again needs no second extraction.
    assert f"{user.id}/{document['id']}/text.txt" in [obj["Key"] for obj in objects_under(store, user.id)]


def test_downgrade_past_the_free_limit_flags_the_account_and_emails_it(api: Api, mail_to) -> None:
    user = api.sign_up("PREMIUM")
    text_document(api, user, "something stored")
    # Given 6 GiB in use: more than FREE allows (uploading 6 GiB is not what this test is about).
    Account(id=user.id).update(actions=[Account.used_bytes.add(6 * GIB), Account.allocated_bytes.add(6 * GIB)])
    sent_before = len(mail_to(user.email))

    upgrade(api, user, "FREE")

    deadline = time.monotonic() + 20
    while not Account.get(user.id, consistent_read=True).over_quota:
        assert time.monotonic() < deadline, "the account was not flagged over quota"
        time.sleep(0.05)
    refused = api.request_upload(user, size=1)
    assert refused["__typename"] == "QuotaExceededError"
    deadline = time.monotonic() + 20
    while len(mail_to(user.email)) == sent_before:
        assert time.monotonic() < deadline, "no email about the quota"
        time.sleep(0.05)
    assert [message.subject for message in mail_to(user.email)[sent_before:]] == [
        "DocStore: your storage is over its limit"
    ]


def test_a_new_upload_does_not_wait_behind_a_backfill(api: Api, tmp_path: Any) -> None:
    """The backfill extracts in its own process: while it works through scans that need OCR, another
    account's upload is processed and READY."""
    busy = api.sign_up("FREE")
    scans = []
    for number in range(8):
        path = files.image_file(tmp_path / f"scan{number}.png", f"scanned page {number}", format="PNG")
        scans.append(api.upload(busy, path.read_bytes(), filename=f"scan{number}.png", contentType="image/png"))
    assert {scan["status"] for scan in scans} == {"READY"}
    other = api.sign_up("PREMIUM")

    upgrade(api, busy, "PREMIUM")
    document = text_document(api, other, "a new upload")

    assert document["status"] == "READY"
    # The backfill was still going when the new upload was done: some scans had no text yet.
    still_without_text = [scan for scan in scans if not _has_text(busy, scan["id"])]
    assert still_without_text, "the backfill finished before the new upload: the test proved nothing"
    deadline = time.monotonic() + 60
    while any(not _has_text(busy, scan["id"]) for scan in scans):
        assert time.monotonic() < deadline, "the backfill did not finish"
        time.sleep(0.2)


def _has_text(user: User, document_id: str) -> bool:
    from models.documents import Document

    return Document.get(user.id, document_id, consistent_read=True).text_key is not None


def test_upgrade_needs_a_token(api: Api) -> None:
    body = api.call("UpgradePlan", {"input": {"plan": "PREMIUM"}})
    assert error_codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.usefixtures("three_attempts")
def test_a_plan_change_that_keeps_losing_the_race_answers_conflict_and_changes_nothing(api: Api) -> None:
    user = api.sign_up("FREE")
    deadline = time.monotonic() + 30
    while accounts.get(user.id).counted_plan is None:  # the pipeline counts the new account first
        assert time.monotonic() < deadline, "the new account was not counted"
        time.sleep(0.05)
    waiting = [processing_document(accounts.get(user.id), 10) for _ in range(3)]

    # Each attempt's transaction finds one more document counted since it read the account.
    count = lambda n: processing.count(waiting[n - 1], content_type="text/plain")  # noqa: E731
    with racing(user.id, count, times=3, any_thread=True) as racer:
        body = api.call("UpgradePlan", {"input": {"plan": "PREMIUM"}}, user.token)

    assert racer.requests == 3
    assert body["data"] is None
    assert [(error["message"], error["extensions"]) for error in body["errors"]] == [
        (
            "Your plan, or the documents counted under it, kept changing while this was being saved (3 attempts); "
            "nothing was changed. Try again in a moment.",
            {"code": "CONFLICT"},
        )
    ]
    stored = accounts.get(user.id)
    assert (stored.plan, int(stored.version), int(stored.counted_documents)) == (Plan.FREE, 0, 3)
    assert upgrade(api, user, "PREMIUM")["previousPlan"] == "FREE"  # a moment later, it goes through
