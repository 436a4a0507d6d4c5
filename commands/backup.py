"""``docstore backup DIR``: a consistent export of a deployment into a folder.

What a backup holds: the accounts (with their email claims), the documents with their earlier
versions, their share links and their shares with other accounts, the change feed, the dashboard
counters, and every object a document record or a version names (each version's original, the
extracted text, the current version's thumbnails: kept, with their ``Cache-Control``, rather than
made again, so a restored document shows them at once; an earlier version's thumbnails are not kept,
and a restore of that version makes them again). Not sessions (everyone signs in again after a
restore), not the idempotency records, the queue messages or those waiting in the outbox (they
belong to the source's queues; a restore sends again what the restored tables need: documents still
PROCESSING, accounts not counted yet), not the search index (derived: a restore rebuilds it).

Uploads in progress are left out: a PENDING_UPLOAD document is not backed up, and every account is
written with no bytes reserved (``reserved_bytes`` 0, ``allocated_bytes`` = ``used_bytes``). Its
upload form was signed for the source's bucket and expires within minutes, so it could never
complete against the restored deployment anyway.

Consistent, here, means the sums agree with what they sum: each account's usage and counted
totals and the dashboard counters describe exactly the documents and versions in the backup (every
kept version counts in its account's usage), and each account's change feed holds exactly the
changes the backed-up documents went through. DynamoDB has no snapshot across tables, so the
backup reads everything with ``ConsistentRead`` and then checks that nothing those depend on moved
meanwhile: the counters (every count, delete, plan change and new account moves one, as
``docstore stats --recount`` relies on), the accounts (every completed upload, new version,
restore, quota change and plan change writes one) and the change feed's head of each account
(every change a sync client hears of moves it: a rename and a move too) are read again at the end
and must be exactly as they were at the start. The feed is read first, then the documents, then
their versions, so a change in the feed is in the documents read after it. If anything moved, the
export starts again, up to ``DOCSTORE_BACKUP_ATTEMPTS`` times, and then refuses. Writes outside the
feed and the sums (processing that finished) may land either side of the export, document by
document, as in any table export.

The folder (format version 4)::

    manifest.json            version, time, source, counts, sha256 and size of every file
    tables/<table>.jsonl     one item a line in DynamoDB's typed JSON
    objects/<key>            each object's bytes under its S3 key

It is written as ``DIR.partial`` and renamed to ``DIR`` only once complete, so an interrupted
backup never leaves a folder that looks like a backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from adapters import local_aws
from domain.documents import STORED, DocumentStatus
from models import changes, counters, snapshot
from models import keys as object_keys

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from typing import TypeAlias

    from adapters.s3 import ObjectStore
    from runtime.services import Services
    from settings import Settings

    #: Opens the deployment a command works on (None, said on stderr, when it cannot) and closes it.
    Connect: TypeAlias = Callable[[], AbstractContextManager[Services | None]]

FORMAT = "docstore-backup"
VERSION = 4
#: The versions a restore reads: a version 1 backup holds no earlier versions and no change feed,
#: a version 2 backup no share links, a version 3 backup no shares with other accounts.
READABLE = (1, 2, 3, 4)
MANIFEST = "manifest.json"
TABLES_DIR = "tables"
OBJECTS_DIR = "objects"
#: The document attributes that name S3 objects: a backup copies these, and only these.
OBJECT_ATTRIBUTES = ("object_key", "text_key", "thumbnail_hash")


class Unsettled(RuntimeError):
    """The accounts, counters or change feed kept changing while the backup read them."""


@dataclass
class Export:
    """One attempt's findings, for the manifest."""

    counts: dict[str, int] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    object_bytes: int = 0
    pending_left_out: int = 0
    deleted_meanwhile: int = 0
    missing_objects: list[str] = field(default_factory=list)


