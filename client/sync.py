"""``docstore sync DIR``: a two-way sync of a folder with the account's documents under a prefix,
through the public API alone (any client could do the same).

Each path is decided three ways: the folder now, the server now, and both as last synced (the
state file, ``client/sync_state.py``). The server's side of every path comes from one
``compareChecksums`` of the whole prefix (the document at each path, its version and content hash);
the local side from the files' content hashes (a file whose size and time are those of the last
sync is not read again). Then, for each path:

- changed here only: uploaded (a new file ADD, a changed one UPDATE with ``ifVersion`` the version
  last synced, so a version made meanwhile on the server is found, not overwritten), or deleted on
  the server;
- changed on the server only: downloaded (checked against its content hash, then renamed into
  place), or deleted here (unless the server rejected it: then it stays, and is not sent again);
- changed on both sides: the same bytes are simply recorded; different bytes are a conflict, and
  both are kept: the local file becomes ``name (conflicted copy YYYY-MM-DD).ext`` (uploaded as a new
  document) and the server's bytes are downloaded to the path. A file deleted on one side and
  changed on the other is kept, changed.

A pass that did something is followed by another (what a conflict renamed is uploaded, what the
server changed meanwhile is seen), until a pass finds nothing to do; its change-feed cursor
(``latestChangeCursor``, taken before its comparison) is kept. The next run first asks the feed
whether anything changed since (``changes(after:)``) and looks at the files' sizes and times: when
nothing did, it is done without a comparison.

Interrupted anywhere, the next run finishes the job: every upload is recorded in the state file
before its first byte goes out, and the next run asks the server about it first. One the server
completed (the run stopped before it wrote that down) is recorded as synced, never sent again;
otherwise a multipart upload is resumed (``uploadedParts``: only the missing parts are sent), a
single POST is cancelled and sent again. Downloads go to a temporary file in DIR, renamed over the
path only when whole and checked; a download or a conflict's rename the state does not record yet
is found the next run as the same bytes on both sides, and recorded.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import httpx

from client import parts, sync_state
from client.api import ClientError, Refused
from client.sync_state import Refusal, State, Synced, Upload
from client.uploads import byte_bar, content_type, post_form
from domain import content_hash

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from client.api import Api

MIB = 1024 * 1024
#: A single POST takes at most this much (S3's limit): larger files always go in parts.
POST_MAX_BYTES = 5 * 1024**3
#: Passes one run makes at most before leaving the rest to the next run.
MAX_PASSES = 8
#: Bytes read from S3 at a time while downloading.
DOWNLOAD_CHUNK = MIB
#: Seconds S3 may take to answer a read or write.
S3_TIMEOUT_SECONDS = 120.0
#: Why a completion in mode UPDATE is rejected when the document changed since it was read.
CHANGED_MEANWHILE = frozenset({"VERSION_CONFLICT", "DOCUMENT_CHANGED"})
#: An upload's statuses while none of its bytes are a stored document: still waiting for them, or refused.
NOT_STORED = frozenset({"PENDING_UPLOAD", "REJECTED"})


@dataclass(frozen=True)
class Options:
    """What ``docstore sync`` was asked for."""

    prefix: str = "/"
    #: Files larger than this go as a multipart upload, in the parts the server sizes.
    multipart_threshold: int = 64 * MIB
    #: Parts sent at once.
    parallel: int = 4
    #: Seconds a run waits for documents the server is still processing (their hash unknown yet).
    wait_seconds: float = 30.0


@dataclass
class Report:
    """What a run did, path by path (paths relative to DIR)."""

    uploaded: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    deleted_here: list[str] = field(default_factory=list)
    deleted_there: list[str] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Remote:
    """The account's document at a path, as the comparison answered it."""

    rel: str
    id: str
    status: str
    version: int
    hash: str | None
    url: str | None


@dataclass(frozen=True)
class Stat:
    size: int
    mtime: int


