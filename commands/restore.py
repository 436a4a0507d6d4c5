"""``docstore restore DIR``: load a backup (see commands/backup.py) into an empty deployment.

Every file's checksum is checked against the manifest before anything is written, and a target
holding any account or document is refused unless ``--force`` (which writes over items with the
same keys and leaves the others). Objects go first, then the records that name them, the counters
last. Then the work that was in flight at the source, whose queue messages a backup does not hold,
is sent again: ``upload.completed`` for each PROCESSING document (the pipeline finishes it, every
step a conditional write) and ``account.created`` for each account not counted yet. Last, the
search index is rebuilt from the restored records, as ``docstore reindex`` does: it is derived.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from adapters.messages import AccountCreated, UploadCompleted
from adapters.queue import ACCOUNT_EVENTS, SEARCH_INDEX, UPLOAD_EVENTS
from adapters.s3 import ObjectCopy
from commands.backup import FORMAT, MANIFEST, READABLE, TABLES_DIR, VERSION, object_path, sha256_of
from domain.documents import DocumentStatus
from models import path_backfill, share_links, snapshot
from workers.rebuild import RebuildRunning, rebuild

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from adapters.search.base import IndexedDocument
    from commands.backup import Connect
    from runtime.services import Services
    from settings import Settings

#: The order tables are written in: records after the objects they name, counters last.
ORDER = ("accounts", "emails", "documents", "versions", "changes", "counters", "share_links", "shares")


class BackupInvalid(ValueError):
    """The folder is not a complete, intact backup this version can read."""


def verify(directory: Path) -> dict[str, Any]:
    """The manifest, once every file it lists is present with its size and sha256, and no other
    file is there; :class:`BackupInvalid` otherwise."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        partial = directory.with_name(directory.name + ".partial")
        hint = f" ({partial} is an unfinished one)" if partial.exists() else ""
        raise BackupInvalid(f"{directory} holds no backup: there is no {MANIFEST}{hint}") from None
    except (OSError, ValueError) as error:
        raise BackupInvalid(f"{directory / MANIFEST} cannot be read: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupInvalid(f"{directory} is not a DocStore backup")
    if manifest.get("version") not in READABLE:
        raise BackupInvalid(
            f"{directory} is a version {manifest.get('version')} backup; this DocStore reads versions "
            f"{READABLE[0]} to {VERSION}"
        )
    files: dict[str, dict[str, Any]] = manifest["files"]
    present = {path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file()}
    present.discard(MANIFEST)
    if missing := sorted(set(files) - present):
        raise BackupInvalid(f"{len(missing)} files of the backup are missing, {missing[0]} first")
    if extra := sorted(present - set(files)):
        raise BackupInvalid(f"{len(extra)} files are in the backup folder but not in its manifest, {extra[0]} first")
    total = sum(int(entry["bytes"]) for entry in files.values())
    with _bar("checking", total, "B") as bar:
        for name, entry in files.items():
            path = directory / name
            if path.stat().st_size != int(entry["bytes"]) or sha256_of(path) != entry["sha256"]:
                raise BackupInvalid(f"{name} does not match its checksum in the manifest: the backup is damaged")
            bar.update(int(entry["bytes"]))
    return manifest


def run(settings: Settings, directory: Path, connect: Connect, *, force: bool = False) -> int:
    """Check the backup, then load it into the deployment ``connect`` opens; 1 with a message on
    stderr when refused (nothing written then)."""
    try:
        manifest = verify(directory)
    except BackupInvalid as error:
        print(f"docstore: {error}", file=sys.stderr)
        return 1
    source = manifest["source"]["region"]
    if source != settings.region and not force:
        print(
            f"docstore: the backup is of region {source} and this is {settings.region}: its accounts would "
            "all live elsewhere. Restore it in its own region, or pass --force",
            file=sys.stderr,
        )
        return 1
    with connect() as services:
        if services is None:
            return 1
        if not force and not (snapshot.is_empty("accounts") and snapshot.is_empty("documents")):
            print(
                "docstore: the target already holds accounts or documents: restore into an empty deployment, "
                "or pass --force to write the backup over it",
                file=sys.stderr,
            )
            return 1
        load(directory, manifest, services)
        try:
            rebuilt = _reindex(settings, services, manifest["counts"]["documents"])
        except RebuildRunning as error:
            print(f"docstore: restored, but the search index was not rebuilt: {error}", file=sys.stderr)
            print("docstore: run `docstore reindex` once it has finished", file=sys.stderr)
            return 1
    counts = manifest["counts"]
    print(
        f"restored from {directory}: {counts['accounts']} accounts, {counts['documents']} documents "
        f"({counts.get('versions', 0)} earlier versions), {counts.get('changes', 0)} change-feed rows, "
        f"{counts['objects']} objects ({counts['object_bytes']:,} bytes), {counts['counters']} counters; "
        f"search index rebuilt with {rebuilt} documents"
    )
    return 0


def load(directory: Path, manifest: dict[str, Any], services: Services) -> None:
    """Write the objects, the tables, and send the work in flight again."""
    objects: dict[str, dict[str, Any]] = manifest["objects"]
    with _bar("objects", manifest["counts"]["object_bytes"], "B") as bar:
        for key, stored in objects.items():
            path = object_path(directory, key)
            size = path.stat().st_size
            copy = ObjectCopy(
                size=size,
                content_type=stored["content_type"],
                metadata=dict(stored["metadata"]),
                cache_control=stored.get("cache_control", ""),
            )
            services.objects.copy_in(key, path, copy)
            bar.update(size)
    processing: list[tuple[str, str]] = []
    uncounted: list[str] = []
    held: dict[tuple[str, str], int] = {}
    region = services.settings.region
    for table in ORDER:
        if table not in manifest["counts"]:
            # A version 1 backup: no earlier versions, no change feed; before 3, no share links;
            # before 4, no shares.
            continue
        with _bar(table, manifest["counts"][table], " items") as bar:
            items = _items(directory, table, bar)
            if table == "documents":
                items = _noting(items, lambda item: _processing(item, processing))
            elif table == "accounts":
                items = _noting(items, lambda item: _uncounted(item, region, uncounted))
            elif table == "share_links":
                items = _noting(items, lambda item: _holding(item, held))
            snapshot.write(table, items)
    # Each document's count of live links, from the links restored (a link made or revoked while
    # the backup ran may have moved it after its document was read).
    share_links.recount(held)
    # A backup keeps documents, not the claims that make their paths unique: claim them again.
    path_backfill.backfill(path_backfill.every_record())
    for owner_id, document_id in processing:
        services.queues[UPLOAD_EVENTS].send(UploadCompleted(account_id=owner_id, document_id=document_id))
    for account_id in uncounted:
        services.queues[ACCOUNT_EVENTS].send(AccountCreated(account_id=account_id))


def _items(directory: Path, table: str, bar: tqdm[Any]) -> Iterator[dict[str, Any]]:
    with (directory / TABLES_DIR / f"{table}.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            yield snapshot.from_json(json.loads(line))
            bar.update()


def _noting(items: Iterator[dict[str, Any]], note: Any) -> Iterator[dict[str, Any]]:
    for item in items:
        note(item)
        yield item


def _processing(item: dict[str, Any], found: list[tuple[str, str]]) -> None:
    if item["status"]["S"] == DocumentStatus.PROCESSING:
        found.append((item["owner_id"]["S"], item["document_id"]["S"]))


def _holding(item: dict[str, Any], held: dict[tuple[str, str], int]) -> None:
    key = (item["owner_id"]["S"], item["document_id"]["S"])
    held[key] = held.get(key, 0) + (0 if "revoked_at" in item else 1)


def _uncounted(item: dict[str, Any], region: str, found: list[str]) -> None:
    # Replicas of other regions' accounts are counted at home, never here.
    if "S" not in item.get("counted_plan", {}) and item["home_region"]["S"] == region:
        found.append(item["id"]["S"])


def _reindex(settings: Settings, services: Services, estimate: int) -> int:
    with _bar("search index", estimate, " docs") as bar:

        def advance(_: IndexedDocument) -> None:
            bar.update()

        done = rebuild(settings.search_dir, services.objects, services.queues[SEARCH_INDEX], progress=advance)
    return done.documents


def _bar(description: str, total: int, unit: str) -> tqdm[Any]:
    scale = unit == "B"
    return tqdm(total=total or None, desc=description, unit=unit, unit_scale=scale, file=sys.stderr, disable=None)
