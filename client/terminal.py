"""The bodies of ``docstore login``, ``logout``, ``upload``, ``ls``, ``search``, ``sync`` and ``hash``: DocStore
for people at a terminal, through the public GraphQL API only (``hash`` needs no API at all).

Each returns the process's exit code; a failure is one sentence on stderr (``docstore: ...``) and
a non-zero code, never a traceback.
"""

from __future__ import annotations

import getpass
import html
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client import credentials, sync, uploads
from client.api import Api, ClientError, NotSignedIn
from domain import content_hash

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator, Sequence

#: Documents one listing call asks for (the API's most).
PAGE = 100
#: Where the search index marks the matched words in a snippet.
HIGHLIGHT = re.compile(r"<b>(.*?)</b>")


def run(args: argparse.Namespace) -> int:
    """Run the client command ``args.command``; its exit code."""
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "login": login,
        "logout": logout,
        "upload": upload,
        "ls": listing,
        "search": search,
        "hash": hashes,
        "sync": syncing,
    }
    try:
        return commands[args.command](args)
    except ClientError as error:
        print(f"docstore: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("docstore: stopped.", file=sys.stderr)
        return 130


def login(args: argparse.Namespace) -> int:
    url = args.api or credentials.default_api()
    email = args.email or input("Email: ")
    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else getpass.getpass("Password: ")
    with Api(url) as api:
        answer = api.call("SignIn", {"input": {"email": email, "password": password}})["signIn"]
    if answer["__typename"] == "WrongRegionError":
        raise ClientError(f"{answer['message']} Run `docstore login --api {answer['endpoint']}/graphql`.")
    if answer["__typename"] != "AuthPayload":
        raise ClientError(answer["message"])
    account = answer["account"]
    where = credentials.save(credentials.Credentials(api=url, email=account["email"], token=answer["token"]))
    print(f"Signed in to {url} as {account['email']} ({account['plan']}); the session is kept in {where}.")
    return 0


def logout(args: argparse.Namespace) -> int:
    saved = credentials.load()
    if saved is None:
        print("Not signed in.")
        return 0
    try:
        with Api(saved.api, saved.token) as api:
            api.call("SignOut")
    except NotSignedIn:
        pass  # the session had ended already: forgetting it is all that is left
    credentials.remove()
    print(f"Signed out of {saved.api}.")
    return 0


def upload(args: argparse.Namespace) -> int:
    paths = [Path(name) for name in args.files]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise ClientError(f"No such file: {', '.join(missing)}. Nothing was uploaded.")
    tags = [tag.strip() for tag in (args.tags or "").split(",") if tag.strip()]
    failed = 0
    with _signed_in(args) as api:
        done: list[uploads.Uploaded] = []
        for path in paths:
            try:
                uploaded = uploads.upload(api, path, tags=tags, kind=args.type)
            except NotSignedIn:
                raise
            except ClientError as error:
                print(f"docstore: {error}", file=sys.stderr)
                failed += 1
                continue
            done.append(uploaded)
            document = uploaded.document
            print(f"{path.name}: {document['id']} {document['status']} ({_size(document['size'])})")
        if args.wait and done:
            names = {item.document["id"]: item.path.name for item in done}

            def settled(document: dict[str, Any]) -> None:
                nonlocal failed
                reason = f" ({document['failureReason']})" if document.get("failureReason") else ""
                print(f"{names[document['id']]}: {document['id']} {document['status']}{reason}")
                failed += document["status"] != "READY"

            late = uploads.wait_settled(api, list(names), args.timeout, settled)
            for document_id in late:
                print(
                    f"docstore: {names[document_id]} is still being processed after {args.timeout:g} s.",
                    file=sys.stderr,
                )
            failed += len(late)
    return 1 if failed else 0


def listing(args: argparse.Namespace) -> int:
    with _signed_in(args) as api:
        rows = list(_pages(api, "Documents", "documents", {"filter": _filter(args)}, args.limit, args.after))
    nodes = [node for node, _ in rows]
    if args.json:
        for node in nodes:
            print(json.dumps(node))
    elif nodes:
        _table(
            ["NAME", "PATH", "STATUS", "SIZE", "TAGS", "CREATED", "ID"],
            [
                [
                    node["name"],
                    node["path"],
                    node["status"],
                    _size(node["size"]),
                    ",".join(node["tags"]),
                    _time(node["createdAt"]),
                    node["id"],
                ]
                for node in nodes
            ],
        )
    else:
        print("No documents.", file=sys.stderr)
    return 0


def search(args: argparse.Namespace) -> int:
    variables = {"query": args.query, "filter": _filter(args)}
    with _signed_in(args) as api:
        hits = [node for node, _ in _pages(api, "Search", "search", variables, args.limit, None)]
    if args.json:
        for hit in hits:
            print(json.dumps(hit))
        return 0
    if not hits:
        print("Nothing found.", file=sys.stderr)
        return 0
    bold = sys.stdout.isatty()
    for hit in hits:
        document = hit["document"]
        print(f"{document['name']}  {document['status']}  {document['id']}")
        for highlight in hit["highlights"]:
            print(f"    {highlight['field']}: {_snippet(highlight['snippet'], bold)}")
    return 0


def hashes(args: argparse.Namespace) -> int:
    """Print each file's content hash as ``Document.contentHash`` gives it, as sha256sum prints
    (``HASH  FILE``); the file is streamed, never read whole. ``-`` is standard input. A file that
    cannot be read is a sentence on stderr and exit code 1; the others are still hashed."""
    failed = 0
    for name in args.files:
        try:
            if name == "-":
                value = content_hash.of_stream(sys.stdin.buffer)
            else:
                with Path(name).open("rb") as stream:
                    value = content_hash.of_stream(stream)
        except OSError as error:
            print(f"docstore: cannot read {name}: {error.strerror or error}.", file=sys.stderr)
            failed += 1
            continue
        print(f"{value}  {name}")
    return 1 if failed else 0


def syncing(args: argparse.Namespace) -> int:
    """``docstore sync DIR``: each path done is a line on stdout, each problem one on stderr, and
    a summary; exit code 1 when anything was left undone."""
    folder: Path = args.folder
    if not folder.is_dir():
        raise ClientError(f"{folder} is not a folder: nothing was synced.")
    if args.multipart_threshold <= 0 or args.parallel < 1 or args.wait < 0:
        raise ClientError("--multipart-threshold must be above 0, --parallel at least 1, --wait at least 0.")
    options = sync.Options(
        prefix=args.prefix,
        multipart_threshold=int(args.multipart_threshold * sync.MIB),
        parallel=args.parallel,
        wait_seconds=args.wait,
    )
    with _signed_in(args) as api:
        report = sync.Sync(api, folder, options).run()
    done = [
        f"{len(report.uploaded)} uploaded",
        f"{len(report.downloaded)} downloaded",
        f"{len(report.deleted_here)} deleted here",
        f"{len(report.deleted_there)} deleted on the server",
        f"{len(report.conflicts)} conflicts kept as copies",
    ]
    print(f"Synced {folder} with {options.prefix}: {', '.join(done)}.")
    if report.waiting:
        print(
            f"docstore: {len(report.waiting)} still being processed by the server: run `docstore sync` again.",
            file=sys.stderr,
        )
    return 1 if report.problems or report.waiting else 0


def _signed_in(args: argparse.Namespace) -> Api:
    url, token, source = credentials.signed_in(args.api)
    return Api(url, token, source)


def _filter(args: argparse.Namespace) -> dict[str, Any]:
    wanted = {"nameContains": args.name, "tags": args.tag or None, "status": args.status, "contentType": args.type}
    return {key: value for key, value in wanted.items() if value is not None}


def _pages(
    api: Api, name: str, field: str, variables: dict[str, Any], limit: int | None, after: str | None
) -> Iterator[tuple[dict[str, Any], str]]:
    """The nodes of a connection, page after page through its cursors, at most ``limit``; when
    more remain, says on stderr how to go on."""
    given = 0
    while True:
        first = PAGE if limit is None else min(PAGE, limit - given)
        result = api.call(name, {**variables, "first": first, "after": after})[field]
        if "edges" not in result:  # one of the search's errors: PremiumRequiredError, ValidationError
            raise ClientError(result["message"])
        for edge in result["edges"]:
            given += 1
            yield edge["node"], edge["cursor"]
        page = result["pageInfo"]
        if not page["hasNextPage"]:
            return
        after = page["endCursor"]
        if limit is not None and given >= limit:
            print(f"More: add --after {after}", file=sys.stderr)
            return


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell. Written here rather than with a table library: a
    fixed set of plain columns is a few lines, and the command loads nothing more for it."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)]
    for row in [headers, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _time(moment: str) -> str:
    """An API timestamp (ISO 8601, UTC) to the minute."""
    return moment[:16].replace("T", " ")


def _snippet(snippet: str, bold: bool) -> str:
    """A search snippet (HTML-escaped, matches in ``<b>``) as terminal text, matches in bold on a
    terminal."""
    marked = HIGHLIGHT.sub(r"\033[1m\1\033[0m" if bold else r"\1", snippet)
    return html.unescape(marked)
