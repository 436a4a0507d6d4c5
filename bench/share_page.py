"""The public share page against a static file: ``GET /s/{token}`` and ``GET /assets/<file>`` from
the same server, alternating request by request, so both see the same machine at the same moment.

The page's request is what a person (or a link preview robot) opening a share link costs: the
token's hash looked up in the ``by-token`` index (whose copy of the link the page shows), the
document read, and the HTML rendered by Jinja2. The static file is the smallest of the built web app's
assets, served by Starlette's ``StaticFiles`` with no storage read at all: the floor of a request
to this server. The figure is the ratio of the two, at p50 and p99.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from ulid import ULID

from bench.client import graphql, sign_up
from bench.serving import ServedApp
from bench.stack import embedded_aws
from domain.plans import Plan
from models import accounts, uploads
from models.base import utcnow
from server import create_app

NAME = "share_page"
REQUESTS = 2_000
WARM_UP = 50


def run(*, quick: bool, command: str) -> str:
    """Seed one stored document and its link, warm up, then time ``REQUESTS`` of each; the section."""
    total = 100 if quick else REQUESTS
    started = datetime.now(UTC)
    with (
        tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp,
        embedded_aws(Path(tmp), run_workers=False) as (settings, _),
    ):
        asset = smallest_asset(settings.web_dir / "assets")
        progress(f"embedded AWS at {settings.aws_endpoint_url}; static file /assets/{asset.name}")
        with ServedApp(create_app, settings) as server, httpx.Client(base_url=server.url, timeout=60) as http:
            token, account_id = sign_up(http)
            document_id = seed(account_id)
            made = graphql(http, "CreateShareLink", {"input": {"documentId": document_id}}, token)["createShareLink"]
            page = httpx.URL(made["url"]).path
            check(http, page, f"/assets/{asset.name}")
            for _ in range(WARM_UP):
                http.get(page)
                http.get(f"/assets/{asset.name}")
            timings = measure(http, page, f"/assets/{asset.name}", total)
    return section(timings, asset=asset, total=total, started=started, command=command)


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


def smallest_asset(folder: Path) -> Path:
    found = sorted((path for path in folder.glob("*") if path.is_file()), key=lambda path: path.stat().st_size)
    if not found:
        raise RuntimeError(f"no built assets in {folder}: build the web app first (make web)")
    return found[0]


def seed(account_id: str) -> str:
    """A stored document (its record counted through the models; the page never reads its bytes)."""
    account = accounts.get(account_id)
    document = uploads.start(
        account,
        document_id=str(ULID()),
        name="quarterly report.pdf",
        content_type="application/pdf",
        size=123_456,
        tags=[],
        description="",
        form_seconds=3600,
        sweep_grace_seconds=3600,
    )
    key = f"{account_id}/{document.document_id}/bench/original"
    uploads.count(document, key, 123_456, "etag", Plan.FREE, utcnow())
    return document.document_id


def check(http: httpx.Client, page: str, asset: str) -> None:
    shown = http.get(page)
    if shown.status_code != 200 or "quarterly report.pdf" not in shown.text:
        raise RuntimeError(f"the share page answered {shown.status_code}: {shown.text[:300]}")
    if http.get(asset).status_code != 200:
        raise RuntimeError(f"{asset} is not served")


def measure(http: httpx.Client, page: str, asset: str, total: int) -> dict[str, list[float]]:
    """Milliseconds of each request, the page and the asset one after the other, ``total`` each."""
    timings: dict[str, list[float]] = {"page": [], "asset": []}
    for number in range(total):
        # Which goes first alternates too, so neither always follows the other.
        order = (("page", page), ("asset", asset)) if number % 2 == 0 else (("asset", asset), ("page", page))
        for kind, path in order:
            begun = time.perf_counter()
            answer = http.get(path)
            timings[kind].append((time.perf_counter() - begun) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"{path} answered {answer.status_code}")
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def section(timings: dict[str, list[float]], *, asset: Path, total: int, started: datetime, command: str) -> str:
    page, static = timings["page"], timings["asset"]
    p50 = (statistics.median(page), statistics.median(static))
    p99 = (percentile(page, 0.99), percentile(static, 0.99))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return "\n".join(
        [
            "## Share page",
            "",
            f"`{command}`, {started:%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, load average "
            f"{load} at the end.",
            "",
            f"`GET /s/{{token}}` (a share link's public page: the token's hash looked up in the `by-token` index, "
            "whose copy of the link the page shows, the document read consistently, Jinja2's HTML) against `GET "
            f"/assets/{asset.name}` ({asset.stat().st_size:,} bytes, the smallest built asset, no storage read), "
            f"{total:,} of each from one keep-alive client, alternating request by request, to one uvicorn "
            "process (no workers) on the embedded AWS.",
            "",
            "| | p50 ms | p99 ms |",
            "| --- | ---: | ---: |",
            f"| share page | {p50[0]:.2f} | {p99[0]:.2f} |",
            f"| static file | {p50[1]:.2f} | {p99[1]:.2f} |",
            f"| **ratio** | **{p50[0] / p50[1]:.1f}** | **{p99[0] / p99[1]:.1f}** |",
        ]
    )
