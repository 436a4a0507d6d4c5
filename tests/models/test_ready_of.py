"""documents.ready_of: the backfill's chunks start after the last document done, not at the first."""

from __future__ import annotations

from models import documents
from tests.client import Api


def test_ready_of_starts_after_the_given_id_and_skips_what_is_not_ready(api: Api) -> None:
    user = api.sign_up()
    ready = [api.upload(user, f"text {n}".encode(), contentType="text/plain")["id"] for n in range(3)]
    pending = api.request_upload(user, size=5)
    assert pending["__typename"] == "UploadForm"

    assert [record.document_id for record in documents.ready_of(user.id)] == ready
    assert [record.document_id for record in documents.ready_of(user.id, ready[0])] == ready[1:]
    assert [record.document_id for record in documents.ready_of(user.id, ready[2])] == []
