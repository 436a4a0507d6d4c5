"""The change feed through the API: changes(after, first) and latestChangeCursor, over real HTTP
against the session's live server (its pipeline runs in this process: text files it accepts, so
the only changes are the tests' own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from models.changes import ChangeRow
from services.changes import cursor
from tests.client import Api, User, error_codes

NOT_OURS = "The cursor is not one this API gave out to this account."


def page(api: Api, user: User, after: str | None = None, first: int = 100) -> dict[str, Any]:
    result: dict[str, Any] = api.data("Changes", {"after": after, "first": first}, user.token)["changes"]
    assert result["__typename"] == "ChangeConnection", result
    return result


def summary(connection: dict[str, Any]) -> list[tuple[int, str, str, str, str | None]]:
    """(sequence, kind, document id, path, the current document's path or None) per change."""
    return [
        (
            edge["node"]["sequence"],
            edge["node"]["kind"],
            edge["node"]["documentId"],
            edge["node"]["path"],
            None if edge["node"]["document"] is None else edge["node"]["document"]["path"],
        )
        for edge in connection["edges"]
    ]


def update(api: Api, user: User, document_id: str, **fields: Any) -> None:
    result = api.data("UpdateDocument", {"input": {"id": document_id, **fields}}, user.token)["updateDocument"]
    assert result["__typename"] == "Document", result


def move(api: Api, user: User, document_id: str, path: str) -> None:
    variables = {"input": {"documentId": document_id, "path": path}}
    assert api.data("MoveDocument", variables, user.token)["moveDocument"]["__typename"] == "Document"


def delete(api: Api, user: User, document_id: str) -> None:
    result = api.data("DeleteDocument", {"input": {"id": document_id}}, user.token)["deleteDocument"]
    assert result["__typename"] == "DeleteDocumentPayload", result


def latest(api: Api, user: User) -> str:
    return str(api.data("LatestChangeCursor", token=user.token)["latestChangeCursor"])


def test_changes_page_through_every_change_in_order_with_the_document_as_it_is_now(api: Api, user: User) -> None:
    first = api.submit(user, b"hello world", filename="a.txt")
    second = api.submit(user, b"hello again", filename="b.txt")
    update(api, user, first["id"], tags=["x"])
    move(api, user, first["id"], "/docs/a.txt")
    delete(api, user, second["id"])

    one = page(api, user, first=2)
    two = page(api, user, one["pageInfo"]["endCursor"], first=2)
    three = page(api, user, two["pageInfo"]["endCursor"], first=2)
    rest = page(api, user, three["pageInfo"]["endCursor"], first=2)

    a, b = first["id"], second["id"]
    assert summary(one) + summary(two) + summary(three) == [
        (1, "CREATED", a, "/a.txt", "/docs/a.txt"),
        (2, "CREATED", b, "/b.txt", None),
        (3, "UPDATED", a, "/a.txt", "/docs/a.txt"),
        (4, "MOVED", a, "/docs/a.txt", "/docs/a.txt"),
        (5, "DELETED", b, "/b.txt", None),
    ]
    assert [one["pageInfo"]["hasNextPage"], two["pageInfo"]["hasNextPage"], three["pageInfo"]["hasNextPage"]] == [
        True,
        True,
        False,
    ]
    # The last page's end is where to ask again later: nothing new yet, and the same cursor back.
    assert rest == {
        "__typename": "ChangeConnection",
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": three["pageInfo"]["endCursor"]},
    }
    assert one["edges"][1]["cursor"] == one["pageInfo"]["endCursor"] == one["edges"][1]["node"]["cursor"]
    assert one["edges"][0]["node"]["version"] is None


def test_the_latest_cursor_answers_only_what_changes_after_it(api: Api, user: User) -> None:
    before = latest(api, user)
    assert page(api, user, before)["edges"] == []
    document = api.submit(user, b"hello world", filename="a.txt")
    cursor = latest(api, user)
    update(api, user, document["id"], description="later")

    assert summary(page(api, user, before)) == [
        (1, "CREATED", document["id"], "/a.txt", "/a.txt"),
        (2, "UPDATED", document["id"], "/a.txt", "/a.txt"),
    ]
    assert summary(page(api, user, cursor)) == [(2, "UPDATED", document["id"], "/a.txt", "/a.txt")]


def test_another_accounts_changes_and_cursor_are_never_yours(api: Api, user: User, other_user: User) -> None:
    mine = api.submit(user, b"hello world", filename="mine.txt")
    theirs = api.submit(other_user, b"hello again", filename="theirs.txt")
    their_cursor = latest(api, other_user)

    assert summary(page(api, user)) == [(1, "CREATED", mine["id"], "/mine.txt", "/mine.txt")]
    assert summary(page(api, other_user)) == [(1, "CREATED", theirs["id"], "/theirs.txt", "/theirs.txt")]
    body = api.call("Changes", {"after": their_cursor}, user.token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": [{"field": "after", "message": NOT_OURS}],
    }


@pytest.mark.parametrize(
    ("variables", "fields"),
    [
        ({"first": 0}, [{"field": "first", "message": "`first` must be between 1 and 100."}]),
        ({"after": "not-a-cursor"}, [{"field": "after", "message": NOT_OURS}]),
        (
            {"first": 101, "after": "eyJ4IjoxfQ"},
            [
                {"field": "first", "message": "`first` must be between 1 and 100."},
                {"field": "after", "message": NOT_OURS},
            ],
        ),
    ],
)
def test_bad_arguments_are_refused_with_every_field_named(
    api: Api, user: User, variables: dict[str, Any], fields: list[dict[str, str]]
) -> None:
    body = api.call("Changes", variables, user.token)

    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "fields": fields}