def refusal(directory: Path) -> str | None:
    """Why ``directory`` cannot receive a backup, or None."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        return f"{directory} already exists and is not empty: choose a new folder"
    return None


def run(settings: Settings, directory: Path, connect: Connect) -> int:
    """Back the deployment up into ``directory``; 1 with a message on stderr when refused."""
    problem = refusal(directory)
    no_server = settings.embedded and local_aws.running_endpoint(settings.data_dir) is None
    if problem is None and no_server and not settings.data_dir.is_dir():
        problem = f"there is no data folder at {settings.data_dir}"
    if problem is not None:
        print(f"docstore: {problem}", file=sys.stderr)
        return 1
    with connect() as services:
        if services is None:
            return 1
        try:
            manifest = back_up(settings, services.objects, directory, attempts=settings.backup_attempts)
        except Unsettled as error:
            print(f"docstore: {error}", file=sys.stderr)
            return 1
    counts = manifest["counts"]
    print(
        f"backed up to {directory}: {counts['accounts']} accounts, {counts['documents']} documents "
        f"({counts['versions']} earlier versions), {counts['changes']} change-feed rows, "
        f"{counts['objects']} objects ({counts['object_bytes']:,} bytes), {counts['counters']} counters"
    )
    left_out = manifest["left_out"]
    if left_out["pending_uploads"]:
        print(f"left out {left_out['pending_uploads']} uploads in progress (no bytes stay reserved for them)")
    if manifest["missing_objects"]:
        print(
            f"docstore: {len(manifest['missing_objects'])} objects named by documents were missing at the source; "
            "the manifest lists them under missing_objects",
            file=sys.stderr,
        )
    return 0


def back_up(settings: Settings, objects: ObjectStore, directory: Path, *, attempts: int) -> dict[str, Any]:
    """Export into ``directory`` (through ``DIR.partial``); the manifest written.
    :class:`Unsettled` when every one of ``attempts`` saw accounts or counters move."""
    partial = directory.with_name(directory.name + ".partial")
    for attempt in range(1, attempts + 1):
        if partial.exists():
            shutil.rmtree(partial)  # a leftover of an interrupted backup, or of the last attempt
        (partial / TABLES_DIR).mkdir(parents=True)
        (partial / OBJECTS_DIR).mkdir()
        export = _export(partial, objects)
        if export is not None:
            break
        print(
            f"accounts, counters or the change feed changed during attempt {attempt} of {attempts}; starting again",
            file=sys.stderr,
        )
    else:
        shutil.rmtree(partial, ignore_errors=True)
        raise Unsettled(
            f"accounts, counters or the change feed changed during each of {attempts} attempts: back up when the "
            "deployment is quieter, or stop its API first (DOCSTORE_BACKUP_ATTEMPTS sets how often to try)"
        )
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "source": {
            "region": settings.region,
            "aws_mode": settings.aws_mode,
            "table_prefix": settings.table_prefix,
            "bucket": settings.bucket,
        },
        "attempts": attempt,
        "counts": {**export.counts, "objects": len(export.objects), "object_bytes": export.object_bytes},
        "left_out": {"pending_uploads": export.pending_left_out, "deleted_during_backup": export.deleted_meanwhile},
        "missing_objects": export.missing_objects,
        "objects": export.objects,
        "files": _checksums(partial),
    }
    _write_json(partial / MANIFEST, manifest)
    if directory.exists():
        directory.rmdir()  # refusal() let it through: it is empty
    os.replace(partial, directory)
    _sync_dir(directory.parent)
    return manifest


def _export(partial: Path, objects: ObjectStore) -> Export | None:
    """One attempt; None when accounts, counters or the change feed moved meanwhile."""
    export = Export()
    started = [snapshot.to_json(item) for item in snapshot.scan("counters")]
    estimate = counters.read(counters.ALL)
    # First, so that every change it holds is in the documents read after it; each account's head
    # is read again at the end, and a change recorded since (a rename too) starts the export again.
    heads = _export_changes(partial, export)
    accounts: dict[str, str] = {}
    with _lines(partial, "accounts") as out, _bar("accounts", estimate[2]) as bar:
        for item in snapshot.scan("accounts"):
            line = _dumps(_unreserved(snapshot.to_json(item)))
            accounts[item["id"]["S"]] = line
            out.write(line + "\n")
            bar.update()
    export.counts["accounts"] = len(accounts)
    export.counts["emails"] = _copy_table(partial, "emails", None)
    stored: set[tuple[str, str]] = set()
    with _lines(partial, "documents") as out, _bar("documents", estimate[0]) as bar:
        for item in snapshot.scan("documents"):
            bar.update()
            if item["status"]["S"] == DocumentStatus.PENDING_UPLOAD:
                export.pending_left_out += 1
                continue
            kept = _with_objects(partial, objects, item, export)
            if kept is None:
                export.deleted_meanwhile += 1
                continue
            out.write(_dumps(snapshot.to_json(kept)) + "\n")
            stored.add((kept["owner_id"]["S"], kept["document_id"]["S"]))
            bar.set_postfix(bytes=f"{export.object_bytes:,}", refresh=False)
    export.counts["documents"] = len(stored)
    _export_versions(partial, objects, stored, export)
    _export_of_documents(partial, "share_links", stored, export)
    _export_of_documents(partial, "shares", stored, export)
    ended = [snapshot.to_json(item) for item in snapshot.scan("counters")]
    now = {item["id"]["S"]: _dumps(_unreserved(snapshot.to_json(item))) for item in snapshot.scan("accounts")}
    if (
        _canonical(ended) != _canonical(started)
        or now != accounts
        or _heads(sorted(set(accounts) | set(heads))) != heads
    ):
        return None
    with _lines(partial, "counters") as out:
        for counter in started:
            out.write(_dumps(counter) + "\n")
    export.counts["counters"] = len(started)
    return export


def _export_changes(partial: Path, export: Export) -> dict[str, int]:
    """Write the change feed (rows and heads, as kept); each account's head as read."""
    heads: dict[str, int] = {}
    count = 0
    with _lines(partial, "changes") as out, _bar("changes", None) as bar:
        for item in snapshot.scan("changes"):
            if int(item["sequence"]["N"]) == changes.HEAD:
                heads[item["owner_id"]["S"]] = int(item["latest"]["N"])
            out.write(_dumps(snapshot.to_json(item)) + "\n")
            count += 1
            bar.update()
    export.counts["changes"] = count
    return heads


