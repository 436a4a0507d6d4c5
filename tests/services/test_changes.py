"""The change feed's use cases: completion records CREATED once (and nothing for a rejected upload),
cursors name their account, an announcement reads back as the change it announces."""

from __future__ import annotations

import pytest
from ulid import ULID

from domain.changes import ChangeKind
from events.envelope import Event, EventType
from models import accounts, changes, uploads
from models.base import utcnow
from models.changes import ChangeRow
from models.errors import UploadRejected
from services import changes as changes_service
from services import uploads as upload_files
from services import validation
from tests.conftest import stored

NOT_OURS = "The cursor is not one this API gave out to this account."


def new_account() -> accounts.Account:
    return accounts.create(
        email=f"feed-{ULID()}@example.com".lower(), password_hash="x", plan="FREE", home_region="us-west-2"
    )


def kinds(owner_id: str) -> list[tuple[int, ChangeKind, str]]:
    return [
        (int(row.sequence), ChangeKind(row.kind), str(row.document_id))
        for row in ChangeRow.query(owner_id, ChangeRow.sequence > 0, consistent_read=True)
    ]


def test_a_completed_upload_is_created_once_however_often_it_is_completed(store) -> None:
    account = new_account()
    document = stored(store, account, b"hello world", "text/plain", name="a.txt")
    recorded: list[changes.Change] = []

    again = upload_files.complete(store, account.id, document.document_id, recorded=recorded)

    assert again.status == document.status
    assert recorded == []  # the second completion counted nothing, so it changed nothing
    assert kinds(account.id) == [(1, ChangeKind.CREATED, document.document_id)]


def test_a_rejected_upload_is_never_in_the_feed(store) -> None:
    account = new_account()
    pending = uploads.start(
        account,
        document_id=str(ULID()),
        name="a.txt",
        content_type="text/plain",
        size=11,
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
    )
    recorded: list[changes.Change] = []

    with pytest.raises(UploadRejected):
        upload_files.complete(store, account.id, pending.document_id, recorded=recorded)  # nothing was posted

    assert recorded == []
    assert (kinds(account.id), changes.latest(account.id)) == ([], 0)


def test_a_cursor_reads_back_only_for_its_own_account() -> None:
    mine, theirs = str(ULID()), str(ULID())
    cursor = changes_service.cursor(mine, 42)

    assert changes_service.position(mine, cursor) == 42
    for owner, raw in ((theirs, cursor), (mine, "nonsense"), (mine, changes_service.cursor(mine, -1))):
        with pytest.raises(validation.InvalidInput) as refused:
            changes_service.position(owner, raw)
        assert [(problem.field, problem.message) for problem in refused.value.problems] == [("after", NOT_OURS)]


def test_an_announcement_reads_back_as_the_change_it_announces() -> None:
    change = changes.Change(str(ULID()), 7, ChangeKind.MOVED, utcnow(), str(ULID()), "/a/b.txt")
    event = Event(
        EventType.CHANGE_RECORDED,
        change.owner_id,
        document_id=change.document_id,
        at=change.at,
        data={"sequence": 7, "kind": "MOVED", "path": "/a/b.txt", "version": None},
    )

    assert changes_service.announced(Event.from_json(event.to_json())) == change
