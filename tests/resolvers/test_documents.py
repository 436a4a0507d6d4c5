"""document, documents, updateDocument, deleteDocument and Document.downloadUrl, over real HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import time_machine

from models import documents
from tests import plain_http
from tests.client import Api, User, error_codes, post_form, sample
from tests.conftest import documents_of, objects_under, staged
from tests.domain.test_content_hash import independent

FREE_LIMIT = 5 * 1024**3
NOT_FOUND = "No document with that id in this account."
BAD_CURSOR = "The cursor is not one this API gave out."
OTHER_ORDER = "The cursor belongs to another sort order; start again without `after`."
BAD_FIRST = "`first` must be between 1 and 100."

ORDERS = [(field, direction) for field in ("CREATED_AT", "UPDATED_AT", "NAME") for direction in ("ASC", "DESC")]

# The library's stored documents, in the order they were uploaded: (name, content type, tags).
UPLOADS = [
    ("banana.txt", "text/plain", ["fruit", "yellow"]),
    ("Apple.pdf", "application/pdf", ["fruit", "red"]),
    ("cherry notes.txt", "text/plain", ["red"]),
    ("BANANA.txt", "text/plain", ["yellow"]),
    ("apple pie.pdf", "application/pdf", ["fruit", "red", "baked"]),
    ("Durian.json", "application/json", []),
]
CREATED = [name for name, _, _ in UPLOADS]
# banana.txt is redescribed after every upload, so it changed last.
UPDATED = [*CREATED[1:], "banana.txt"]
# Ignoring case: "apple pie" < "apple.pdf" (space before dot); the two bananas tie and go by creation.
BY_NAME = ["apple pie.pdf", "Apple.pdf", "banana.txt", "BANANA.txt", "cherry notes.txt", "Durian.json"]
ASCENDING = {"CREATED_AT": CREATED, "UPDATED_AT": UPDATED, "NAME": BY_NAME}
EXPECTED = {
    (field, direction): names if direction == "ASC" else names[::-1]
    for field, names in ASCENDING.items()
    for direction in ("ASC", "DESC")
}


@dataclass
class Library:
    """A signed-in account holding the documents of ``UPLOADS``, one pending upload and one rejected."""

    user: User
    nodes: dict[str, dict[str, Any]]
    content: dict[str, bytes]

    def ids(self, names: list[str]) -> list[str]:
        return [self.nodes[name]["id"] for name in names]


def listing(api: Api, user: User, **variables: Any) -> dict[str, Any]:
    """A page of ``documents``, each thumbnail's link without its signature (signed anew on every read)."""
    connection: dict[str, Any] = api.data("Documents", variables, user.token)["documents"]
    for edge in connection["edges"]:
        edge["node"]["thumbnailUrl"] = unsigned(edge["node"]["thumbnailUrl"])
    return connection


def unsigned(url: str | None) -> str | None:
    """A signed link without its signature: where it leads."""
    return None if url is None else url.split("?", 1)[0]


def names_of(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in connection["edges"]]


