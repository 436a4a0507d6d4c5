"""search and upgradePlan over real HTTP: the live server's workers extract, the indexer indexes."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest

from tests.client import Api, User, error_codes, sample

PREMIUM_REQUIRED = (
    "Searching the contents of documents needs the PREMIUM plan; "
    "FREE accounts search names, tags and descriptions (leave out `content:`)."
)


def word() -> str:
    """A word no other test's documents contain."""
    return "w" + uuid.uuid4().hex[:10]


def search(api: Api, user: User, query: str, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.data("Search", {"query": query, **variables}, user.token)["search"]
    return result


def refused(api: Api, user: User, query: str, **variables: Any) -> list[dict[str, str]]:
    """``extensions.fields`` of the one BAD_USER_INPUT error a search with bad arguments answers,
    after checking the error's whole shape."""
    body = api.call("Search", {"query": query, **variables}, user.token)
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == ["search"]
    fields: list[dict[str, str]] = error["extensions"]["fields"]
    assert error["message"] == " ".join(f"{problem['field']}: {problem['message']}" for problem in fields)
    return fields


def hit_ids(result: dict[str, Any]) -> list[str]:
    assert result["__typename"] == "SearchConnection", result
    return [edge["node"]["document"]["id"] for edge in result["edges"]]


def eventually(api: Api, user: User, query: str, expected: list[str], timeout: float = 20, **variables: Any) -> dict:
    """The search result once its hits are exactly ``expected`` (in order); fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = search(api, user, query, **variables)
        if hit_ids(result) == expected:
            return result
        assert time.monotonic() < deadline, f"{query!r} gave {hit_ids(result)}, expected {expected}"
        time.sleep(0.05)


def until_found(api: Api, user: User, query: str, ids: set[str], timeout: float = 20) -> None:
    """Wait until ``query`` finds exactly ``ids``, in any order (equal scores order by index position)."""
    deadline = time.monotonic() + timeout
    while set(hit_ids(search(api, user, query))) != ids:
        assert time.monotonic() < deadline, f"{query!r} did not come to find {ids}"
        time.sleep(0.05)


def text_document(api: Api, user: User, text: str, **input: Any) -> dict[str, Any]:
    document = api.upload(user, text.encode(), contentType="text/plain", **input)
    assert document["status"] == "READY", document
    return document


def test_premium_finds_a_document_by_its_content_with_a_highlight(api: Api) -> None:
    user = api.sign_up("PREMIUM")
    secret = word()
    document = text_document(api, user, f"The quarterly figures mention {secret} twice: {secret}.", filename="q.txt")

    result = eventually(api, user, secret, [document["id"]])

    (edge,) = result["edges"]
    assert edge["node"]["document"]["status"] == "READY"
    assert edge["node"]["score"] > 0
    assert [mark["field"] for mark in edge["node"]["highlights"]] == ["content"]
    assert f"<b>{secret}</b>" in edge["node"]["highlights"][0]["snippet"]


def test_free_searches_names_tags_and_descriptions_but_never_content(api: Api) -> None:
    user = api.sign_up("FREE")
    in_content, in_name, in_tag, in_description = word(), word(), word(), word()
    document = text_document(
        api,
        user,
        f"only the body says {in_content}",
        filename=f"{in_name}.txt",
        tags=[in_tag],
        description=f"about {in_description}",
    )

    for query in (in_name, f"tag:{in_tag}", in_description):
        result = eventually(api, user, query, [document["id"]])
    assert hit_ids(search(api, user, in_content)) == []
    assert search(api, user, f"content:{in_content}") == {
        "__typename": "PremiumRequiredError",
        "message": PREMIUM_REQUIRED,
        "plan": "FREE",
    }
    fields = [mark["field"] for mark in result["edges"][0]["node"]["highlights"]]
    assert fields == ["description"]


def test_words_of_another_account_never_match(api: Api) -> None:
    owner, stranger = api.sign_up("PREMIUM"), api.sign_up("PREMIUM")
    secret = word()
    document = text_document(api, owner, f"classified {secret} report", filename=f"{secret}.txt", tags=[secret])
    eventually(api, owner, secret, [document["id"]])

    for query in (secret, f'"classified {secret}"', f"{secret[:6]}*", f"name:{secret}", f"tag:{secret}"):
        assert hit_ids(search(api, stranger, query)) == [], query
    assert hit_ids(search(api, stranger, secret, filter={"nameContains": secret})) == []


def test_rename_retag_and_delete_show_in_search(api: Api) -> None:
    user = api.sign_up("FREE")
    old_name, new_name, tag = word(), word(), word()
    document = text_document(api, user, "body", filename=f"{old_name}.txt")
    eventually(api, user, old_name, [document["id"]])

    changed = api.data(
        "UpdateDocument", {"input": {"id": document["id"], "name": f"{new_name}.txt", "tags": [tag]}}, user.token
    )["updateDocument"]
    assert changed["__typename"] == "Document"
    eventually(api, user, new_name, [document["id"]])
    eventually(api, user, f"tag:{tag}", [document["id"]])
    assert hit_ids(search(api, user, old_name)) == []

    deleted = api.data("DeleteDocument", {"input": {"id": document["id"]}}, user.token)["deleteDocument"]
    assert deleted["__typename"] == "DeleteDocumentPayload"
    assert hit_ids(search(api, user, new_name)) == []


def test_deleted_document_leaves_the_index(api: Api, live_server: Any) -> None:
    user = api.sign_up("FREE")
    name = word()
    document = text_document(api, user, "body", filename=f"{name}.txt")
    eventually(api, user, name, [document["id"]])
    backend = live_server.app.state.services.search

    api.data("DeleteDocument", {"input": {"id": document["id"]}}, user.token)

    deadline = time.monotonic() + 20
    while True:
        backend.refresh()
        page = backend.search(user.id, name, content=False, flt=_no_filter(), offset=0, limit=10)
        if not page.hits:
            break
        assert time.monotonic() < deadline, "the deleted document is still in the index"
        time.sleep(0.05)


def _no_filter() -> Any:
    from adapters.search.base import SearchFilter

    return SearchFilter()


@pytest.mark.parametrize(
    ("query", "message_part"),
    [
        ('"unclosed phrase', "quote"),
        ("(open", "never closed"),
        ("name:", "name:"),
        ("NOT", "NOT"),
        ("", "empty"),
        ("   ", "empty"),
        ("colour:red", "field"),
    ],
)
def test_query_syntax_errors_are_bad_user_input(api: Api, user: User, query: str, message_part: str) -> None:
    (problem,) = refused(api, user, query)

    assert problem["field"] == "query"
    assert message_part.lower() in problem["message"].lower()


def test_a_10_kb_query_is_answered(api: Api) -> None:
    user = api.sign_up("PREMIUM")
    secret = word()
    document = text_document(api, user, f"needle {secret}")
    eventually(api, user, secret, [document["id"]])
    filler = " OR ".join(f"hay{number}" for number in range(1300))
    query = f"{secret} OR {filler}"[:10_000]
    assert len(query) == 10_000 or len(query.encode()) <= 10_000

    assert hit_ids(search(api, user, query)) == [document["id"]]
    (too_long,) = refused(api, user, "a" * 10_001)
    assert too_long["field"] == "query"
    assert "10,000" in too_long["message"]


def test_every_special_character_gives_an_answer_never_a_server_error(api: Api, user: User) -> None:
    specials = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\t\n\x00\u200b\u202e😀"
    queries = list(specials)
    queries += [char * 2 for char in specials] + [f"a{char}b" for char in specials]
    queries += [f"{char}word" for char in specials] + [f"word{char}" for char in specials]

    for query in queries:
        body = api.call("Search", {"query": query}, user.token)
        if "errors" in body:
            assert error_codes(body) == ["BAD_USER_INPUT"], (query, body)
            assert [problem["field"] for problem in body["errors"][0]["extensions"]["fields"]] == ["query"]
        else:
            assert body["data"]["search"]["__typename"] == "SearchConnection", query


def test_pages_follow_each_other_without_repeats(api: Api) -> None:
    user = api.sign_up("FREE")
    shared = word()
    ids = {text_document(api, user, "x", filename=f"{shared} {n}.txt")["id"] for n in range(3)}
    until_found(api, user, shared, ids)

    first = search(api, user, shared, first=2)
    assert len(first["edges"]) == 2
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    rest = search(api, user, shared, first=2, after=first["pageInfo"]["endCursor"])
    assert len(rest["edges"]) == 1
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True
    assert set(hit_ids(first)) | set(hit_ids(rest)) == ids

    other_query = refused(api, user, shared + " OR x", first=2, after=first["pageInfo"]["endCursor"])
    assert other_query == [{"field": "after", "message": "The cursor is not one this search gave out."}]


@pytest.mark.parametrize("first", [0, 51, -1])
def test_first_out_of_range(api: Api, user: User, first: int) -> None:
    assert refused(api, user, "anything", first=first) == [
        {"field": "first", "message": "`first` must be between 1 and 50."}
    ]


def test_filters_narrow_the_hits(api: Api) -> None:
    user = api.sign_up("FREE")
    shared, tag = word(), word()
    tagged = text_document(api, user, "x", filename=f"{shared} a.txt", tags=[tag])
    plain = api.upload(
        user, sample("application/pdf", "pdf"), filename=f"{shared} b.pdf", contentType="application/pdf"
    )
    assert plain["status"] == "READY"
    until_found(api, user, shared, {tagged["id"], plain["id"]})

    assert hit_ids(search(api, user, shared, filter={"tags": [tag]})) == [tagged["id"]]
    assert hit_ids(search(api, user, shared, filter={"contentType": "application/pdf"})) == [plain["id"]]
    assert hit_ids(search(api, user, shared, filter={"nameContains": " B.PDF"})) == [plain["id"]]
    assert hit_ids(search(api, user, shared, filter={"status": "PROCESSING"})) == []
    assert refused(api, user, shared, filter={"tags": [""]}) == [
        {"field": "filter.tags", "message": "Each tag needs 1 to 64 characters."}
    ]


def test_search_needs_a_token(api: Api) -> None:
    body = api.call("Search", {"query": "x"})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


@pytest.mark.parametrize("plan", ["FREE", "PREMIUM"])
def test_a_document_is_found_the_moment_it_reads_ready(api: Api, plan: str) -> None:
    """No waiting between READY and search: the index holds a document before its record says READY."""
    user = api.sign_up(plan)
    for _ in range(3):
        name = word()
        document = api.submit(user, f"{name} body\n".encode(), filename=f"{name}.txt", contentType="text/plain")
        # Poll the status as a client would, then search at once.
        assert api.settled(user, document["id"], timeout=60)["status"] == "READY"

        assert hit_ids(search(api, user, name)) == [document["id"]]


def test_a_cursor_edited_to_a_negative_position_is_refused(api: Api, user: User) -> None:
    shared = word()
    ids = {text_document(api, user, "x", filename=f"{shared} {n}.txt")["id"] for n in range(2)}
    until_found(api, user, shared, ids)
    cursor = search(api, user, shared, first=1)["pageInfo"]["endCursor"]
    version, scope, _, last = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    edited = base64.urlsafe_b64encode(json.dumps([version, scope, "-5", last]).encode()).decode().rstrip("=")

    assert refused(api, user, shared, first=1, after=edited) == [
        {"field": "after", "message": "The cursor is not one this search gave out."}
    ]


def test_every_bad_search_argument_is_named_at_once_in_the_argument_order(api: Api, user: User) -> None:
    bad_filter = {"contentType": "application/x-unknown", "nameContains": ""}

    problems = refused(api, user, '"unclosed', first=51, filter=bad_filter)

    assert problems == [
        {"field": "query", "message": problems[0]["message"]},
        {"field": "filter.nameContains", "message": "The file name is empty."},
        {"field": "filter.contentType", "message": "DocStore does not store 'application/x-unknown' files."},
        {"field": "first", "message": "`first` must be between 1 and 50."},
    ]
    assert "quote" in problems[0]["message"].lower()


def test_a_bad_cursor_is_named_with_a_bad_first_and_a_readable_query_is_not(api: Api, user: User) -> None:
    assert refused(api, user, "fine words", first=0, after="garbage") == [
        {"field": "first", "message": "`first` must be between 1 and 50."},
        {"field": "after", "message": "The cursor is not one this search gave out."},
    ]


def test_a_search_and_a_listing_answer_the_same_bad_filter_the_same_way(api: Api, user: User) -> None:
    bad_filter = {"tags": [f"t{number}" for number in range(21)], "nameContains": "x" * 300}
    listing = api.call("Documents", {"filter": bad_filter}, user.token)

    assert (
        refused(api, user, "anything", filter=bad_filter)
        == listing["errors"][0]["extensions"]["fields"]
        == [
            {"field": "filter.nameContains", "message": "The file name is longer than 255 bytes."},
            {"field": "filter.tags", "message": "At most 20 tags, not 21."},
        ]
    )


# --- scope: documents shared with the searcher --------------------------------------------------


@pytest.fixture(scope="module")
def shared_search(api: Api) -> dict[str, Any]:
    """A PREMIUM owner's document whose body, name and tag say words of their own, shared with a FREE
    and a PREMIUM account, each of which has a document of its own with the same name word."""
    owner = api.sign_up("PREMIUM")
    body, name = word(), word()
    shared = text_document(api, owner, f"the body says {body}", filename=f"{name}.txt")
    eventually(api, owner, body, [shared["id"]])
    readers = {plan: api.sign_up(plan) for plan in ("FREE", "PREMIUM")}
    own = {}
    for plan, reader in readers.items():
        own[plan] = text_document(api, reader, "nothing else", filename=f"{name} mine.txt")["id"]
        eventually(api, reader, name, [own[plan]])
        api.share(owner, shared["id"], reader)
    return {"owner": owner, "body": body, "name": name, "shared": shared["id"], "readers": readers, "own": own}


@pytest.mark.parametrize("plan", ["FREE", "PREMIUM"])
def test_scope_own_is_the_default_and_shared_and_all_add_what_is_shared(
    api: Api, shared_search: dict[str, Any], plan: str
) -> None:
    reader, name = shared_search["readers"][plan], shared_search["name"]
    own, shared = shared_search["own"][plan], shared_search["shared"]

    assert hit_ids(search(api, reader, name)) == [own]
    assert hit_ids(search(api, reader, name, scope="OWN")) == [own]
    assert hit_ids(search(api, reader, name, scope="SHARED")) == [shared]
    assert sorted(hit_ids(search(api, reader, name, scope="ALL"))) == sorted([own, shared])
    (edge,) = search(api, reader, name, scope="SHARED")["edges"]
    assert edge["node"]["document"]["name"] == f"{name}.txt"


def test_the_searchers_plan_decides_whether_shared_contents_are_searched(
    api: Api, shared_search: dict[str, Any]
) -> None:
    body, shared = shared_search["body"], shared_search["shared"]
    free, premium = shared_search["readers"]["FREE"], shared_search["readers"]["PREMIUM"]

    assert hit_ids(search(api, premium, body, scope="SHARED")) == [shared]
    assert hit_ids(search(api, premium, f"content:{body}", scope="ALL")) == [shared]
    assert hit_ids(search(api, free, body, scope="SHARED")) == []
    assert search(api, free, f"content:{body}", scope="SHARED") == {
        "__typename": "PremiumRequiredError",
        "message": PREMIUM_REQUIRED,
        "plan": "FREE",
    }


def test_a_stranger_finds_nothing_shared_and_an_unshared_reader_finds_it_no_more(
    api: Api, shared_search: dict[str, Any]
) -> None:
    owner, name, shared = shared_search["owner"], shared_search["name"], shared_search["shared"]
    stranger = api.sign_up("PREMIUM")
    leaving = api.sign_up("PREMIUM")
    share = api.share(owner, shared, leaving)
    assert hit_ids(search(api, leaving, name, scope="SHARED")) == [shared]

    api.data("UnshareDocument", {"input": {"shareId": share["id"]}}, owner.token)

    assert hit_ids(search(api, leaving, name, scope="SHARED")) == []
    assert hit_ids(search(api, leaving, shared_search["body"], scope="ALL")) == []
    for scope in ("OWN", "SHARED", "ALL"):
        assert hit_ids(search(api, stranger, name, scope=scope)) == [], scope


def test_a_cursor_of_one_scope_is_refused_in_another(api: Api, shared_search: dict[str, Any]) -> None:
    reader, name = shared_search["readers"]["PREMIUM"], shared_search["name"]
    first = search(api, reader, name, scope="ALL", first=1)
    cursor = first["pageInfo"]["endCursor"]

    assert refused(api, reader, name, scope="SHARED", first=1, after=cursor) == [
        {"field": "after", "message": "The cursor is not one this search gave out."}
    ]
    second = search(api, reader, name, scope="ALL", first=1, after=cursor)
    assert sorted(hit_ids(first) + hit_ids(second)) == sorted(
        [shared_search["own"]["PREMIUM"], shared_search["shared"]]
    )
