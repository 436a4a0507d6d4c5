"""``documents(first: 50)`` over HTTP, GraphQL against a raw Starlette endpoint doing the same work.

Both endpoints run in one uvicorn process, with the same data in the same embedded AWS. The raw one,
``GET /bench/documents``, is everything the ``documents`` resolver does without GraphQL: the same
bearer token looked up the same way, the same ``documents.page`` call, and the fields of
``gql/operations/documents/Documents.graphql`` serialised to the same JSON. The difference between
the two is the GraphQL layer: parsing, validating and executing the operation, and Strawberry's view.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from starlette.responses import JSONResponse
from starlette.routing import Route

from access.context import Context, bearer_token
from bench.load import Sample, Target, Totals, measure
from bench.serving import ServedApp
from bench.stack import embedded_aws
from models import documents
from resolvers import pagination
from resolvers.documents import cursor_scope
from server import create_app

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from runtime.services import Services
    from settings import Settings

NAME = "documents_throughput"
OPERATION = Path(__file__).resolve().parent.parent / "gql" / "operations" / "documents" / "Documents.graphql"
PAGE = 50
DOCUMENTS = 60
CONCURRENCY = 8
ROUNDS = 4
PASSWORD = "bench horse battery staple"


def run(*, quick: bool, command: str) -> str:
    """Set up, verify, measure in alternating rounds; the markdown section with the figures."""
    seconds, warmup, rounds_run = (2.0, 0.5, 2) if quick else (10.0, 2.0, ROUNDS)
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp, embedded_aws(Path(tmp)) as (settings, _):
        progress(f"embedded AWS at {settings.aws_endpoint_url}, provisioned")
        with ServedApp(bench_app, settings) as server:
            progress(f"server pid {server.process.pid} at {server.url}")
            token = seed(server.url)
            sides = targets(token)
            verify(server.url, *sides)
            totals = asyncio.run(rounds(server, sides, rounds=rounds_run, seconds=seconds, warmup=warmup))
    return section(totals, started=started, command=command, seconds=seconds, settings=settings)


def progress(line: str) -> None:
    print(f"[{NAME}] {line}", flush=True)


# -- the server side -----------------------------------------------------------------------------


def bench_app(settings: Settings) -> Starlette:
    """The normal app plus ``GET /bench/documents``."""
    return create_app(settings, extra_routes=[Route("/bench/documents", raw_documents, methods=["GET"])])


async def raw_documents(request: Request) -> Response:
    """What ``documents(first: 50)`` returns under ``data.documents``, without GraphQL."""
    services: Services = request.app.state.services
    # The resolver's path to the account: the request's Context, looked up on the Blocking pool.
    viewer = await Context(services=services, token=bearer_token(request.headers.get("authorization"))).viewer()
    if viewer is None:
        return JSONResponse({"error": "UNAUTHENTICATED"}, status_code=401)
    order = "CREATED_AT"
    records, more = await services.blocking.run(
        functools.partial(
            documents.page,
            viewer.id,
            order=order,
            descending=True,
            limit=PAGE,
            after=None,
            flt=documents.ListFilter(),
        )
    )
    edges = [
        {
            "cursor": pagination.encode(
                cursor_scope(order, "DESC"), documents.sort_value(record, order), record.document_id
            ),
            "node": {
                "id": record.document_id,
                "name": record.name,
                "contentType": record.content_type,
                "size": int(record.size),
                "status": record.status,
                "tags": [str(tag) for tag in record.tags or []],
                "description": record.description or "",
                "createdAt": record.created_at.isoformat(),
                "updatedAt": record.updated_at.isoformat(),
            },
        }
        for record in records
    ]
    page_info = {
        "hasNextPage": more,
        "hasPreviousPage": False,
        "startCursor": edges[0]["cursor"] if edges else None,
        "endCursor": edges[-1]["cursor"] if edges else None,
    }
    return JSONResponse({"edges": edges, "pageInfo": page_info})


# -- data and checks -----------------------------------------------------------------------------


def graphql(http: httpx.Client, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or "errors" in body:
        raise RuntimeError(f"GraphQL call failed ({response.status_code}): {body}")
    data: dict[str, Any] = body["data"]
    return data


def operation(name: str) -> str:
    (path,) = OPERATION.parent.parent.glob(f"*/{name}.graphql")
    return path.read_text()


def seed(url: str) -> str:
    """Sign up one account and upload ``DOCUMENTS`` small files the way a client does; its token."""
    with httpx.Client(base_url=url, timeout=60) as http:
        email = f"bench-{time.time_ns()}@example.com"
        signed_up = graphql(http, operation("SignUp"), {"input": {"email": email, "password": PASSWORD}})["signUp"]
        if signed_up["__typename"] != "AuthPayload":
            raise RuntimeError(f"sign-up failed: {signed_up}")
        token: str = signed_up["token"]
        for number in range(DOCUMENTS):
            content = f"benchmark document {number}\n".encode()
            upload = {
                "filename": f"bench-{number:03}.txt",
                "contentType": "text/plain",
                "size": len(content),
                "tags": ["bench", f"n{number % 7}"],
                "description": f"Document {number} of the documents benchmark.",
            }
            form = graphql(http, operation("RequestUpload"), {"input": upload}, token)["requestUpload"]
            if form["__typename"] != "UploadForm":
                raise RuntimeError(f"upload request failed: {form}")
            if httpx.URL(form["url"]).host != "127.0.0.1":
                raise RuntimeError(f"the upload form points off this machine: {form['url']}")
            fields = {field["name"]: field["value"] for field in form["fields"]}
            posted = httpx.post(form["url"], data=fields, files={"file": ("upload.txt", content)}, timeout=60)
            if posted.status_code not in (201, 303):
                raise RuntimeError(f"S3 POST failed ({posted.status_code}): {posted.text[:500]}")
            done = graphql(http, operation("CompleteUpload"), {"input": {"documentId": form["documentId"]}}, token)
            if done["completeUpload"]["__typename"] != "Document":
                raise RuntimeError(f"completing the upload failed: {done}")
            if (number + 1) % 20 == 0:
                progress(f"uploaded {number + 1}/{DOCUMENTS} documents")
    return token


def targets(token: str) -> tuple[Target, Target]:
    authorization = f"Bearer {token}"
    body = json.dumps({"query": OPERATION.read_text(), "variables": {"first": PAGE}}).encode()
    graphql_side = Target(
        label="GraphQL",
        method="POST",
        path="/graphql",
        headers={"Authorization": authorization, "Content-Type": "application/json"},
        body=body,
        answer_starts=b'{"data":{"documents":{"edges":[',
    )
    raw_side = Target(
        label="raw",
        method="GET",
        path="/bench/documents",
        headers={"Authorization": authorization},
        answer_starts=b'{"edges":[',
    )
    return graphql_side, raw_side


def verify(url: str, graphql_side: Target, raw_side: Target) -> None:
    """Both sides must answer with the same 50 documents in the same order, field for field."""
    with httpx.Client(base_url=url, timeout=60) as http:
        answers = [
            http.request(side.method, side.path, headers=side.headers, content=side.body).json()
            for side in (graphql_side, raw_side)
        ]
    through_graphql = answers[0].get("data", {}).get("documents") if "errors" not in answers[0] else None
    if not through_graphql:
        raise RuntimeError(f"documents(first: {PAGE}) failed: {answers[0]}")
    ids = [[edge["node"]["id"] for edge in answer["edges"]] for answer in (through_graphql, answers[1])]
    if ids[0] != ids[1] or len(ids[0]) != PAGE:
        raise RuntimeError(f"the two endpoints list different documents:\nGraphQL {ids[0]}\nraw     {ids[1]}")
    if ids[0] != sorted(ids[0], reverse=True) or not through_graphql["pageInfo"]["hasNextPage"]:
        raise RuntimeError(f"not the newest {PAGE} of {DOCUMENTS} documents, newest first: {through_graphql}")
    if through_graphql != answers[1]:
        raise RuntimeError(f"same documents, different fields:\n{through_graphql}\n{answers[1]}")
    progress(f"both endpoints answer with the same {PAGE} documents, field for field")


# -- load ----------------------------------------------------------------------------------------


async def rounds(
    server: ServedApp, sides: tuple[Target, Target], *, rounds: int, seconds: float, warmup: float
) -> list[Totals]:
    """Warm both sides up, then ``rounds`` rounds of both, in ABBA order so drift hits both alike."""
    totals = [Totals(side.label) for side in sides]
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:
        for side in sides:
            await measure(client, side, concurrency=CONCURRENCY, seconds=warmup, server_cpu=server.cpu_seconds)
        progress(f"warmed up; {rounds} rounds of {seconds:g} s a side, {CONCURRENCY} clients")
        for number in range(rounds):
            order = [0, 1] if number % 2 == 0 else [1, 0]
            for index in order:
                sample = await measure(
                    client, sides[index], concurrency=CONCURRENCY, seconds=seconds, server_cpu=server.cpu_seconds
                )
                totals[index].samples.append(sample)
                progress(f"round {number + 1} {describe(sample)}")
    return totals


def describe(sample: Sample) -> str:
    return (
        f"{sample.label:>7}: {sample.requests:6} requests {sample.rate:7.1f}/s  "
        f"server {1000 * sample.server_cpu / sample.requests:5.2f} ms CPU/request"
    )


# -- the report ----------------------------------------------------------------------------------


def section(totals: list[Totals], *, started: datetime, command: str, seconds: float, settings: Settings) -> str:
    graphql_side, raw_side = totals
    ratio = graphql_side.rate / raw_side.rate
    paired = [g.rate / r.rate for g, r in zip(graphql_side.samples, raw_side.samples, strict=True)]
    server_ratio = graphql_side.per_request(server_cpu) / raw_side.per_request(server_cpu)
    versions = ", ".join(
        f"{package} {metadata.version(package)}"
        for package in ("strawberry-graphql", "graphql-core", "starlette", "uvicorn", "httpx", "pynamodb", "moto")
    )
    made_by = " (what `make bench` runs)" if command == "python -m bench" else ""
    rows = [
        f"| {side.label} | {side.requests} | {side.rate:.1f} | {1000 * side.percentile(50):.0f} | "
        f"{1000 * side.percentile(99):.0f} | {1000 * side.per_request(server_cpu):.1f} | "
        f"{1000 * side.per_request(moto_cpu):.1f} | {1000 * side.per_request(client_cpu):.1f} | "
        f"{side.busy(server_cpu):.2f} | {side.busy(process_cpu):.2f} |"
        for side in totals
    ]
    round_rows = [
        f"| {number} | {g.rate:.2f} | {r.rate:.2f} | {g.rate / r.rate:.3f} |"
        for number, (g, r) in enumerate(zip(graphql_side.samples, raw_side.samples, strict=True), start=1)
    ]
    lines = [
        f"## `documents(first: {PAGE})` over HTTP: GraphQL against raw Starlette",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`{made_by}, on {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {versions}.",
        "",
        f"One account with {DOCUMENTS} uploaded documents; both sides list its newest {PAGE}. One uvicorn "
        "process (uvloop, httptools) serves both `POST /graphql` with "
        "`gql/operations/documents/Documents.graphql` and `GET /bench/documents`, a plain Starlette "
        "endpoint that authenticates the same way, makes the same `documents.page` call and returns the "
        "same JSON as `data.documents` (checked field for field before timing). The load generator "
        f"(httpx, {CONCURRENCY} concurrent keep-alive clients) and moto share the benchmark's process; the "
        f"server has its own, with {settings.blocking_threads} blocking threads. {len(paired)} rounds of "
        f"{seconds:g} s a side, alternating ABBA after a warm-up.",
        "",
        "| side | requests | requests/s | p50 ms | p99 ms | server CPU ms/request | moto CPU ms/request "
        "| load generator CPU ms/request | server cores busy | benchmark process cores busy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        f"**GraphQL / raw throughput: {ratio:.3f}** (per round: {', '.join(f'{value:.3f}' for value in paired)}). "
        f"**Server CPU per request, GraphQL / raw: {server_ratio:.3f}** "
        f"({1000 * (graphql_side.per_request(server_cpu) - raw_side.per_request(server_cpu)):.1f} ms more).",
        "",
    ]
    own, server = max(side.busy(process_cpu) for side in totals), max(side.busy(server_cpu) for side in totals)
    if own > 0.75 and server < 0.5:
        lines += [
            f"The benchmark process (moto and the load generator, under one GIL) kept up to {own:.2f} cores busy, "
            f"the server at most {server:.2f}: moto sets the pace, so the throughput ratio stays near 1 "
            "whatever the GraphQL layer costs. Server CPU per request is the figure that shows that cost.",
            "",
        ]
    lines += [
        "| round | GraphQL requests/s | raw requests/s | ratio |",
        "| ---: | ---: | ---: | ---: |",
        *round_rows,
        "",
        "No goal yet: this is the baseline later work is judged against.",
    ]
    return "\n".join(lines)


def server_cpu(sample: Sample) -> float:
    return sample.server_cpu


def moto_cpu(sample: Sample) -> float:
    # Everything in the benchmark's process but the load generator's event loop thread.
    return sample.process_cpu - sample.client_cpu


def client_cpu(sample: Sample) -> float:
    return sample.client_cpu


def process_cpu(sample: Sample) -> float:
    return sample.process_cpu