def ids_of(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


def without_locations(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{key: value for key, value in error.items() if key != "locations"} for error in body["errors"]]


def bad_input(*problems: tuple[str, str], path: str = "documents") -> list[dict[str, Any]]:
    """The one top-level error a query with bad arguments answers: every ``(field, message)``."""
    return [
        {
            "message": " ".join(f"{field}: {message}" for field, message in problems),
            "path": [path],
            "extensions": {
                "code": "BAD_USER_INPUT",
                "fields": [{"field": field, "message": message} for field, message in problems],
            },
        }
    ]


def readable(api: Api, user: User, document_id: str) -> dict[str, Any]:
    """``document(id)`` without its download link, and its thumbnail's without the signature: they
    are signed anew on every read."""
    document = dict(api.data("Document", {"id": document_id}, user.token)["document"])
    document.pop("downloadUrl")
    document["thumbnailUrl"] = unsigned(document["thumbnailUrl"])
    return document


def records(user: User) -> list[dict[str, Any]]:
    return [record.attribute_values for record in documents_of(user.id)]


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.fixture(scope="module", autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    """The clock this module's documents are stamped by (their ids, createdAt and updatedAt, read
    through ``datetime.now`` by the live server in this process): it runs as the real one does,
    and ``step`` moves it on at once, so that what a test makes in turn sorts in turn."""
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        yield traveller


def step(clock: time_machine.Traveller) -> None:
    """Move the clock on by more than the resolution of ids (a millisecond) and times."""
    clock.shift(timedelta(milliseconds=2))


def upload_in_turn(api: Api, user: User, clock: time_machine.Traveller, content: bytes, **input: Any) -> dict[str, Any]:
    """Upload, then step the clock: the next document's id and times sort strictly after this one's."""
    document = api.upload(user, content, **input)
    step(clock)
    return document


def chained(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pageInfo every page of a complete walk must have."""
    return [
        {
            "hasNextPage": number < len(pages) - 1,
            "hasPreviousPage": number > 0,
            "startCursor": page["edges"][0]["cursor"],
            "endCursor": page["edges"][-1]["cursor"],
        }
        for number, page in enumerate(pages)
    ]


def walk(api: Api, user: User, first: int, **variables: Any) -> list[dict[str, Any]]:
    """Every page of a listing, following ``endCursor`` while ``hasNextPage``."""
    pages = [listing(api, user, first=first, **variables)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        assert len(pages) < 20, "the listing does not end"
        pages.append(listing(api, user, first=first, after=pages[-1]["pageInfo"]["endCursor"], **variables))
    return pages


@pytest.fixture(scope="module")
def library(api: Api, clock: time_machine.Traveller) -> Library:
    user = api.sign_up()
    content: dict[str, bytes] = {}
    for name, content_type, tags in UPLOADS:
        content[name] = sample(content_type, name)
        upload_in_turn(api, user, clock, content[name], filename=name, contentType=content_type, tags=tags)
    # Would match most filters if its status did not keep it out of the default listing.
    pending = api.request_upload(user, filename="zebra.txt", size=64, tags=["fruit", "red"])
    step(clock)
    rejected = api.request_upload(user, filename="never-sent.pdf", contentType="application/pdf", size=64)
    assert api.complete(user, rejected["documentId"])["__typename"] == "UploadRejectedError"
    step(clock)
    nodes = {edge["node"]["name"]: edge["node"] for edge in listing(api, user, first=100)["edges"]}
    redescribed = api.data(
        "UpdateDocument", {"input": {"id": nodes["banana.txt"]["id"], "description": "ripe"}}, user.token
    )["updateDocument"]
    assert redescribed["__typename"] == "Document", redescribed

    nodes = {edge["node"]["name"]: edge["node"] for edge in listing(api, user, first=100)["edges"]}
    (pending_edge,) = listing(api, user, filter={"status": "PENDING_UPLOAD"})["edges"]
    (rejected_edge,) = listing(api, user, filter={"status": "REJECTED"})["edges"]
    nodes["zebra.txt"] = pending_edge["node"]
    nodes["never-sent.pdf"] = rejected_edge["node"]
    assert (nodes["zebra.txt"]["id"], nodes["never-sent.pdf"]["id"]) == (pending["documentId"], rejected["documentId"])
    assert sorted(nodes) == sorted([*CREATED, "zebra.txt", "never-sent.pdf"])
    return Library(user=user, nodes=nodes, content=content)


# --- order and pages -------------------------------------------------------------------------


def test_default_listing_is_stored_documents_newest_first(api: Api, library: Library) -> None:
    connection = listing(api, library.user)

    assert names_of(connection) == CREATED[::-1]
    assert [edge["node"]["status"] for edge in connection["edges"]] == ["READY"] * len(CREATED)
    assert connection["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": connection["edges"][0]["cursor"],
        "endCursor": connection["edges"][-1]["cursor"],
    }


@pytest.mark.parametrize(("field", "direction"), ORDERS)
def test_listing_sorts_by_field_and_direction(api: Api, library: Library, field: str, direction: str) -> None:
    connection = listing(api, library.user, orderBy={"field": field, "direction": direction})

    assert names_of(connection) == EXPECTED[field, direction]


def test_names_sort_ignoring_case(api: Api, library: Library) -> None:
    connection = listing(api, library.user, orderBy={"field": "NAME", "direction": "ASC"})

    assert names_of(connection) == BY_NAME
    assert names_of(connection) != sorted(BY_NAME)  # what a case-sensitive sort would give


@pytest.mark.parametrize("first", [1, 2, 4, 6])
@pytest.mark.parametrize(("field", "direction"), ORDERS)
def test_walking_pages_yields_the_whole_order_once(
    api: Api, library: Library, field: str, direction: str, first: int
) -> None:
    order_by = {"field": field, "direction": direction}
    whole = listing(api, library.user, first=100, orderBy=order_by)

    pages = walk(api, library.user, first, orderBy=order_by)

    edges = [edge for page in pages for edge in page["edges"]]
    assert [edge["node"]["id"] for edge in edges] == library.ids(EXPECTED[field, direction])
    assert [(edge["cursor"], edge["node"]) for edge in edges] == [
        (edge["cursor"], edge["node"]) for edge in whole["edges"]
    ]
    full, rest = divmod(len(CREATED), first)
    assert [len(page["edges"]) for page in pages] == [first] * full + ([rest] if rest else [])
    assert [page["pageInfo"] for page in pages] == chained(pages)


@pytest.mark.parametrize(("field", "direction"), ORDERS)
def test_walking_filtered_pages_skips_and_repeats_nothing(
    api: Api, library: Library, field: str, direction: str
) -> None:
    order_by = {"field": field, "direction": direction}

    pages = walk(api, library.user, 1, orderBy=order_by, filter={"tags": ["fruit"]})

    fruit = [name for name in EXPECTED[field, direction] if name in {"banana.txt", "Apple.pdf", "apple pie.pdf"}]
    assert [ids_of(page) for page in pages] == [[document_id] for document_id in library.ids(fruit)]
    assert [page["pageInfo"] for page in pages] == chained(pages)


def test_a_listing_reads_its_page_and_a_little_more_and_reads_on_past_uploads_in_progress(
    api: Api, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = api.sign_up()
    stored = [
        upload_in_turn(api, user, clock, f"kept {number}".encode(), filename=f"k{number}.txt") for number in range(3)
    ]
    pending = []
    for number in range(documents.SLACK + 3):  # the newest, and more than the slack: the first read passes none
        pending.append(api.request_upload(user, filename=f"p{number}.txt", size=8)["documentId"])
        step(clock)
    asked: list[int] = []
    query = documents.Document.query

    def spying(*args: Any, **kwargs: Any) -> Any:
        if args and args[0] == user.id:  # other tests' listings in this process are not counted
            asked.append(kwargs["page_size"])
        return query(*args, **kwargs)

    monkeypatch.setattr(documents.Document, "query", spying)

    first = listing(api, user, first=2)
    filtered = listing(api, user, first=2, filter={"tags": []})
    by_status = listing(api, user, first=2, filter={"status": "PENDING_UPLOAD"})

    newest = [document["id"] for document in reversed(stored)]
    assert ids_of(first) == newest[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    assert ids_of(filtered) == newest[:2]
    assert ids_of(by_status) == list(reversed(pending))[:2]
    # The page, the one that says more follow, and the slack; a status filter reads 50 at a time.
    assert asked == [2 + 1 + documents.SLACK, 2 + 1 + documents.SLACK, 50]


@pytest.mark.parametrize(("field", "direction"), ORDERS)
def test_page_after_the_last_document_is_empty(api: Api, library: Library, field: str, direction: str) -> None:
    order_by = {"field": field, "direction": direction}
    last = listing(api, library.user, orderBy=order_by)["pageInfo"]["endCursor"]

    connection = listing(api, library.user, after=last, orderBy=order_by)

    assert connection == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": True, "startCursor": None, "endCursor": None},
    }


def test_new_account_lists_an_empty_page(api: Api, user: User) -> None:
    assert listing(api, user) == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None},
    }


@pytest.mark.parametrize("first", [1, 100])
def test_first_accepts_1_to_100(api: Api, library: Library, first: int) -> None:
    connection = listing(api, library.user, first=first)

    assert names_of(connection) == CREATED[::-1][:first]
    assert connection["pageInfo"]["hasNextPage"] is (first < len(CREATED))


# --- filters ---------------------------------------------------------------------------------

FILTERS = [
    pytest.param({"nameContains": "APPLE"}, {"apple pie.pdf", "Apple.pdf"}, id="name-ignores-case"),
    pytest.param({"nameContains": "nana"}, {"banana.txt", "BANANA.txt"}, id="name-middle"),
    pytest.param({"nameContains": "Notes.TXT"}, {"cherry notes.txt"}, id="name-end"),
    pytest.param({"nameContains": "zebra"}, set(), id="name-of-a-pending-upload"),
    pytest.param({"tags": ["fruit", "red"]}, {"Apple.pdf", "apple pie.pdf"}, id="tags-all-of"),
    pytest.param({"tags": ["fruit"]}, {"banana.txt", "Apple.pdf", "apple pie.pdf"}, id="tags-one"),
    pytest.param({"tags": ["yellow", "red"]}, set(), id="tags-none-has-both"),
    pytest.param({"tags": []}, set(CREATED), id="tags-empty"),
    pytest.param({"contentType": "application/pdf"}, {"Apple.pdf", "apple pie.pdf"}, id="type-pdf"),
    pytest.param({"contentType": "text/plain"}, {"banana.txt", "BANANA.txt", "cherry notes.txt"}, id="type-text"),
    pytest.param({"contentType": "image/png"}, set(), id="type-none"),
    pytest.param(
        {"nameContains": "apple", "tags": ["baked"], "contentType": "application/pdf"},
        {"apple pie.pdf"},
        id="all-together",
    ),
    pytest.param({"status": "READY"}, set(CREATED), id="status-ready"),
    pytest.param({"status": "PENDING_UPLOAD"}, {"zebra.txt"}, id="status-pending"),
    pytest.param({"status": "REJECTED"}, {"never-sent.pdf"}, id="status-rejected"),
    pytest.param({"status": "PROCESSING"}, set(), id="status-processing"),
    pytest.param({"status": "FAILED"}, set(), id="status-failed"),
    pytest.param({"status": "PENDING_UPLOAD", "tags": ["red"]}, {"zebra.txt"}, id="status-and-tags"),
]


def in_order(field: str, direction: str, names: set[str]) -> list[str]:
    """``names`` in the expected order; the pending and rejected documents, if any, by creation."""
    ordered = [name for name in EXPECTED[field, direction] if name in names]
    extra = [name for name in ("zebra.txt", "never-sent.pdf") if name in names]
    return ordered + extra


@pytest.mark.parametrize(("filter", "expected"), FILTERS)
@pytest.mark.parametrize(("field", "direction"), ORDERS)
def test_filter_keeps_exactly_the_matching_documents(
    api: Api, library: Library, field: str, direction: str, filter: dict[str, Any], expected: set[str]
) -> None:
    connection = listing(api, library.user, filter=filter, orderBy={"field": field, "direction": direction})

    assert names_of(connection) == in_order(field, direction, expected)


def test_pending_upload_lists_with_its_declared_size(api: Api, library: Library) -> None:
    (edge,) = listing(api, library.user, filter={"status": "PENDING_UPLOAD"})["edges"]

    assert edge["node"] == {
        "id": library.nodes["zebra.txt"]["id"],
        "name": "zebra.txt",
        "path": "/zebra.txt",
        "contentType": "text/plain",
        "size": 64,
        "status": "PENDING_UPLOAD",
        "failureReason": None,
        "tags": ["fruit", "red"],
        "description": "",
        "createdAt": library.nodes["zebra.txt"]["createdAt"],
        "updatedAt": library.nodes["zebra.txt"]["createdAt"],
        "thumbnailUrl": None,
    }


TIME_FILTERS = [
    pytest.param(
        {"createdAfter": "Apple.pdf"},
        {"cherry notes.txt", "BANANA.txt", "apple pie.pdf", "Durian.json"},
        id="created-after-is-strict",
    ),
    pytest.param(
        {"createdBefore": "apple pie.pdf"},
        {"banana.txt", "Apple.pdf", "cherry notes.txt", "BANANA.txt"},
        id="created-before-is-strict",
    ),
    pytest.param(
        {"createdAfter": "Apple.pdf", "createdBefore": "apple pie.pdf"},
        {"cherry notes.txt", "BANANA.txt"},
        id="created-between",
    ),
    pytest.param({"updatedAfter": "Durian.json"}, {"banana.txt"}, id="updated-after-is-strict"),
    pytest.param({"updatedBefore": "cherry notes.txt"}, {"Apple.pdf"}, id="updated-before-is-strict"),
    pytest.param(
        {"updatedAfter": "Apple.pdf", "updatedBefore": "Durian.json"},
        {"cherry notes.txt", "BANANA.txt", "apple pie.pdf"},
        id="updated-between",
    ),
    pytest.param(
        {"createdBefore": "BANANA.txt", "updatedAfter": "BANANA.txt"},
        {"banana.txt"},
        id="created-before-but-updated-after",
    ),
]


def at_times_of(library: Library, bounds: dict[str, str]) -> dict[str, str]:
    """A filter whose bounds are the named documents' own times."""
    return {
        key: library.nodes[name]["createdAt" if key.startswith("created") else "updatedAt"]
        for key, name in bounds.items()
    }


@pytest.mark.parametrize(("bounds", "expected"), TIME_FILTERS)
@pytest.mark.parametrize(("field", "direction"), ORDERS)
def test_time_filters_keep_exactly_the_documents_strictly_inside(
    api: Api, library: Library, field: str, direction: str, bounds: dict[str, str], expected: set[str]
) -> None:
    order_by = {"field": field, "direction": direction}

    connection = listing(api, library.user, filter=at_times_of(library, bounds), orderBy=order_by)

    assert names_of(connection) == in_order(field, direction, expected)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("createdAfter", ["Durian.json", "apple pie.pdf"]),
        ("updatedAfter", ["Durian.json", "apple pie.pdf", "banana.txt"]),
    ],
)
def test_time_filter_compares_instants_whatever_the_zone(
    api: Api, library: Library, key: str, expected: list[str]
) -> None:
    utc = moment(at_times_of(library, {key: "BANANA.txt"})[key])
    spellings = {
        "utc": utc.isoformat(),
        "no zone, taken as utc": utc.replace(tzinfo=None).isoformat(),
        "+05:30": utc.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
        "-08:00": utc.astimezone(timezone(timedelta(hours=-8))).isoformat(),
    }

    found = {
        spelling: names_of(listing(api, library.user, filter={key: value})) for spelling, value in spellings.items()
    }

    assert found == dict.fromkeys(spellings, expected)


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        pytest.param({"createdAfter": "1969-07-20T20:17:40Z"}, CREATED[::-1], id="created-after"),
        pytest.param({"createdBefore": "1969-07-20T20:17:40Z"}, [], id="created-before"),
        pytest.param({"updatedAfter": "1969-07-20T20:17:40Z"}, CREATED[::-1], id="updated-after"),
        pytest.param({"updatedBefore": "1969-07-20T20:17:40Z"}, [], id="updated-before"),
    ],
)
def test_time_filters_before_1970_are_answered(
    api: Api, library: Library, filter: dict[str, str], expected: list[str]
) -> None:
    body = api.call("Documents", {"filter": filter}, library.user.token)

    assert "errors" not in body, body
    assert names_of(body["data"]["documents"]) == expected


