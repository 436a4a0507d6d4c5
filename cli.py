"""The ``docstore`` command line: ``serve``, ``worker``, ``init``, ``reindex``, ``backfill-hashes``,
``backup``, ``restore``, ``admin``, ``stats``, ``export-schema``; and the terminal client, ``login``,
``logout``, ``upload``, ``ls``, ``search`` and ``sync`` (``client/``), which only call the public API, and
``hash``, which computes locally what ``Document.contentHash`` gives.

Each command imports what it needs when it runs, so that a command with no real work (``stats``,
``admin grant`` beside a running server) does not pay for the GraphQL schema and the web server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from adapters import local_aws, logs
from settings import Settings, SettingsError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import uvicorn

    from runtime.services import Runtime, Services

log = logging.getLogger("docstore")


def _command_line() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docstore", description="DocStore: a document store behind GraphQL.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (and, by default, the embedded AWS)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--data-dir", type=Path, help="the data folder (default ./docstore-data)")
    init = commands.add_parser("init", help="create the tables, bucket and queues where they are missing")
    init.add_argument("--data-dir", type=Path, help="the data folder of a running embedded server")
    worker = commands.add_parser("worker", help="consume the queues (processing, quota, sweeping) without the API")
    worker.add_argument("--data-dir", type=Path, help="the data folder of a running embedded server")
    worker.add_argument("--metrics-port", type=int, help="serve this worker's /metrics on 127.0.0.1:PORT")
    reindex = commands.add_parser(
        "reindex", help="rebuild the search index from the records and extracted texts (search keeps answering)"
    )
    reindex.add_argument("--data-dir", type=Path, help="the data folder of a running embedded server")
    hashing = commands.add_parser(
        "backfill-hashes", help="have the workers compute the content hash of documents stored before there were any"
    )
    hashing.add_argument("--data-dir", type=Path, help="the data folder of a running embedded server")
    saving = commands.add_parser("backup", help="export accounts, documents, files and counters into a new folder")
    saving.add_argument("dir", type=Path, help="the folder to create (it must not exist, or be empty)")
    saving.add_argument("--data-dir", type=Path, help="the embedded data folder (its server may be running)")
    loading = commands.add_parser("restore", help="load a backup into an empty deployment, then rebuild search")
    loading.add_argument("dir", type=Path, help="the folder `docstore backup` wrote")
    loading.add_argument("--data-dir", type=Path, help="the embedded data folder (its server may be running)")
    loading.add_argument("--force", action="store_true", help="restore even into a deployment holding data")
    admin = commands.add_parser("admin", help="grant or revoke the ADMIN role (the dashboard)")
    actions = admin.add_subparsers(dest="action", required=True)
    for action in ("grant", "revoke"):
        change = actions.add_parser(action, help=f"{action} ADMIN for the account with this email")
        change.add_argument("email")
        change.add_argument("--data-dir", type=Path, help="the data folder of a running embedded server")
    stats = commands.add_parser("stats", help="print the dashboard's figures from the counters")
    stats.add_argument("--recount", action="store_true", help="recount from the tables and repair drift")
    stats.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
    stats.add_argument("--data-dir", type=Path, help="the data folder of a running embedded server")
    export = commands.add_parser(
        "export-schema", help="print the GraphQL schema (SDL), described with the default settings"
    )
    export.add_argument("--output", type=Path, help="write it to this file instead")
    _client_commands(commands)
    return parser


#: The terminal client's commands: they read no DOCSTORE_* setting (only DOCSTORE_TOKEN and DOCSTORE_API).
CLIENT_COMMANDS = frozenset({"login", "logout", "upload", "ls", "search", "hash", "sync"})


def _client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    api = "the GraphQL API (default: $DOCSTORE_API, else the one `docstore login` signed in to)"
    login = commands.add_parser("login", help="sign in to a DocStore API and keep the session for the commands below")
    login.add_argument(
        "--api", help="the GraphQL API to sign in to (default: $DOCSTORE_API, else http://127.0.0.1:8000/graphql)"
    )
    login.add_argument("--email", help="the account's email (asked when not given)")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin (for scripts)"
    )
    commands.add_parser("logout", help="end the kept session (signOut) and forget it")
    sending = commands.add_parser("upload", help="upload files straight to S3, with a progress bar each")
    sending.add_argument("files", nargs="+", metavar="FILE", help="the files to upload")
    sending.add_argument("--tags", help="tags for every file, comma-separated: --tags invoices,2026")
    sending.add_argument("--type", help="the files' MIME type (default: guessed from each name)")
    sending.add_argument("--wait", action="store_true", help="wait until each is READY, FAILED or REJECTED")
    sending.add_argument("--timeout", type=float, default=300, help="seconds --wait waits at most (default 300)")
    sending.add_argument("--api", help=api)
    listing = commands.add_parser("ls", help="list your documents, newest first")
    search = commands.add_parser("search", help="search your documents with DocStore's query language")
    search.add_argument("query", help="e.g. 'invoice AND (plumber OR electrician) -draft' or 'tag:taxes \"net total\"'")
    for command in (listing, search):
        command.add_argument("--name", help="only names containing this text (ignoring case)")
        command.add_argument("--tag", action="append", help="only documents with this tag (repeat for several)")
        command.add_argument("--status", choices=["PROCESSING", "READY", "FAILED", "PENDING_UPLOAD", "REJECTED"])
        command.add_argument("--type", help="only this MIME type, e.g. application/pdf")
        command.add_argument("--limit", type=int, help="at most this many (default: all for ls, 20 for search)")
        command.add_argument("--json", action="store_true", help="one JSON object a line (for scripts)")
        command.add_argument("--api", help=api)
    listing.add_argument("--after", help="continue after this cursor (what a listing cut by --limit said)")
    search.set_defaults(after=None)
    hashing = commands.add_parser(
        "hash",
        help="print each file's content hash, the value of Document.contentHash (docs/CONTENT_HASH.md)",
        description="Print each file's content hash as `HASH  FILE` (as sha256sum does): SHA-256 of each "
        "4 MiB block, then SHA-256 of those digests, the value the API gives as Document.contentHash. "
        "Computed here, from the file's bytes: no API and no sign-in.",
    )
    hashing.add_argument("files", nargs="+", metavar="FILE", help="the files to hash (- for standard input)")
    syncing = commands.add_parser(
        "sync",
        help="sync a folder both ways with your documents under a prefix (state in DIR/.docstore-sync)",
        description="Upload what changed here, download what changed on the server, delete on each side what "
        "was deleted on the other since the last sync; a file changed on both sides is kept twice, yours as "
        "`name (conflicted copy YYYY-MM-DD).ext`. Interrupted, the next run finishes the job.",
    )
    syncing.add_argument("folder", metavar="DIR", type=Path, help="the folder to sync (it must exist)")
    syncing.add_argument("--prefix", default="/", help="the folder of your documents it mirrors (default /)")
    syncing.add_argument(
        "--multipart-threshold",
        type=float,
        default=64,
        metavar="MIB",
        help="files larger than this many MiB go as multipart uploads, in parts (default 64)",
    )
    syncing.add_argument("--parallel", type=int, default=4, help="parts of a multipart upload sent at once (default 4)")
    syncing.add_argument(
        "--wait",
        type=float,
        default=30,
        metavar="SECONDS",
        help="how long to wait for documents the server is still processing (default 30)",
    )
    syncing.add_argument("--api", help=api)


def main(argv: Sequence[str] | None = None) -> int:
    args = _command_line().parse_args(argv)
    if args.command in CLIENT_COMMANDS:
        from client import terminal

        if args.command == "search" and args.limit is None:
            args.limit = 20
        return terminal.run(args)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"docstore: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format)
    if getattr(args, "data_dir", None):
        settings = settings.with_overrides(data_dir=args.data_dir)
    if args.command == "export-schema":
        from schema.root import build_schema

        # With the defaults' values in its descriptions, whatever this environment sets: the SDL is
        # the same everywhere (gql/schema.graphql); a running server's introspection says its own.
        sdl = str(build_schema(Settings())) + "\n"
        if args.output:
            args.output.write_text(sdl)
        else:
            sys.stdout.write(sdl)
        return 0
    if args.command == "init":
        return _init(settings)
    if args.command == "worker":
        return _worker(settings, args.metrics_port)
    if args.command == "reindex":
        return _reindex(settings)
    if args.command == "backfill-hashes":
        return _backfill_hashes(settings)
    if args.command in ("backup", "restore"):
        from commands import backup, restore
    if args.command == "backup":
        return backup.run(settings, args.dir, lambda: _reached(settings, provisioned=False))
    if args.command == "restore":
        return restore.run(settings, args.dir, lambda: _reached(settings, provisioned=True), force=args.force)
    if args.command in ("admin", "stats"):
        return _administer(settings, args)
    settings = settings.with_overrides(
        host=args.host or settings.host, port=args.port if args.port is not None else settings.port
    )
    return _serve(settings)


def _serve(settings: Settings) -> int:
    """``docstore serve``: the embedded AWS first (a busy or unwritable data folder is a sentence and
    exit 1, before anything listens), then the API; if the AWS dies, the API stops too (exit 1)."""
    from adapters import malloc
    from runtime.services import embedded_aws

    malloc.limit_arenas(settings.malloc_arenas)  # before any thread of this process allocates
    server: uvicorn.Server | None = None

    def aws_ended(_: int) -> None:
        if server is not None:
            server.should_exit = True

    embedded = None
    try:
        if settings.embedded:
            embedded = embedded_aws(settings, on_exit=aws_ended)
            embedded.launch()  # it loads the data folder while this process imports the API
        import uvicorn

        from server import create_app, server_options

        if embedded is not None:
            embedded.wait()
    except local_aws.EmbeddedAwsError as error:
        print(f"docstore: {error}", file=sys.stderr)
        return 1
    try:
        # log_config None: uvicorn's records go through our handler; the access log is RequestLogging's.
        config = uvicorn.Config(
            create_app(settings, embedded=embedded),
            host=settings.host,
            port=settings.port,
            log_level="info",
            log_config=None,
            access_log=False,
            lifespan="on",
            **server_options(settings),
        )
        server = uvicorn.Server(config)
        if embedded is not None and embedded.crashed:
            return 1
        with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl-C is a clean stop
            server.run()
    finally:
        if embedded is not None:
            crashed = embedded.crashed
            embedded.stop()
    return 1 if embedded is not None and crashed else 0


def _init(settings: Settings) -> int:
    from adapters.aws import AwsTarget
    from models import tables
    from runtime.services import provision

    endpoint = settings.aws_endpoint_url
    if settings.embedded:
        endpoint = local_aws.running_endpoint(settings.data_dir)
        if endpoint is None:
            print(
                "docstore: no embedded AWS is running on this data folder; `docstore serve` creates "
                "everything itself. Set DOCSTORE_AWS_MODE=aws to initialise real AWS.",
                file=sys.stderr,
            )
            return 1
    target = AwsTarget.from_settings(settings, endpoint)
    tables.configure(target, settings.table_prefix)
    for name in provision(settings, target, every_path=True):  # old processes may have written some since
        print(f"ready: {name}")
    return 0


def _attached(settings: Settings, *, search: bool = True) -> Runtime | None:
    """The runtime of a command that joins a running server's AWS; None (said on stderr) if none runs.
    ``search`` False: without the search index, for commands that never search."""
    from runtime.services import NoEmbeddedAws, open_runtime

    try:
        return open_runtime(settings, attach=True, search=search)
    except NoEmbeddedAws as error:
        print(f"docstore: {error}", file=sys.stderr)
        return None


def _administer(settings: Settings, args: argparse.Namespace) -> int:
    """``docstore admin grant|revoke EMAIL`` and ``docstore stats [--recount]``, against the AWS of
    a running embedded server (through its data folder) or the configured one."""
    from commands import admin

    # Neither searches nor serves /metrics: no search index, no metrics (prometheus_client).
    runtime = _attached(settings.with_overrides(metrics_enabled=False), search=False)
    if runtime is None:
        return 1
    try:
        if args.command == "admin":
            return admin.change_role(runtime.services, args.action, args.email)
        return admin.stats(runtime.services, recount=args.recount, as_json=args.json)
    finally:
        runtime.close()


def _worker(settings: Settings, metrics_port: int | None = None) -> int:
    import prometheus_client

    from adapters import malloc
    from workers.runner import start_workers

    malloc.limit_arenas(settings.malloc_arenas)

    if metrics_port is not None and not settings.metrics_enabled:
        print("docstore: --metrics-port needs metrics on (DOCSTORE_METRICS=true)", file=sys.stderr)
        return 2
    runtime = _attached(settings)
    if runtime is None:
        return 1
    if metrics_port is not None and runtime.services.metrics is not None:
        prometheus_client.start_http_server(metrics_port, addr="127.0.0.1", registry=runtime.services.metrics.registry)
        log.info("docstore worker metrics at http://127.0.0.1:%d/metrics", metrics_port)
    if settings.pubsub_url.startswith("memory://"):
        log.warning(
            "DOCSTORE_PUBSUB_URL is memory://: this worker's events reach no subscriber in another "
            "process; use redis:// to share events with API processes"
        )

    async def work() -> None:
        await runtime.pubsub.connect()
        reporting = None
        if runtime.reporter is not None:
            reporting = asyncio.create_task(runtime.reporter.run_forever(settings.cloudwatch_interval_seconds))
        try:
            await start_workers(runtime)
        finally:
            if reporting is not None:
                reporting.cancel()
            await runtime.pubsub.disconnect()

    # Queues look their URLs up on first use: asking here stops the worker at once on a missing
    # queue, rather than inside a consumer.
    urls = {name: queue.url for name, queue in runtime.services.queues.items()}
    log.info("docstore worker consuming %s", ", ".join(urls))
    try:
        asyncio.run(work())
    except KeyboardInterrupt:
        log.info("docstore worker stopped")
    finally:
        runtime.close()
    return 0


def _reindex(settings: Settings) -> int:
    from commands import reindex

    runtime = _attached(settings)
    if runtime is None:
        return 1
    try:
        return reindex.run(settings, runtime.services)
    finally:
        runtime.close()


def _backfill_hashes(settings: Settings) -> int:
    from commands import hashes

    # Sends messages and reads accounts: no search index, no metrics.
    runtime = _attached(settings.with_overrides(metrics_enabled=False), search=False)
    if runtime is None:
        return 1
    try:
        return hashes.run(runtime.services)
    finally:
        runtime.close()


@contextlib.contextmanager
def _reached(settings: Settings, *, provisioned: bool) -> Iterator[Services | None]:
    """The services of ``backup`` and ``restore``: those of a running server's embedded AWS, of
    one started on the data folder for the command when no server runs (stopped at the end), or
    of the configured AWS. ``provisioned``: create the tables, bucket and queues that are missing."""
    from runtime.services import open_runtime, provision

    if settings.embedded and local_aws.running_endpoint(settings.data_dir) is None:
        runtime: Runtime | None = open_runtime(settings)  # starts and provisions
    else:
        runtime = _attached(settings)
        if runtime is not None and provisioned:
            try:
                provision(settings, runtime.target)
            except BaseException:
                runtime.close()
                raise
    try:
        yield None if runtime is None else runtime.services
    finally:
        if runtime is not None:
            runtime.close()


if __name__ == "__main__":
    raise SystemExit(main())