class Changed(Exception):
    """A path changed while it was being synced: left to the next pass."""


def key(path: str) -> str:
    """The form the server compares paths in: case-folded, NFC."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def conflicted_name(rel: str, day: datetime.date, taken: Callable[[str], bool]) -> str:
    """``folder/name (conflicted copy YYYY-MM-DD).ext``, numbered from 2 when that is taken."""
    path = PurePosixPath(rel)
    suffix = "".join(path.suffixes[-1:])
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    number = 1
    while True:
        tail = f" {number}" if number > 1 else ""
        candidate = str(path.with_name(f"{stem} (conflicted copy {day.isoformat()}{tail}){suffix}"))
        if not taken(candidate):
            return candidate
        number += 1


class Sync:
    """One run of ``docstore sync`` of ``root`` with the account ``api`` is signed in to."""

    def __init__(
        self,
        api: Api,
        root: Path,
        options: Options,
        *,
        s3: httpx.Client | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.api = api
        self.root = root
        self.options = options
        self.prefix = "/" + options.prefix.strip("/") if options.prefix.strip("/") else "/"
        self.s3 = s3 or httpx.Client(timeout=S3_TIMEOUT_SECONDS)
        self.say = say
        self.report = Report()
        self.state: State
        self.scanned: dict[str, Stat] = {}
        self.hashes: dict[str, str] = {}
        self.skipped: set[str] = set()  # keys: paths left alone this run (unreadable, empty, refused)
        self.failed: set[str] = set()  # keys: paths that failed this run, not tried again in it

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> Report:
        if not self.root.is_dir():
            raise ClientError(f"{self.root} is not a folder: nothing was synced.")
        account = self.api.call("Me")["me"]["id"]
        with sync_state.locked(self.root):
            sync_state.clear_leftovers(self.root)
            self.state = sync_state.load(self.root, account, self.prefix)
            self._scan()
            if self._quiet():
                return self.report
            self._resume_uploads()
            deadline = time.monotonic() + self.options.wait_seconds
            for _ in range(MAX_PASSES):
                cursor = self.api.call("LatestChangeCursor")["latestChangeCursor"]
                acted, waiting = self._pass()
                self.report.waiting = waiting
                if acted:
                    self._scan()
                    continue
                if waiting and time.monotonic() < deadline:
                    time.sleep(1)
                    continue
                self.state.cursor = cursor
                self.state.dirty = bool(waiting or self.failed or self.skipped)
                break
            else:
                self.state.dirty = True
            self._save()
        return self.report

    def _quiet(self) -> bool:
        """Whether nothing changed since the last complete sync: no file changed by size or time,
        and the change feed has nothing after the kept cursor."""
        state = self.state
        if state.cursor is None or state.dirty or state.uploads:
            return False
        for rel, stat in self.scanned.items():
            synced = state.files.get(rel) or state.refused.get(rel)
            if synced is None or (synced.size, synced.mtime) != (stat.size, stat.mtime):
                return False
        if any(rel not in self.scanned for rel in state.files):
            return False
        try:
            page = self.api.call("Changes", {"after": state.cursor, "first": 1})["changes"]
        except Refused:  # a cursor this API did not give this account (BAD_USER_INPUT): compare everything
            return False
        if page["__typename"] != "ChangeConnection":  # CursorExpiredError: the feed no longer goes back that far
            return False
        for rel, refusal in state.refused.items():
            self.say(f"{rel}: skipped, refused by the server before ({refusal.reason}); change it to try again.")
        return not page["edges"]

    # -- the local side ------------------------------------------------------------------------------

    def _scan(self) -> None:
        """Every regular file under DIR but the client's own, with its size and time; each file's
        content hash (from the state when its size and time are the last sync's)."""
        self.scanned = {}
        unreadable: list[str] = []

        def refused(error: OSError) -> None:
            unreadable.append(f"cannot read the folder {error.filename}: {error.strerror}")

        for folder, folders, names in os.walk(self.root, onerror=refused):
            folders[:] = sorted(name for name in folders if not sync_state.is_ours(name))
            for name in sorted(names):
                if sync_state.is_ours(name):
                    continue
                full = Path(folder, name)
                try:
                    info = full.lstat()
                except OSError:
                    continue  # gone since listed
                if not full.is_file() or full.is_symlink():
                    continue
                rel = full.relative_to(self.root).as_posix()
                self.scanned[rel] = Stat(info.st_size, info.st_mtime_ns)
        for problem in unreadable:
            self._problem(None, problem)
        self.hashes = {}
        seen: dict[str, str] = {}
        for rel, stat in self.scanned.items():
            if key(rel) in seen:
                self._skip(rel, f"its name differs from {seen[key(rel)]} only in case; DocStore's paths ignore case")
                continue
            seen[key(rel)] = rel
            if stat.size == 0:
                self._skip(rel, "it is empty; DocStore keeps files of at least 1 byte", quiet=True)
                continue
            known = self.state.files.get(rel) or self.state.uploads.get(rel)
            if known is not None and (known.size, known.mtime) == (stat.size, stat.mtime):
                self.hashes[rel] = known.hash
                continue
            try:
                with (self.root / rel).open("rb") as file:
                    self.hashes[rel] = content_hash.of_stream(file)
            except OSError as error:
                self._skip(rel, f"cannot read it: {error.strerror}")

    def _skip(self, rel: str, reason: str, *, quiet: bool = False) -> None:
        if key(rel) not in self.skipped:
            self.skipped.add(key(rel))
            if not quiet:
                self._problem(rel, f"left alone, {reason}.")

    def _problem(self, rel: str | None, text: str) -> None:
        line = f"{rel}: {text}" if rel else text
        self.report.problems.append(line)
        print(f"docstore: {line}", file=sys.stderr)

    def _unchanged(self, rel: str) -> bool:
        """Whether the file at ``rel`` is as the scan found it (or still absent)."""
        try:
            info = (self.root / rel).lstat()
        except FileNotFoundError:
            return rel not in self.scanned
        return self.scanned.get(rel) == Stat(info.st_size, info.st_mtime_ns)

    # -- the server side ---------------------------------------------------------------------------

    def server_path(self, rel: str) -> str:
        return ("" if self.prefix == "/" else self.prefix) + "/" + rel

    def rel_of(self, path: str) -> str | None:
        """A server path's place under DIR; None when it is not under the prefix."""
        base = "" if self.prefix == "/" else self.prefix
        if not key(path).startswith(key(base) + "/"):
            return None
        return path[len(base) + 1 :]

    def _compare(self) -> dict[str, Remote]:
        """The account's documents under the prefix, by key: one ``compareChecksums``. Files whose
        path the server refuses are left alone (said once) and the rest compared again."""
        listed = [rel for rel in self.hashes if key(rel) not in self.skipped]
        for _ in range(3):
            files = [{"path": self.server_path(rel), "contentHash": self.hashes[rel]} for rel in listed]
            try:
                answers = self.api.call("SyncCompare", {"input": {"files": files, "pathPrefix": self.prefix}})
                break
            except Refused as refusal:
                if refusal.code != "BAD_USER_INPUT":
                    raise
                refused = self._refused_paths(refusal, listed)
                listed = [rel for index, rel in enumerate(listed) if index not in refused]
        else:
            raise ClientError("The server kept refusing the comparison of this folder.")
        remote: dict[str, Remote] = {}
        for answer in answers["compareChecksums"]:
            document = answer["document"]
            rel = self.rel_of(document["path"]) if document else None
            if document is None or rel is None:
                continue
            remote[key(rel)] = Remote(
                rel=rel,
                id=document["id"],
                status=document["status"],
                version=document["version"],
                hash=document["contentHash"],
                url=document["downloadUrl"],
            )
        return remote

    def _refused_paths(self, refusal: Refused, listed: list[str]) -> set[int]:
        """The indexes of the files whose path the refusal names; :class:`ClientError` when it
        names anything else (the prefix, too many files)."""
        indexes: set[int] = set()
        for problem in refusal.fields:
            where = str(problem.get("field", "")).split(".")
            if len(where) == 4 and where[:2] == ["input", "files"] and where[2].isdigit() and where[3] == "path":
                index = int(where[2])
                rel = listed[index]
                self._skip(rel, f"the server refuses its path: {problem.get('message')}")
                stat = self.scanned[rel]
                self.state.refused[rel] = Refusal(self.hashes[rel], str(problem.get("message")), stat.size, stat.mtime)
                indexes.add(index)
            else:
                raise ClientError(str(problem.get("message") or refusal))
        if not indexes:
            raise refusal
        return indexes

    # -- one pass ------------------------------------------------------------------------------------

    def _pass(self) -> tuple[bool, list[str]]:
        """Compare, then do what each path needs; whether anything was done, and the paths waiting
        for the server's processing."""
        remote = self._compare()
        for upload in self.state.uploads.values():
            # Our own new document, its upload not complete: not a document of the server's yet.
            for name, document in list(remote.items()):
                if document.id == upload.id and document.status == "PENDING_UPLOAD":
                    del remote[name]
        local = {key(rel): rel for rel in self.hashes if key(rel) not in self.skipped}
        base = {key(rel): rel for rel in self.state.files}
        acted = False
        waiting: list[str] = []
        for name in sorted(set(local) | set(base) | set(remote)):
            if name in self.skipped or name in self.failed:
                continue
            rel = local.get(name) or base.get(name) or remote[name].rel
            try:
                done = self._path(rel, local.get(name), base.get(name), remote.get(name))
            except Changed:
                acted = True  # look again next pass
                continue
            except ClientError as error:
                self.failed.add(name)
                self._problem(rel, str(error))
                continue
            finally:
                self._save()
            if done == "wait":
                waiting.append(rel)
            acted = acted or done == "acted"
        return acted, waiting

    def _path(self, rel: str, here: str | None, synced_rel: str | None, there: Remote | None) -> str:
        """Sync one path; "acted", "wait" or "" (nothing to do)."""
        synced = self.state.files.get(synced_rel) if synced_rel else None
        ours = self.hashes.get(here) if here else None
        local_changed = ours != (synced.hash if synced else None)
        if there is None:
            remote_changed = synced is not None
        else:
            remote_changed = synced is None or (there.id, there.version) != (synced.id, synced.version)
        if here and synced_rel and here != synced_rel:  # renamed in case only: treat as the same path
            self.state.files[here] = self.state.files.pop(synced_rel)
            synced_rel = here
        refusal = self.state.refused.get(rel)
        if here and refusal is not None:
            if refusal.hash == ours and not remote_changed:
                self.say(f"{rel}: skipped, refused by the server before ({refusal.reason}); change it to try again.")
                return ""
            del self.state.refused[rel]
        if not local_changed and not remote_changed:
            return ""
        if there is not None and there.hash is None and remote_changed:
            return "wait"  # someone's upload, not processed yet: its bytes are not known
        if not remote_changed:  # changed here only
            if here is None:
                assert there is not None
                return self._delete_there(rel, there)
            assert ours is not None
            if there is None:  # also: deleted on the server and changed here, so kept
                return self._upload(here, ours, "ADD", None)
            assert synced is not None
            return self._upload(here, ours, "UPDATE", synced.version)
        if not local_changed:  # changed on the server only
            if there is None:
                if synced_rel:
                    return self._gone(synced_rel)
                return ""
            if here is None or ours != there.hash:
                return self._download(here or there.rel, there)
            return self._record(here, there)
        # changed on both sides
        if there is None:
            if here is None:
                self.state.files.pop(synced_rel or rel, None)
                return ""
            assert ours is not None
            self.state.files.pop(synced_rel or rel, None)
            return self._upload(here, ours, "ADD", None)
        if here is None or ours == there.hash:
            if here is None:
                return self._download(there.rel, there)
            return self._record(here, there)
        return self._conflict(here, there)

    # -- what a path needs ----------------------------------------------------------------------

    def _record(self, rel: str, there: Remote) -> str:
        stat = self.scanned[rel]
        assert there.hash is not None
        self.state.files[rel] = Synced(there.id, there.version, there.hash, stat.size, stat.mtime)
        return ""

    def _delete_there(self, rel: str, there: Remote) -> str:
        """Deleted here: deleted on the server, but only if it is still at the version last synced
        (``deleteDocument``'s ``ifVersion``, checked atomically with the delete). If another client
        added a version meanwhile, nothing is deleted (:class:`Changed`: the next pass downloads it)."""
        variables = {"input": {"id": there.id, "ifVersion": there.version}}
        answer = self.api.call("DeleteDocument", variables)["deleteDocument"]
        if answer["__typename"] == "VersionConflictError":
            raise Changed
        if answer["__typename"] not in {"DeleteDocumentPayload", "NotFoundError"}:
            raise ClientError(answer["message"])
        self.state.files.pop(rel, None)
        self.report.deleted_there.append(rel)
        self.say(f"{rel}: deleted on the server")
        return "acted"

    def _gone(self, rel: str) -> str:
        """The document synced at ``rel`` is no longer there (deleted, moved away or rejected)."""
        synced = self.state.files[rel]
        try:
            document = self.api.call("SyncDocument", {"id": synced.id})["document"]
        except Refused as refusal:
            if refusal.code != "NOT_FOUND":
                raise
            document = None
        if document is not None and document["status"] == "REJECTED":
            reason = document["failureReason"] or "rejected"
            stat = self.scanned[rel]
            self.state.refused[rel] = Refusal(synced.hash, f"rejected: {reason}", stat.size, stat.mtime)
            del self.state.files[rel]
            self._problem(rel, f"kept here: the server rejected it ({reason}).")
            return ""
        if not self._unchanged(rel):
            raise Changed
        (self.root / rel).unlink(missing_ok=True)
        self._prune((self.root / rel).parent)
        del self.state.files[rel]
        self.report.deleted_here.append(rel)
        self.say(f"{rel}: deleted here (deleted on the server)")
        return "acted"

    def _prune(self, folder: Path) -> None:
        """Remove the folders a deletion left empty, up to DIR."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def _conflict(self, rel: str, there: Remote) -> str:
        """Both sides changed: the local file moves aside to its conflicted copy (uploaded next
        pass as a new document), and the server's bytes come to the path."""
        if not self._unchanged(rel):
            raise Changed
        copy = self._conflicted(rel)
        (self.root / rel).rename(self.root / copy)
        self.scanned.pop(rel, None)
        self.report.conflicts.append((rel, copy))
        self.say(f"{rel}: changed on both sides; yours is kept as {copy}")
        self._download(rel, there)
        return "acted"

    def _conflicted(self, rel: str) -> str:
        listed = {key(name) for name in self.scanned} | {key(name) for name in self.state.files}

        def taken(candidate: str) -> bool:
            return key(candidate) in listed or (self.root / candidate).exists()

        return conflicted_name(rel, datetime.datetime.now(datetime.UTC).date(), taken)

    def _download(self, rel: str, there: Remote) -> str:
        """The server's bytes to ``rel``: into a temporary file, checked against the content hash,
        then renamed over the path if the path is still as scanned."""
        if there.url is None or there.hash is None:
            return "wait"
        target = self.root / rel
        descriptor, temporary = tempfile.mkstemp(dir=self.root, prefix=sync_state.DOWNLOADING)
        try:
            hasher = content_hash.ContentHasher()
            with os.fdopen(descriptor, "wb") as file, byte_bar(rel, None) as bar:
                try:
                    with self.s3.stream("GET", there.url) as response:
                        if not response.is_success:
                            raise ClientError(f"S3 answered HTTP {response.status_code} to the download")
                        bar.total = int(response.headers.get("content-length", 0)) or None
                        for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                            hasher.update(chunk)
                            file.write(chunk)
                            bar.update(len(chunk))
                except httpx.HTTPError as error:
                    raise ClientError(f"the download failed: {error}") from None
            if hasher.hexdigest() != there.hash:
                raise Changed  # a new version came meanwhile
            if not self._unchanged(rel):
                raise Changed  # the file changed (or was made) here meanwhile
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        info = target.stat()
        self.state.files[rel] = Synced(there.id, there.version, there.hash, info.st_size, info.st_mtime_ns)
        self.report.downloaded.append(rel)
        self.say(f"{rel}: downloaded")
        return "acted"

    # -- uploads ---------------------------------------------------------------------------------

    def _resume_uploads(self) -> None:
        """Uploads a run left incomplete. The server is asked about each first: one it completed
        before the run stopped (the answer lost, or the state not saved after it) is recorded as
        synced, and neither deleted nor sent again. Of those still waiting for their bytes, a
        single POST is cancelled (the pass sends it again); a multipart upload of a file that
        changed since is aborted, one of the same bytes stays, for the pass to resume. A run
        stopped between asking for a new file's upload and writing down its id left a
        PENDING_UPLOAD document holding the path: it is deleted, or the path would wait for it
        until the sweeper's 24 hours."""
        for rel, upload in list(self.state.uploads.items()):
            document = self._upload_document(upload)
            if document is None:  # nothing to cancel: deleted, or a version upload completed (the pass sees it)
                self.state.uploads.pop(rel, None)
                self._save()
            elif document["status"] not in NOT_STORED:
                self._completed_before(rel, upload, document)
            elif not (
                document["status"] == "PENDING_UPLOAD" and upload.part_size and self.hashes.get(rel) == upload.hash
            ):
                self._cancel(rel, upload)
        for rel in list(self.state.requesting):
            path = self.server_path(rel)
            listed = self.api.call(
                "Documents", {"first": 20, "filter": {"pathPrefix": path, "status": "PENDING_UPLOAD"}}
            )["documents"]["edges"]
            for edge in listed:
                if key(edge["node"]["path"]) == key(path) and edge["node"]["id"] not in self._upload_ids():
                    with contextlib.suppress(ClientError):
                        self.api.call("DeleteDocument", {"input": {"id": edge["node"]["id"]}})
                    self.say(f"{rel}: cancelled the upload a stopped run had started")
            del self.state.requesting[rel]
            self._save()

    def _upload_document(self, upload: Upload) -> dict[str, Any] | None:
        """The upload's record as the server has it now; None when there is none. A version
        upload's record goes when it completes: its version is then the document's."""
        try:
            document: dict[str, Any] = self.api.call("SyncDocument", {"id": upload.id})["document"]
        except Refused as refusal:
            if refusal.code != "NOT_FOUND":
                raise
            return None
        return document

    def _completed_before(self, rel: str, upload: Upload, document: dict[str, Any]) -> None:
        """A new file's upload the server completed before the last run could write it down:
        recorded as synced with the bytes that were sent (a file changed since is then sent as
        an UPDATE of it), at the path where it landed."""
        self.state.uploads.pop(rel, None)
        synced = Synced(document["id"], document["version"], upload.hash, upload.size, upload.mtime)
        landed = self.rel_of(document["path"])
        self.say(f"{rel}: its upload was completed before the last run stopped; recorded")
        if landed is not None and key(landed) == key(rel):
            self.state.files[rel] = synced
        elif landed is not None and rel in self.scanned:
            self._landed_elsewhere(rel, landed, synced)
        # else moved out of the prefix meanwhile, or the file is gone here: the pass decides.
        self._save()

    def _upload_ids(self) -> set[str]:
        return {upload.id for upload in self.state.uploads.values()}

    def _requesting(self, rel: str, ours: str) -> None:
        """Write down that an upload of ``rel`` is being asked for, before asking."""
        self.state.requesting[rel] = ours
        self._save()

    def _requested(self, rel: str, upload: Upload | None) -> None:
        """The request was answered: the upload it started (None: refused, nothing started)."""
        if upload is not None:
            self.state.uploads[rel] = upload
        self.state.requesting.pop(rel, None)
        self._save()

    def _cancel(self, rel: str, upload: Upload) -> None:
        with contextlib.suppress(ClientError):
            self.api.call("DeleteDocument", {"input": {"id": upload.id}})
        self.state.uploads.pop(rel, None)
        self._save()

    def _upload(self, rel: str, ours: str, mode: str, if_version: int | None) -> str:
        """Send the file at ``rel``; record it as synced at the version the server made."""
        if not self._unchanged(rel):
            raise Changed
        stat = self.scanned[rel]
        full = self.root / rel
        pending = self.state.uploads.get(rel)
        if pending is not None and (pending.hash, pending.size) != (ours, stat.size):
            self._cancel(rel, pending)
            pending = None
        request: dict[str, Any] = {
            "filename": full.name,
            "path": self.server_path(rel),
            "contentType": content_type(full),
            "size": stat.size,
            "mode": mode,
            "ifVersion": if_version,
        }
        if pending is not None or stat.size > min(self.options.multipart_threshold, POST_MAX_BYTES):
            upload_id, completed = self._multipart(rel, ours, stat, request, pending)
        else:
            upload_id, completed = self._single(rel, ours, stat, request)
        self.state.uploads.pop(rel, None)
        if completed is None:  # refused before it started (said)
            return ""
        if completed["__typename"] != "Document":
            # A rejected completion released the reservation; deleting the upload forgets its record.
            with contextlib.suppress(ClientError):
                self.api.call("DeleteDocument", {"input": {"id": upload_id}})
            if completed.get("reason") in CHANGED_MEANWHILE:
                raise Changed
            return self._refuse(rel, ours, stat, completed["message"])
        self.state.refused.pop(rel, None)
        synced = Synced(completed["id"], completed["version"], ours, stat.size, stat.mtime)
        landed = self.rel_of(completed["path"])
        self.report.uploaded.append(rel)
        self.say(f"{rel}: uploaded")
        if landed is not None and key(landed) != key(rel):
            return self._landed_elsewhere(rel, landed, synced)
        self.state.files[rel] = synced
        return "acted"

    def _refuse(self, rel: str, ours: str, stat: Stat, reason: str) -> str:
        """The server will not take these bytes at ``rel``: said, and not sent again until changed."""
        self.state.refused[rel] = Refusal(ours, reason, stat.size, stat.mtime)
        self.skipped.add(key(rel))
        self._problem(rel, f"not uploaded: {reason}")
        return ""

    def _started(self, rel: str, answer: dict[str, Any], ours: str, stat: Stat) -> str | None:
        """The upload's id; None when the server refused to start it (said and recorded). Either
        way the server answered, so no trace of the request is needed any more."""
        self.state.requesting.pop(rel, None)
        kind = answer["__typename"]
        if kind == "VersionConflictError":
            raise Changed
        if kind == "QuotaExceededError":
            raise ClientError(answer["message"])
        if kind not in {"UploadForm", "MultipartUpload"}:
            self._refuse(rel, ours, stat, answer["message"])
            return None
        return str(answer["documentId"])

    def _single(self, rel: str, ours: str, stat: Stat, request: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """One POST of the whole file; the upload's id and the completion's answer (None when
        refused before it started). Cancelled when anything fails: the next run sends it again."""
        self._requesting(rel, ours)
        form = self.api.call("RequestUpload", {"input": request})["requestUpload"]
        upload_id = self._started(rel, form, ours, stat)
        self._requested(rel, None if upload_id is None else Upload(upload_id, ours, stat.size, stat.mtime))
        if upload_id is None:
            return "", None
        try:
            with (self.root / rel).open("rb") as file:
                post_form(form, file, rel, request["contentType"], stat.size, self.s3)
        except BaseException:
            self._cancel(rel, self.state.uploads[rel])
            raise
        # Not cancelled should this fail: the server may have completed it before its answer was
        # lost. The upload stays in the state, and the next run asks (``_resume_uploads``).
        completed = self.api.call("SyncCompleteUpload", {"input": {"documentId": upload_id}})
        answer: dict[str, Any] = completed["completeUpload"]
        return upload_id, answer

    def _multipart(
        self, rel: str, ours: str, stat: Stat, request: dict[str, Any], pending: Upload | None
    ) -> tuple[str, dict[str, Any] | None]:
        """The parts S3 lacks, ``parallel`` at a time, then the completion; the upload's id and the
        completion's answer. Recorded before the first part goes: interrupted, it stays, to resume."""
        if pending is not None:
            try:
                parts.held(self.api, pending.id)
            except Refused as refusal:  # completed, aborted or expired since: start again
                if refusal.code != "NOT_FOUND":
                    raise
                self.state.uploads.pop(rel, None)
                self._save()
                pending = None
            else:
                self.say(f"{rel}: resuming its upload")
        if pending is None:
            self._requesting(rel, ours)
            answer = self.api.call("RequestMultipartUpload", {"input": request})["requestMultipartUpload"]
            upload_id = self._started(rel, answer, ours, stat)
            if upload_id is not None:
                pending = Upload(upload_id, ours, stat.size, stat.mtime, part_size=answer["partSize"])
            self._requested(rel, pending)
            if pending is None:
                return "", None
        sent = parts.send(
            self.api,
            pending.id,
            self.root / rel,
            size=stat.size,
            part_size=pending.part_size,
            parallel=self.options.parallel,
            s3=self.s3,
            label=rel,
        )
        completed = self.api.call("SyncCompleteMultipartUpload", {"input": {"documentId": pending.id, "parts": sent}})
        answer = completed["completeMultipartUpload"]
        if answer["__typename"] == "UploadNotFoundError":
            self.state.uploads.pop(rel, None)
            raise Changed
        result: dict[str, Any] = answer
        return pending.id, result

    def _landed_elsewhere(self, rel: str, landed: str, synced: Synced) -> str:
        """A new file's upload (ADD) found the path taken meanwhile, and went to a numbered copy:
        the document moves to this file's conflicted copy, and the file too; the server's document
        at the path is downloaded next pass."""
        copy = self._conflicted(rel)
        moved = self.api.call("MoveDocument", {"input": {"documentId": synced.id, "path": self.server_path(copy)}})
        if moved["moveDocument"]["__typename"] != "Document":
            copy = landed
        if (self.root / copy).exists() or not self._unchanged(rel):
            self.say(f"{rel}: the server had a document at this path already; yours is there as {landed}")
            return "acted"
        (self.root / rel).rename(self.root / copy)
        info = (self.root / copy).stat()
        self.state.files[copy] = Synced(synced.id, synced.version, synced.hash, info.st_size, info.st_mtime_ns)
        self.report.conflicts.append((rel, copy))
        self.say(f"{rel}: made on both sides; yours is kept as {copy}")
        return "acted"

    def _save(self) -> None:
        sync_state.save(self.root, self.state)


def files_under(root: Path) -> Iterator[str]:
    """The paths ``docstore sync`` would sync under ``root`` (for tests and scripts)."""
    for folder, folders, names in os.walk(root):
        folders[:] = sorted(name for name in folders if not sync_state.is_ours(name))
        for name in sorted(names):
            if not sync_state.is_ours(name):
                yield Path(folder, name).relative_to(root).as_posix()