@pytest.mark.parametrize(("field", "direction"), ORDERS)
@pytest.mark.parametrize("kind", ["created", "updated"])
def test_time_range_that_ends_before_it_starts_is_empty(
    api: Api, library: Library, kind: str, field: str, direction: str
) -> None:
    bounds = {f"{kind}After": "2030-01-01T00:00:00Z", f"{kind}Before": "2020-01-01T00:00:00Z"}

    body = api.call(
        "Documents", {"filter": bounds, "orderBy": {"field": field, "direction": direction}}, library.user.token
    )

    assert body == {
        "data": {
            "documents": {
                "edges": [],
                "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None},
            }
        }
    }


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "field", "message"),
    [
        pytest.param({"first": 0}, "first", BAD_FIRST, id="first-0"),
        pytest.param({"first": 101}, "first", BAD_FIRST, id="first-101"),
        pytest.param({"first": -1}, "first", BAD_FIRST, id="first-negative"),
        pytest.param({"after": "garbage"}, "after", BAD_CURSOR, id="cursor-garbage"),
        pytest.param({"after": ""}, "after", BAD_CURSOR, id="cursor-empty"),
        pytest.param({"after": "W10"}, "after", BAD_CURSOR, id="cursor-empty-list"),
        pytest.param({"after": "WzIsIk5BTUUiLCJhIiwiYiJd"}, "after", BAD_CURSOR, id="cursor-other-version"),
        pytest.param({"after": "A" * 3000}, "after", BAD_CURSOR, id="cursor-huge"),
        pytest.param(
            {"filter": {"contentType": "application/x-unknown"}},
            "filter.contentType",
            "DocStore does not store 'application/x-unknown' files.",
            id="unknown-content-type",
        ),
        pytest.param(
            {"filter": {"nameContains": ""}}, "filter.nameContains", "The file name is empty.", id="empty-name"
        ),
        pytest.param(
            {"filter": {"tags": [f"t{number}" for number in range(21)]}},
            "filter.tags",
            "At most 20 tags, not 21.",
            id="too-many-tags",
        ),
    ],
)
def test_bad_listing_input_is_bad_user_input(
    api: Api, library: Library, variables: dict[str, Any], field: str, message: str
) -> None:
    body = api.call("Documents", variables, library.user.token)

    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert without_locations(body) == bad_input((field, message))