def test_a_cursor_past_the_latest_change_is_refused(api: Api, user: User) -> None:
    body = api.call("Changes", {"after": cursor(user.id, 7)}, user.token)

    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": [{"field": "after", "message": NOT_OURS}],
    }


def test_the_feed_needs_a_signed_in_account(api: Api) -> None:
    assert error_codes(api.call("Changes")) == ["UNAUTHENTICATED"]
    assert error_codes(api.call("LatestChangeCursor")) == ["UNAUTHENTICATED"]


def test_a_cursor_older_than_the_changes_kept_answers_cursor_expired(api: Api, user: User, two_days: None) -> None:
    document = api.submit(user, b"hello world", filename="a.txt")
    after_created = latest(api, user)
    update(api, user, document["id"], description="old")
    rows = list(ChangeRow.query(user.id, ChangeRow.sequence > 0, consistent_read=True))

    with time_machine.travel(datetime.now(UTC) + timedelta(days=2, hours=1), tick=True):
        update(api, user, document["id"], description="new")
        expired = api.call("Changes", {"after": after_created}, user.token)
        from_the_start = page(api, user)
        from_the_latest_old_change = page(api, user, from_the_start["edges"][0]["cursor"])

    assert expired == {
        "data": {
            "changes": {
                "__typename": "CursorExpiredError",
                "message": (
                    "Changes after position 1 are no longer kept (changes are kept 2 days); "
                    "compare the whole tree, then start again from latestChangeCursor."
                ),
                "retentionDays": 2,
            }
        }
    }
    # What is still kept is what a client starting over gets.
    assert summary(from_the_start) == [(3, "UPDATED", document["id"], "/a.txt", "/a.txt")]
    assert from_the_latest_old_change["edges"] == []
    # DynamoDB's TTL removes each row once its retention is over (to the second: TTL keeps no less).
    assert [int(row.sequence) for row in rows] == [1, 2]
    assert [row.expires_at for row in rows] == [(row.at + timedelta(days=2)).replace(microsecond=0) for row in rows]
