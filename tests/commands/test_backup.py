"""`docstore backup` and `docstore restore`, as a user runs them: each deployment is its own
`docstore serve` process with its own embedded AWS and data folder (PynamoDB's settings are
per process, so two deployments cannot share one), and the commands run beside them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from commands.backup import Unsettled, back_up
from models import accounts, counters, documents
from tests import plain_http, serving
from tests.client import PASSWORD, Api, User, post_form, sample
from tests.conftest import stored
from tests.serving import clean_env
from tests.workers import files

SEARCHES = ("quarterly", "sales region", "invoice", "zebra", "report")
SHARE_SECRET = "backup-test-share-secret-" + "0" * 16


def docstore(*args: str) -> subprocess.CompletedProcess[str]:
    """A `docstore` command on the embedded default, run to its end."""
    return serving.docstore(*args, timeout=300)


class Deployment:
    """An embedded deployment: a data folder, and the `docstore serve` running on it, if any."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.served: serving.Served | None = None
        self.url = ""

    def serve(self) -> Api:
        self.served = serving.start(
            "serve",
            # Forms valid for an hour: the sweeper keeps the source's upload in progress reserved.
            env=clean_env(
                DOCSTORE_EXTRACTION_PROCESSES="1",
                DOCSTORE_QUEUE_WAIT_SECONDS="1",
                DOCSTORE_UPLOAD_FORM_SECONDS="3600",
                # One secret for source and target, as one deployment's processes share it: a
                # restored link shows the URL it had.
                DOCSTORE_SHARE_SECRET=SHARE_SECRET,
                DOCSTORE_SHARE_LINKS_PER_DOCUMENT="3",
            ),
            data_dir=self.data_dir,
        )
        self.url = self.served.url
        return Api(self.url)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return docstore(*args, "--data-dir", str(self.data_dir))

    def stats(self) -> dict[str, Any]:
        done = self.run("stats", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def stop(self) -> None:
        if self.served is not None:
            self.served.end()


@dataclass
class Source:
    deployment: Deployment
    api: Api
    users: list[User]
    admin: User
    #: The bytes uploaded, by document id: each document's current version.
    uploaded: dict[str, bytes] = field(default_factory=dict)
    #: The FREE account's document of three versions: its id, and each version's bytes.
    versioned: str = ""
    versions: dict[int, bytes] = field(default_factory=dict)
    #: The versioned document's share links as made (one downloaded once, one pinned to version 1
    #: with a password, one revoked).
    links: list[dict[str, Any]] = field(default_factory=list)
    #: The versioned document's share with the PREMIUM account, as EDITOR.
    share: dict[str, Any] = field(default_factory=dict)


def sign_in(api: Api, email: str) -> str:
    result = api.data("SignIn", {"input": {"email": email, "password": PASSWORD}})["signIn"]
    assert result["__typename"] == "AuthPayload", result
    return str(result["token"])


def listing(api: Api, token: str) -> list[dict[str, Any]]:
    """The documents, each with whether it has a thumbnail: its link is signed anew for each request
    (test_thumbnails_are_kept_with_their_headers compares the images)."""
    nodes = [edge["node"] for edge in api.data("Documents", {"first": 100}, token)["documents"]["edges"]]
    return [{**node, "thumbnailUrl": node["thumbnailUrl"] is not None} for node in nodes]


def dashboard(api: Api, token: str) -> dict[str, Any]:
    figures = dict(api.data("Dashboard", token=token)["dashboard"])
    figures.pop("queueDepth")  # work waiting in queues is not data
    return figures


def hits(api: Api, token: str, query: str) -> list[tuple[str, list[Any]]]:
    result = api.data("Search", {"query": query}, token)["search"]
    assert result["__typename"] == "SearchConnection", result
    return [(edge["node"]["document"]["id"], edge["node"]["highlights"]) for edge in result["edges"]]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """A running embedded deployment with accounts on both plans, real files of several types,
    all READY, and one upload left in progress."""
    folder = tmp_path_factory.mktemp("source")
    deployment = Deployment(folder / "data")
    api = deployment.serve()
    try:
        free, premium, admin = api.sign_up("FREE"), api.sign_up("PREMIUM"), api.sign_up("PREMIUM")
        granted = deployment.run("admin", "grant", admin.email)
        assert granted.returncode == 0, granted.stderr
        made = {
            "report.pdf": files.pdf_file(folder / "report.pdf", "Quarterly report\nSales grew in every region."),
            "invoice.pdf": files.pdf_file(folder / "invoice.pdf", "Invoice 42\nA zebra costs extra."),
            "report.docx": files.docx_file(folder / "report.docx"),
            "scan.png": files.image_file(folder / "scan.png", "Invoice for a zebra", format="PNG"),
        }
        types = {
            ".pdf": "application/pdf",
            ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ".png": "image/png",
        }
        result = Source(deployment, api, [free, premium], admin)
        for user in (free, premium):
            for name, path in made.items():
                content = path.read_bytes()
                document = api.upload(user, content, filename=name, contentType=types[path.suffix])
                assert document["status"] == "READY", document
                result.uploaded[document["id"]] = content
            notes = sample("text/plain", f"plain notes of {user.email}")
            document = api.upload(user, notes, filename="notes.txt", contentType="text/plain", tags=["notes"])
            result.uploaded[document["id"]] = notes
        # Three versions of one document, moved and retagged: earlier versions and changes to keep.
        for number in (1, 2, 3):
            content = f"draft {number}\n".encode() * (100 * number)
            form = api.request_upload(
                free, size=len(content), filename="draft.txt", path="/draft.txt", mode="OVERWRITE"
            )
            assert form["__typename"] == "UploadForm", form
            post_form(form, content)
            document = api.complete(free, form["documentId"])
            assert api.settled(free, document["id"])["status"] == "READY"
            result.versioned, result.versions[number] = document["id"], content
        result.uploaded[result.versioned] = result.versions[3]
        moved = {"input": {"documentId": result.versioned, "path": "/drafts/draft.txt"}}
        assert api.data("MoveDocument", moved, free.token)["moveDocument"]["__typename"] == "Document"
        tagged = {"input": {"id": result.versioned, "tags": ["draft"]}}
        assert api.data("UpdateDocument", tagged, free.token)["updateDocument"]["__typename"] == "Document"
        for input in ({"maxDownloads": 3}, {"version": 1, "password": "pin"}, {}):
            made = api.data("CreateShareLink", {"input": {"documentId": result.versioned, **input}}, free.token)
            assert made["createShareLink"]["__typename"] == "ShareLink", made
            result.links.append(made["createShareLink"])
        assert plain_http.post(result.links[0]["url"]).status_code == 303
        result.share = api.share(free, result.versioned, premium, "EDITOR")
        revoked = api.data("RevokeShareLink", {"input": {"id": result.links[2]["id"]}}, free.token)
        assert revoked["revokeShareLink"]["active"] is False
        # Never posted: a reservation that a backup leaves out.
        pending = api.request_upload(premium, filename="later.pdf", contentType="application/pdf", size=5000)
        assert pending["__typename"] == "UploadForm", pending
        yield result
    finally:
        deployment.stop()


@pytest.fixture(scope="module")
def backup_dir(source: Source, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("backups") / "nightly"
    done = source.deployment.run("backup", str(directory))
    assert done.returncode == 0, done.stderr
    return directory


@pytest.fixture(scope="module")
def restored(backup_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, Api]]:
    """A fresh deployment with a server running, the backup restored into it."""
    deployment = Deployment(tmp_path_factory.mktemp("target") / "data")
    api = deployment.serve()
    try:
        done = deployment.run("restore", str(backup_dir))
        assert done.returncode == 0, done.stderr
        yield deployment, api
    finally:
        deployment.stop()


def test_backup_writes_a_manifest_with_counts_and_a_checksum_of_every_file(source: Source, backup_dir: Path) -> None:
    manifest = json.loads((backup_dir / "manifest.json").read_text())

    listed = {path.relative_to(backup_dir).as_posix() for path in backup_dir.rglob("*") if path.is_file()}
    assert set(manifest["files"]) == listed - {"manifest.json"}
    assert manifest["counts"]["accounts"] == 3
    assert manifest["counts"]["documents"] == len(source.uploaded)
    assert manifest["left_out"] == {"pending_uploads": 1, "deleted_during_backup": 0}
    assert manifest["source"]["region"] == "us-west-2"
    assert not backup_dir.with_name("nightly.partial").exists()
    # Every version's original: the current ones, and the versioned document's two earlier ones.
    originals = [key for key in manifest["objects"] if key.endswith("/original")]
    earlier = [source.versions[1], source.versions[2]]
    assert sorted((backup_dir / "objects" / key).read_bytes() for key in originals) == sorted(
        [*source.uploaded.values(), *earlier]
    )
    assert manifest["counts"]["versions"] == 2
    assert (manifest["version"], manifest["counts"]["shares"]) == (4, 1)
    # PREMIUM documents of searchable types carry their extracted text, FREE ones none.
    texts = {key.split("/")[0] for key in manifest["objects"] if key.endswith("/text.txt")}
    assert texts == {source.users[1].id}


def test_every_document_downloads_with_identical_bytes(source: Source, restored: tuple[Deployment, Api]) -> None:
    _, api = restored
    downloaded = {}
    for user in source.users:
        token = sign_in(api, user.email)
        for node in listing(api, token):
            document = api.data("Document", {"id": node["id"]}, token)["document"]
            assert document["status"] == "READY", document
            downloaded[node["id"]] = plain_http.get(document["downloadUrl"], timeout=30).content

    assert downloaded == source.uploaded


def test_thumbnails_are_kept_with_their_headers(source: Source, restored: tuple[Deployment, Api]) -> None:
    _, api = restored
    kept = 0
    for user in source.users:
        before_token, after_token = sign_in(source.api, user.email), sign_in(api, user.email)
        for node in listing(source.api, before_token):
            before = source.api.data("Document", {"id": node["id"]}, before_token)["document"]["thumbnailUrl"]
            after = api.data("Document", {"id": node["id"]}, after_token)["document"]["thumbnailUrl"]
            if before is None:  # DOCX, text: none to keep
                assert after is None, node
                continue
            served = plain_http.get(after, timeout=30)
            assert served.status_code == 200
            assert served.headers["content-type"] == "image/webp"
            assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert served.content == plain_http.get(before, timeout=30).content
            kept += 1

    assert kept == 6  # each account's two PDFs and its PNG


def test_documents_usage_and_dashboard_are_equal(source: Source, restored: tuple[Deployment, Api]) -> None:
    _, api = restored
    for user in source.users:
        before, after = sign_in(source.api, user.email), sign_in(api, user.email)

        assert listing(api, after) == listing(source.api, before)
        usage_before = source.api.usage(User(before, user.id, user.email))
        usage_after = api.usage(User(after, user.id, user.email))
        # The upload in progress is not in the backup: nothing stays reserved for it.
        assert usage_after == {**usage_before, "reservedBytes": 0}
    assert dashboard(api, sign_in(api, source.admin.email)) == dashboard(
        source.api, sign_in(source.api, source.admin.email)
    )


def test_search_finds_the_same_hits(source: Source, restored: tuple[Deployment, Api]) -> None:
    _, api = restored
    premium = source.users[1]
    before, after = sign_in(source.api, premium.email), sign_in(api, premium.email)
    found = {query: hits(source.api, before, query) for query in SEARCHES}

    assert {query: hits(api, after, query) for query in SEARCHES} == found
    assert all(found.values()), found  # every query finds something, so equality says something


def test_sessions_are_not_restored(source: Source, restored: tuple[Deployment, Api]) -> None:
    _, api = restored
    body = api.call("Me", token=source.users[0].token)

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert source.api.data("Me", token=source.users[0].token)["me"]["id"] == source.users[0].id


def test_restore_refuses_a_target_holding_data_and_leaves_it_unchanged(source: Source, backup_dir: Path) -> None:
    # The source itself: it differs from its backup by the upload in progress it reserves bytes for.
    premium = source.users[1]
    token = sign_in(source.api, premium.email)
    stats, documents = source.deployment.stats()["counters"], listing(source.api, token)
    usage = source.api.usage(User(token, premium.id, premium.email))

    done = source.deployment.run("restore", str(backup_dir))

    assert done.returncode == 1
    assert "already holds accounts or documents" in done.stderr
    assert source.deployment.stats()["counters"] == stats
    assert listing(source.api, token) == documents
    assert source.api.usage(User(token, premium.id, premium.email)) == usage
    assert usage["reservedBytes"] == 5000


def test_a_tampered_backup_is_refused_before_anything_is_written(
    backup_dir: Path, restored: tuple[Deployment, Api], tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(backup_dir, tampered)
    victim = next(path for path in (tampered / "objects").rglob("original"))
    content = bytearray(victim.read_bytes())
    content[-1] ^= 1
    victim.write_bytes(bytes(content))
    fresh = Deployment(tmp_path / "fresh")
    deployment, _ = restored
    stats = deployment.stats()["counters"]

    into_fresh = fresh.run("restore", str(tampered))
    forced = deployment.run("restore", str(tampered), "--force")

    for done in (into_fresh, forced):
        assert done.returncode == 1
        assert "does not match its checksum in the manifest" in done.stderr
    assert not fresh.data_dir.exists()
    assert deployment.stats()["counters"] == stats


def test_a_backup_into_a_folder_holding_files_is_refused(source: Source, tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")

    done = source.deployment.run("backup", str(occupied))

    assert done.returncode == 1
    assert "already exists and is not empty" in done.stderr
    assert [path.name for path in occupied.iterdir()] == ["keep.txt"]
    assert (occupied / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "occupied.partial").exists()


def test_a_folder_without_a_manifest_is_not_restored(source: Source, tmp_path: Path) -> None:
    stats = source.deployment.stats()["counters"]

    done = source.deployment.run("restore", str(tmp_path), "--force")

    assert done.returncode == 1
    assert "holds no backup" in done.stderr
    assert source.deployment.stats()["counters"] == stats


def test_restore_into_a_folder_with_no_server_is_there_once_one_starts(
    source: Source, backup_dir: Path, tmp_path: Path
) -> None:
    deployment = Deployment(tmp_path / "data")

    done = deployment.run("restore", str(backup_dir))
    assert done.returncode == 0, done.stderr
    api = deployment.serve()
    try:
        token = sign_in(api, source.users[1].email)
        before = sign_in(source.api, source.users[1].email)

        assert listing(api, token) == listing(source.api, before)
        assert hits(api, token, "zebra") == hits(source.api, before, "zebra")
    finally:
        deployment.stop()


# -- consistency, on tables of the test's own in the session's AWS --------------------------------


class MovingCounters:
    """The session's object store, with an account signed up (and counted) while the backup copies
    the objects: the change a backup must not take half of."""

    def __init__(self, store: Any, times: int) -> None:
        self.store = store
        self.times = times

    def copy_out(self, key: str, path: Path) -> Any:
        if self.times:
            self.times -= 1
            email = f"moving-{uuid.uuid4().hex[:12]}@example.com"
            account = accounts.create(email=email, password_hash="x", plan="FREE", home_region="us-west-2")
            accounts.count_new(account.id)
        return self.store.copy_out(key, path)


class RetaggedDuringCopy:
    """The session's object store, where the document is retagged while the backup copies its
    object: a change of the feed that moves no account and no counter."""

    def __init__(self, store: Any, document: Any) -> None:
        self.store = store
        self.document = document
        self.retagged = False

    def copy_out(self, key: str, path: Path) -> Any:
        if not self.retagged:
            self.retagged = True
            documents.update_details(
                self.document.owner_id, self.document.document_id, name=None, tags=["moved"], description=None
            )
        return self.store.copy_out(key, path)


@pytest.fixture
def uploaded(store: Any, own_tables: str) -> Any:
    """A document with its object in this test's own tables (``own_tables``: nothing else moves
    their counters), so a backup has an object to copy."""
    owner = accounts.create(
        email=f"moving-{uuid.uuid4().hex[:12]}@example.com", password_hash="x", plan="FREE", home_region="us-west-2"
    )
    return stored(store, owner, b"moving\n", "text/plain", name="moving.txt")


def test_a_backup_that_saw_a_change_of_the_feed_starts_again(settings, store, uploaded, tmp_path: Path) -> None:
    manifest = back_up(settings, RetaggedDuringCopy(store, uploaded), tmp_path / "out", attempts=3)

    assert manifest["attempts"] == 2
    lines = (tmp_path / "out" / "tables" / "changes.jsonl").read_text().splitlines()
    rows = sorted((int(row["sequence"]["N"]), row.get("kind", {}).get("S")) for row in map(json.loads, lines))
    assert rows == [(0, None), (1, "CREATED"), (2, "UPDATED")]
    (document,) = map(json.loads, (tmp_path / "out" / "tables" / "documents.jsonl").read_text().splitlines())
    assert document["tags"] == {"L": [{"S": "moved"}]}


def test_a_backup_that_saw_counters_move_starts_again(settings, store, uploaded, tmp_path: Path) -> None:
    accounts_before = counters.read(counters.ALL)[2]

    manifest = back_up(settings, MovingCounters(store, times=1), tmp_path / "out", attempts=3)

    assert manifest["attempts"] == 2
    assert counters.read(counters.ALL)[2] == accounts_before + 1
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["attempts"] == 2


def test_a_backup_that_keeps_seeing_changes_refuses_and_leaves_no_folder(
    settings, store, uploaded, tmp_path: Path
) -> None:
    with pytest.raises(Unsettled, match="changed during each of 2 attempts"):
        # A change at every copy: a fixed few would all be spent in the first attempt once the
        # session's AWS holds that many objects, and the second would see nothing move.
        back_up(settings, MovingCounters(store, times=1_000_000), tmp_path / "out", attempts=2)

    assert list(tmp_path.iterdir()) == []


def test_restored_paths_are_held_as_before(source: Source, restored: tuple[Deployment, Api]) -> None:
    """A backup keeps no path claims: the restore claims each restored path again."""
    _, api = restored
    free = source.users[0]
    user = User(sign_in(api, free.email), free.id, free.email)
    report = next(node for node in listing(api, user.token) if node["path"] == "/report.pdf")

    form = api.request_upload(user, filename="report.pdf", contentType="application/pdf", size=10)
    moved = api.data("MoveDocument", {"input": {"documentId": report["id"], "path": "/NOTES.txt"}}, user.token)

    assert api.data("Document", {"id": form["documentId"]}, user.token)["document"]["path"] == "/report (1).pdf"
    assert moved["moveDocument"]["__typename"] == "PathTakenError"


# -- versions and the change feed ---------------------------------------------------------------


def versions_of(api: Api, token: str, document_id: str) -> list[dict[str, Any]]:
    """The document's versions, newest first, without their download links (signed for their host)."""
    document = api.data("DocumentVersions", {"id": document_id}, token)["document"]
    return [{k: v for k, v in edge["node"].items() if k != "downloadUrl"} for edge in document["versions"]["edges"]]


def test_versions_and_the_change_feed_are_restored_as_they_were(
    source: Source, restored: tuple[Deployment, Api]
) -> None:
    _, api = restored
    free = source.users[0]
    before, after = sign_in(source.api, free.email), sign_in(api, free.email)
    document = api.data("DocumentVersions", {"id": source.versioned}, after)["document"]

    assert [edge["node"]["version"] for edge in document["versions"]["edges"]] == [3, 2, 1]
    assert versions_of(api, after, source.versioned) == versions_of(source.api, before, source.versioned)
    assert {
        edge["node"]["version"]: plain_http.get(edge["node"]["downloadUrl"], timeout=30).content
        for edge in document["versions"]["edges"]
    } == source.versions
    feed = api.data("Changes", {"first": 100}, after)["changes"]
    assert feed == source.api.data("Changes", {"first": 100}, before)["changes"]
    assert [edge["node"]["sequence"] for edge in feed["edges"]] == list(range(1, 11))
    assert [edge["node"]["kind"] for edge in feed["edges"]][-4:] == ["NEW_VERSION", "NEW_VERSION", "MOVED", "UPDATED"]
    # A cursor a client kept from the source goes on from where it was on the restored deployment.
    cursor = feed["edges"][5]["cursor"]
    rest = api.data("Changes", {"after": cursor}, after)["changes"]
    assert [edge["node"]["sequence"] for edge in rest["edges"]] == [7, 8, 9, 10]


def test_share_links_are_restored_and_answer_as_before(source: Source, restored: tuple[Deployment, Api]) -> None:
    _, api = restored
    free = source.users[0]
    token = sign_in(api, free.email)

    links = api.data("DocumentShareLinks", {"id": source.versioned}, token)["document"]["shareLinks"]

    moved = [link["url"].replace(source.deployment.url, api.base_url) for link in source.links]
    assert [link["url"] for link in links] == moved
    assert [(link["downloads"], link["hasPassword"], link["version"], link["active"]) for link in links] == [
        (1, False, None, True),
        (0, True, 1, True),
        (0, False, None, False),
    ]
    assert plain_http.get(moved[2]).status_code == 410
    pinned = plain_http.post(moved[1], data={"password": "pin"})
    assert pinned.status_code == 303
    assert plain_http.get(pinned.headers["location"]).content == source.versions[1]
    # The document holds two live links, as in the source (at most 3 in these deployments): a
    # third is allowed, a fourth refused.
    third = api.data("CreateShareLink", {"input": {"documentId": source.versioned}}, token)["createShareLink"]
    fourth = api.data("CreateShareLink", {"input": {"documentId": source.versioned}}, token)["createShareLink"]
    assert (third["__typename"], fourth["__typename"]) == ("ShareLink", "ValidationError")


def test_shares_are_restored_and_give_the_same_access(source: Source, restored: tuple[Deployment, Api]) -> None:
    _, api = restored
    free, premium = source.users
    owner_token, grantee_token = sign_in(api, free.email), sign_in(api, premium.email)

    shares = api.data("DocumentShares", {"id": source.versioned}, owner_token)["document"]["shares"]
    shared = api.data("SharedWithMe", {"first": 10}, grantee_token)["sharedWithMe"]["edges"]

    assert shares == [{key: value for key, value in source.share.items() if key != "__typename"}]
    assert [(edge["node"]["id"], edge["node"]["access"], edge["share"]["id"]) for edge in shared] == [
        (source.versioned, "EDITOR", source.share["id"])
    ]
    read = api.data("Document", {"id": source.versioned}, grantee_token)["document"]
    assert plain_http.get(read["downloadUrl"]).content == source.versions[3]


def test_usage_counts_exactly_the_versions_restored(source: Source, restored: tuple[Deployment, Api]) -> None:
    """Last in the module: it changes the restored deployment (a restore, then a delete)."""
    _, api = restored
    free = source.users[0]
    user = User(sign_in(api, free.email), free.id, free.email)
    every_version = sum(len(content) for content in source.versions.values())
    mine = {node["id"] for node in listing(api, user.token)} & set(source.uploaded) - {source.versioned}
    others = sum(len(source.uploaded[key]) for key in mine)
    usage = api.usage(user)
    assert usage["usedBytes"] == others + every_version

    restored_version = api.data(
        "RestoreVersion", {"input": {"documentId": source.versioned, "version": 1}}, user.token
    )["restoreVersion"]

    assert (restored_version["__typename"], restored_version["version"]) == ("Document", 4)
    current = api.settled(user, source.versioned)
    assert plain_http.get(current["downloadUrl"], timeout=30).content == source.versions[1]
    assert api.usage(user)["usedBytes"] == others + every_version + len(source.versions[1])
    feed = api.data("Changes", {"first": 100}, user.token)["changes"]["edges"]
    assert [(edge["node"]["sequence"], edge["node"]["kind"], edge["node"]["version"]) for edge in feed[-1:]] == [
        (11, "RESTORED", 4)
    ]

    deleted = api.data("DeleteDocument", {"input": {"id": source.versioned}}, user.token)["deleteDocument"]

    # Every version the backup held is freed, and nothing more: usage is what the other documents hold.
    assert deleted["freedBytes"] == every_version + len(source.versions[1])
    assert api.usage(user) == {**usage, "usedBytes": others, "documentCount": usage["documentCount"] - 1}