def test_every_bad_listing_argument_is_named_at_once_in_the_argument_order(api: Api, library: Library) -> None:
    bad_filter = {"contentType": "application/x-unknown", "tags": [""], "nameContains": "a/b"}

    body = api.call("Documents", {"filter": bad_filter, "after": "garbage", "first": 0}, library.user.token)

    assert body["data"] is None
    assert without_locations(body) == bad_input(
        ("first", BAD_FIRST),
        ("after", BAD_CURSOR),
        ("filter.nameContains", "The file name may not contain / or \\."),
        ("filter.tags", "Each tag needs 1 to 64 characters."),
        ("filter.contentType", "DocStore does not store 'application/x-unknown' files."),
    )


def order_of(field: str, direction: str) -> dict[str, str]:
    return {"field": field, "direction": direction}


@pytest.mark.parametrize(
    ("given", "used"),
    [
        pytest.param(given, used, id=f"{'-'.join(given)}-used-with-{'-'.join(used)}")
        for given in ORDERS
        for used in ORDERS
        if given[0] != used[0]
    ],
)
def test_cursor_from_another_sort_field_is_bad_user_input(
    api: Api, library: Library, given: tuple[str, str], used: tuple[str, str]
) -> None:
    cursor = listing(api, library.user, first=2, orderBy=order_of(*given))["pageInfo"]["endCursor"]

    body = api.call("Documents", {"after": cursor, "orderBy": order_of(*used)}, library.user.token)

    assert body["data"] is None
    assert without_locations(body) == bad_input(("after", OTHER_ORDER))