def _heads(account_ids: list[str]) -> dict[str, int]:
    """The accounts' change-feed heads now, by account (those with a feed)."""
    keys = [{"owner_id": {"S": account_id}, "sequence": {"N": str(changes.HEAD)}} for account_id in account_ids]
    return {item["owner_id"]["S"]: int(item["latest"]["N"]) for item in snapshot.get_many("changes", keys)}


def _export_versions(partial: Path, objects: ObjectStore, stored: set[tuple[str, str]], export: Export) -> None:
    """Write the earlier versions of the documents written (each one's bytes count in its
    account's usage, which the backup holds), and copy their objects. A row whose document was
    not written is of a document deleted meanwhile, whose rows go after its record."""
    count = 0
    with _lines(partial, "versions") as out, _bar("versions", None) as bar:
        for item in snapshot.scan("versions"):
            bar.update()
            if (item["owner_id"]["S"], item["document_id"]["S"]) not in stored:
                continue
            key = item["object_key"]["S"]
            if not _copy_object(partial, objects, key, export):
                export.missing_objects.append(key)
            out.write(_dumps(snapshot.to_json(item)) + "\n")
            count += 1
    export.counts["versions"] = count


def _export_of_documents(partial: Path, table: str, stored: set[tuple[str, str]], export: Export) -> None:
    """Write the rows of ``table`` that belong to the documents written: their share links (as
    kept: revoked and expired ones too, their downloads counted, only their tokens' hashes: the
    restored links answer the same URLs as long as the restored deployment has the same
    DOCSTORE_SHARE_SECRET) or their shares with other accounts (whose accounts the backup holds).
    A row whose document was not written is of a document deleted meanwhile, whose rows go after
    its record."""
    count = 0
    with _lines(partial, table) as out:
        for item in snapshot.scan(table):
            if (item["owner_id"]["S"], item["document_id"]["S"]) in stored:
                out.write(_dumps(snapshot.to_json(item)) + "\n")
                count += 1
    export.counts[table] = count