@pytest.mark.parametrize("field", ["CREATED_AT", "UPDATED_AT", "NAME"])
def test_cursor_from_the_other_direction_is_bad_user_input(api: Api, library: Library, field: str) -> None:
    cursor = listing(api, library.user, first=2, orderBy={"field": field, "direction": "ASC"})["pageInfo"]["endCursor"]

    body = api.call(
        "Documents", {"after": cursor, "orderBy": {"field": field, "direction": "DESC"}}, library.user.token
    )

    # `orderBy` is field and direction: a cursor from ASC is a position in another order.
    assert body.get("data") is None, body
    assert without_locations(body) == bad_input(("after", OTHER_ORDER))


# --- one document ----------------------------------------------------------------------------


def test_document_reads_everything_about_it(api: Api, library: Library) -> None:
    node = library.nodes["apple pie.pdf"]

    assert node["thumbnailUrl"].endswith("/256.webp")  # the listing's is SMALL, Document's LARGE
    assert readable(api, library.user, node["id"]) == {
        **node,
        "thumbnailUrl": node["thumbnailUrl"].removesuffix("/256.webp") + "/1024.webp",
        "checksum": hashlib.md5(library.content["apple pie.pdf"]).hexdigest(),
        "contentHash": independent(library.content["apple pie.pdf"]),
        "version": 1,
        "failureReason": None,
    }


def test_rejected_upload_reads_with_its_reason_and_no_download(api: Api, library: Library) -> None:
    node = library.nodes["never-sent.pdf"]

    document = api.data("Document", {"id": node["id"]}, library.user.token)["document"]

    assert document == {
        **node,
        "status": "REJECTED",
        "checksum": None,
        "contentHash": None,
        "version": 1,
        "failureReason": "MISSING_OBJECT",
        "downloadUrl": None,
    }


def test_download_url_is_null_until_the_upload_completes(api: Api, user: User) -> None:
    content = sample("application/zip", "not yet")
    form = api.request_upload(user, filename="later.zip", contentType="application/zip", size=len(content))
    pending = api.data("Document", {"id": form["documentId"]}, user.token)["document"]
    assert (
        pending["status"],
        pending["size"],
        pending["checksum"],
        pending["contentHash"],
        pending["downloadUrl"],
    ) == (
        "PENDING_UPLOAD",
        len(content),
        None,
        None,
        None,
    )

    post_form(form, content)
    arrived = api.data("Document", {"id": form["documentId"]}, user.token)["document"]
    assert arrived == pending  # a file in S3 is not a document until it is completed

    assert api.complete(user, form["documentId"])["status"] == "PROCESSING"
    ready = api.settled(user, form["documentId"])
    assert ready["status"] == "READY"
    download = plain_http.get(ready["downloadUrl"], timeout=30)
    assert (download.status_code, download.content) == (200, content)


def test_download_url_serves_the_exact_bytes(api: Api, user: User) -> None:
    content = b"%PDF-1.4\n" + bytes(range(256)) * 17 + b"\r\n\x00end"
    document = api.upload(user, content, filename="Résumé 2024.pdf", contentType="application/pdf")

    url = api.data("Document", {"id": document["id"]}, user.token)["document"]["downloadUrl"]
    download = plain_http.get(url, timeout=30)

    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"R_sum_ 2024.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%202024.pdf"
    )


# --- updateDocument --------------------------------------------------------------------------


@pytest.fixture
def trio(api: Api, user: User, clock: time_machine.Traveller) -> dict[str, dict[str, Any]]:
    """Three documents of ``user``, created b, c, d."""
    return {
        name: upload_in_turn(
            api, user, clock, name.encode(), filename=name, tags=["draft", "shared"], description="first"
        )
        for name in ("b.txt", "c.txt", "d.txt")
    }