def _with_objects(partial: Path, objects: ObjectStore, item: dict[str, Any], export: Export) -> dict[str, Any] | None:
    """Copy the objects ``item`` names; the record to keep (fresh if it changed), or None when
    the document was deleted meanwhile (its record goes before its objects)."""
    for fresh_read in (False, True):
        missing = [key for key in _keys(item) if not _copy_object(partial, objects, key, export)]
        if not missing:
            return item
        if fresh_read:
            export.missing_objects.extend(missing)
            return item
        reread = snapshot.get("documents", {name: item[name] for name in ("owner_id", "document_id")})
        if reread is None:
            for key in _keys(item):  # what was copied of it before it went
                if export.objects.pop(key, None) is not None:
                    copied = object_path(partial, key)
                    export.object_bytes -= copied.stat().st_size
                    copied.unlink()
            return None
        item = reread
    return item


def _keys(item: dict[str, Any]) -> list[str]:
    keys = []
    if item["status"]["S"] in STORED and "object_key" in item:
        keys.append(item["object_key"]["S"])
    if "text_key" in item:
        keys.append(item["text_key"]["S"])
    if item["status"]["S"] in STORED and "thumbnail_hash" in item:
        owner_id, document_id, content_hash = (
            item[name]["S"] for name in ("owner_id", "document_id", "thumbnail_hash")
        )
        sizes = sorted({int(size["N"]) for size in item.get("thumbnail_sizes", {}).get("L", [])})
        keys += [object_keys.thumbnail(owner_id, document_id, content_hash, size) for size in sizes]
    return keys


def object_path(root: Path, key: str) -> Path:
    """Where an object's bytes live in a backup; a key that would leave ``objects/`` is refused."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"an object key a backup cannot hold as a path: {key!r}")
    return root / OBJECTS_DIR / Path(*parts)


def _copy_object(partial: Path, objects: ObjectStore, key: str, export: Export) -> bool:
    if key in export.objects:
        return True
    path = object_path(partial, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    copy = objects.copy_out(key, path)
    if copy is None:
        return False
    export.objects[key] = {"content_type": copy.content_type, "metadata": copy.metadata}
    if copy.cache_control:
        export.objects[key]["cache_control"] = copy.cache_control
    export.object_bytes += copy.size
    return True


def _unreserved(account: dict[str, Any]) -> dict[str, Any]:
    """The account without reservations: the uploads they were for are not in the backup."""
    used = account.get("used_bytes", {"N": "0"})
    return {**account, "reserved_bytes": {"N": "0"}, "allocated_bytes": dict(used)}


def _copy_table(partial: Path, name: str, total: int | None) -> int:
    count = 0
    with _lines(partial, name) as out, _bar(name, total) as bar:
        for item in snapshot.scan(name):
            out.write(_dumps(snapshot.to_json(item)) + "\n")
            count += 1
            bar.update()
    return count


def _lines(partial: Path, table: str) -> Any:
    return (partial / TABLES_DIR / f"{table}.jsonl").open("w", encoding="utf-8")


def _bar(description: str, total: int | None) -> tqdm[Any]:
    return tqdm(total=total or None, desc=description, unit=" items", file=sys.stderr, disable=None)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _canonical(items: list[dict[str, Any]]) -> list[str]:
    return sorted(_dumps(item) for item in items)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksums(root: Path) -> dict[str, dict[str, Any]]:
    files = sorted(path for path in root.rglob("*") if path.is_file())
    with tqdm(total=len(files), desc="checksums", unit=" files", file=sys.stderr, disable=None, leave=False) as bar:
        sums = {}
        for path in files:
            sums[path.relative_to(root).as_posix()] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}
            bar.update()
    return sums


def _write_json(path: Path, value: Any) -> None:
    with path.open("w", encoding="utf-8") as file:
        json.dump(value, file, indent=2, sort_keys=True, ensure_ascii=False)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())


def _sync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