def update(api: Api, user: User, **input: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.data("UpdateDocument", {"input": input}, user.token)["updateDocument"]
    return result


def test_rename_moves_the_document_in_name_and_updated_order(
    api: Api, user: User, trio: dict[str, dict[str, Any]]
) -> None:
    target = trio["c.txt"]
    before = readable(api, user, target["id"])

    renamed = update(api, user, id=target["id"], name="  A first.txt ")

    assert renamed == {
        "__typename": "Document",
        "id": target["id"],
        "name": "A first.txt",
        "tags": ["draft", "shared"],
        "description": "first",
        "updatedAt": renamed["updatedAt"],
    }
    assert moment(renamed["updatedAt"]) > moment(before["updatedAt"])
    assert readable(api, user, target["id"]) == {**before, "name": "A first.txt", "updatedAt": renamed["updatedAt"]}
    order = {"NAME": ["A first.txt", "b.txt", "d.txt"], "UPDATED_AT": ["b.txt", "d.txt", "A first.txt"]}
    for field, names in order.items():
        assert names_of(listing(api, user, orderBy={"field": field, "direction": "ASC"})) == names
        assert names_of(listing(api, user, orderBy={"field": field, "direction": "DESC"})) == names[::-1]
    assert names_of(listing(api, user, orderBy={"field": "CREATED_AT", "direction": "ASC"})) == [
        "b.txt",
        "A first.txt",
        "d.txt",
    ]
    assert names_of(listing(api, user, filter={"nameContains": "a FIRST"})) == ["A first.txt"]
    assert names_of(listing(api, user, filter={"nameContains": "c.txt"})) == []


def test_retag_replaces_the_tags(api: Api, user: User, trio: dict[str, dict[str, Any]]) -> None:
    target = trio["b.txt"]
    before = readable(api, user, target["id"])

    retagged = update(api, user, id=target["id"], tags=["final", " shared ", "final"])

    assert retagged == {
        "__typename": "Document",
        "id": target["id"],
        "name": "b.txt",
        "tags": ["final", "shared"],
        "description": "first",
        "updatedAt": retagged["updatedAt"],
    }
    assert readable(api, user, target["id"]) == {
        **before,
        "tags": ["final", "shared"],
        "updatedAt": retagged["updatedAt"],
    }
    assert names_of(listing(api, user, filter={"tags": ["final"]})) == ["b.txt"]
    assert names_of(listing(api, user, filter={"tags": ["draft"]})) == ["d.txt", "c.txt"]
    assert names_of(listing(api, user, orderBy={"field": "UPDATED_AT", "direction": "DESC"})) == [
        "b.txt",
        "d.txt",
        "c.txt",
    ]


def test_redescribe_changes_only_the_description(api: Api, user: User, trio: dict[str, dict[str, Any]]) -> None:
    target = trio["d.txt"]
    before = readable(api, user, target["id"])

    redescribed = update(api, user, id=target["id"], description="Signed copy,\n2 pages")

    assert redescribed == {
        "__typename": "Document",
        "id": target["id"],
        "name": "d.txt",
        "tags": ["draft", "shared"],
        "description": "Signed copy,\n2 pages",
        "updatedAt": redescribed["updatedAt"],
    }
    assert readable(api, user, target["id"]) == {
        **before,
        "description": "Signed copy,\n2 pages",
        "updatedAt": redescribed["updatedAt"],
    }
    assert names_of(listing(api, user, orderBy={"field": "UPDATED_AT", "direction": "ASC"})) == [
        "b.txt",
        "c.txt",
        "d.txt",
    ]
    assert names_of(listing(api, user, orderBy={"field": "NAME", "direction": "ASC"})) == ["b.txt", "c.txt", "d.txt"]


@pytest.mark.parametrize(
    ("input", "field", "message"),
    [
        pytest.param({"name": ""}, "name", "The file name is empty.", id="empty-name"),
        pytest.param({"name": "   "}, "name", "The file name is empty.", id="blank-name"),
        pytest.param({"name": "reports/q3.pdf"}, "name", "The file name may not contain / or \\.", id="slash"),
        pytest.param({"name": "..\\up.pdf"}, "name", "The file name may not contain / or \\.", id="backslash"),
        pytest.param({"name": ".."}, "name", "The file name may not be . or ..", id="dot-dot"),
        pytest.param({"name": "é" * 128}, "name", "The file name is longer than 255 bytes.", id="256-bytes"),
        pytest.param(
            {"name": "invoice\u202efdp.exe"},
            "name",
            "name contains a control or invisible character (U+202E).",
            id="bidi-override",
        ),
        pytest.param(
            {"name": "fine.txt", "tags": [f"t{number}" for number in range(21)]},
            "tags",
            "At most 20 tags, not 21.",
            id="good-name-bad-tags",
        ),
        pytest.param(
            {"name": "fine.txt", "tags": ["ok"], "description": "x" * 1001},
            "description",
            "The description may have at most 1000 characters.",
            id="good-name-bad-description",
        ),
    ],
)
def test_invalid_update_is_a_validation_error_and_changes_nothing(
    api: Api, user: User, store, trio: dict[str, dict[str, Any]], input: dict[str, Any], field: str, message: str
) -> None:
    target = trio["c.txt"]
    before = (readable(api, user, target["id"]), records(user), listing(api, user))

    result = update(api, user, id=target["id"], **input)

    assert result == {
        "__typename": "ValidationError",
        "message": message,
        "fields": [{"field": field, "message": message}],
    }
    assert (readable(api, user, target["id"]), records(user), listing(api, user)) == before


def test_every_bad_update_field_is_named_at_once_and_nothing_changes(
    api: Api, user: User, store, trio: dict[str, dict[str, Any]]
) -> None:
    target = trio["c.txt"]
    before = (readable(api, user, target["id"]), records(user), listing(api, user))

    result = update(api, user, description="x" * 1001, tags=["ok", "t" * 65], name="..", id=target["id"])

    assert result == {
        "__typename": "ValidationError",
        "message": "The file name may not be . or ..",
        "fields": [
            {"field": "name", "message": "The file name may not be . or .."},
            {"field": "tags", "message": "Each tag needs 1 to 64 characters."},
            {"field": "description", "message": "The description may have at most 1000 characters."},
        ],
    }
    assert (readable(api, user, target["id"]), records(user), listing(api, user)) == before


def test_the_deprecated_field_is_the_first_field_at_fault(
    api: Api, user: User, trio: dict[str, dict[str, Any]]
) -> None:
    mutation = """mutation($input: UpdateDocumentInput!) { updateDocument(input: $input) {
        ... on ValidationError { message field fields { field } } } }"""

    body = api.raw(mutation, {"input": {"id": trio["c.txt"]["id"], "name": "", "tags": [""]}}, user.token)

    assert body == {
        "data": {
            "updateDocument": {
                "message": "The file name is empty.",
                "field": "name",
                "fields": [{"field": "name"}, {"field": "tags"}],
            }
        }
    }


# --- deleteDocument --------------------------------------------------------------------------


def delete(api: Api, user: User, document_id: str) -> dict[str, Any]:
    result: dict[str, Any] = api.data("DeleteDocument", {"input": {"id": document_id}}, user.token)["deleteDocument"]
    return result


def test_delete_removes_object_record_and_usage_together(api: Api, user: User, clock, store) -> None:
    kept = upload_in_turn(api, user, clock, b"keep me", filename="keep.txt")
    gone = upload_in_turn(api, user, clock, b"delete me, please", filename="gone.txt")
    assert api.usage(user) == {"usedBytes": 24, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 2}

    deleted = delete(api, user, gone["id"])

    assert deleted == {"__typename": "DeleteDocumentPayload", "id": gone["id"], "freedBytes": 17}
    assert api.usage(user) == {"usedBytes": 7, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 1}
    assert [item["Key"] for item in objects_under(store, user.id)] == [documents.get(user.id, kept["id"]).object_key]
    assert [record.document_id for record in documents_of(user.id)] == [kept["id"]]
    assert ids_of(listing(api, user)) == [kept["id"]]
    body = api.call("Document", {"id": gone["id"]}, user.token)
    assert body["data"] is None
    assert without_locations(body) == [
        {"message": NOT_FOUND, "path": ["document"], "extensions": {"code": "NOT_FOUND"}}
    ]
    assert update(api, user, id=gone["id"], name="back.txt") == {
        "__typename": "NotFoundError",
        "message": NOT_FOUND,
        "id": gone["id"],
    }


def test_second_delete_is_not_found_and_frees_nothing(api: Api, user: User, clock, store) -> None:
    kept = upload_in_turn(api, user, clock, b"keep me", filename="keep.txt")
    gone = upload_in_turn(api, user, clock, b"delete me", filename="gone.txt")
    assert delete(api, user, gone["id"])["__typename"] == "DeleteDocumentPayload"
    before = (api.usage(user), records(user), objects_under(store, user.id))

    again = delete(api, user, gone["id"])

    assert again == {"__typename": "NotFoundError", "message": NOT_FOUND, "id": gone["id"]}
    assert (api.usage(user), records(user), objects_under(store, user.id)) == before
    assert before[0] == {"usedBytes": 7, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 1}
    assert ids_of(listing(api, user)) == [kept["id"]]


def test_deleting_a_pending_upload_releases_its_reservation(api: Api, user: User, store) -> None:
    form = api.request_upload(user, filename="big.pdf", contentType="application/pdf", size=123_456)
    assert api.usage(user) == {
        "usedBytes": 0,
        "reservedBytes": 123_456,
        "limitBytes": FREE_LIMIT,
        "documentCount": 0,
    }

    deleted = delete(api, user, form["documentId"])

    assert deleted == {"__typename": "DeleteDocumentPayload", "id": form["documentId"], "freedBytes": 123_456}
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 0}
    body = api.call("Document", {"id": form["documentId"]}, user.token)
    assert body["data"] is None
    assert error_codes(body) == ["NOT_FOUND"]
    for status in ("PENDING_UPLOAD", "REJECTED"):
        assert listing(api, user, filter={"status": status})["edges"] == []
    assert api.complete(user, form["documentId"]) == {
        "__typename": "UploadNotFoundError",
        "message": "No upload with that id in this account.",
        "documentId": form["documentId"],
    }
    assert objects_under(store, user.id) == []


def test_deleting_an_upload_whose_file_arrived_deletes_the_file(api: Api, user: User, store) -> None:
    content = b"arrived but never completed"
    form = api.request_upload(user, filename="arrived.txt", size=100)
    post_form(form, content)
    assert staged(store, user.id) == {form["documentId"]: content}

    deleted = delete(api, user, form["documentId"])

    assert deleted == {"__typename": "DeleteDocumentPayload", "id": form["documentId"], "freedBytes": 100}
    assert objects_under(store, user.id) == []
    assert staged(store, user.id) == {}
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": FREE_LIMIT, "documentCount": 0}


def test_second_delete_of_a_pending_upload_is_not_found_and_frees_nothing(api: Api, user: User, store) -> None:
    other = api.request_upload(user, filename="other.txt", size=50)
    form = api.request_upload(user, filename="gone.txt", size=70)
    assert delete(api, user, form["documentId"])["freedBytes"] == 70
    before = (api.usage(user), records(user), objects_under(store, user.id))

    again = delete(api, user, form["documentId"])

    assert again == {"__typename": "NotFoundError", "message": NOT_FOUND, "id": form["documentId"]}
    assert (api.usage(user), records(user), objects_under(store, user.id)) == before
    assert before[0] == {"usedBytes": 0, "reservedBytes": 50, "limitBytes": FREE_LIMIT, "documentCount": 0}
    assert ids_of(listing(api, user, filter={"status": "PENDING_UPLOAD"})) == [other["documentId"]]
