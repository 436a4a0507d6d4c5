"""Search over 100,000 documents of about 1 KB of text: p50 and p95 of the same queries through the
GraphQL API, through DocStore's search adapter, and on tantivy directly, in one run; and how fast
documents are indexed, in bulk (a rebuild) and one by one through the indexer (a rename until it
is found).

The index holds 100,000 documents of 100 owners. Two owners search (one PREMIUM over every field,
one FREE over names, tags and descriptions); their 1,000 documents each also have records in
DynamoDB, which the API reads for the hits it returns. The other owners' documents are in the
index only: search reads DynamoDB only for the hits of the account searching.
"""

from __future__ import annotations

import functools
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import tantivy
from ulid import ULID

from adapters.search import tantivy_schema
from adapters.search.base import IndexedDocument, SearchFilter
from adapters.search.tantivy_index import TantivyIndex
from bench.load import percentile
from bench.serving import ServedApp
from bench.stack import embedded_aws
from domain.documents import DocumentStatus
from domain.plans import Plan
from models import accounts, documents, keys, sessions
from server import create_app

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

OPERATION = (Path(__file__).resolve().parent.parent / "gql" / "operations" / "search" / "Search.graphql").read_text()
OWNERS = 100
SEARCHED_PER_OWNER = 1_000
WORDS_PER_DOCUMENT = 150  # about 1 KB of text
VOCABULARY = 20_000


@dataclass(frozen=True)
class Probe:
    """One query, written in DocStore's language and built for tantivy directly."""

    kind: str
    text: str
    words: tuple[str, ...]


def vocabulary(rng: random.Random) -> list[str]:
    syllables = [c + v for c in "bdfgklmnprtvz" for v in "aiou"]
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def corpus(total: int, owners: list[str], rng: random.Random) -> tuple[list[IndexedDocument], list[str]]:
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf, as natural text
    cumulative = list(_accumulate(weights))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = []
    for number in range(total):
        owner = owners[number % len(owners)]
        text = rng.choices(words, cum_weights=cumulative, k=WORDS_PER_DOCUMENT)
        created = start + timedelta(minutes=number)
        made.append(
            IndexedDocument(
                owner_id=owner,
                document_id=str(ULID.from_datetime(created)),
                name=f"{text[0]} {text[1]} {number}.txt",
                tags=(text[2], text[3]),
                description=" ".join(text[4:12]),
                content_type="text/plain",
                created_at=created,
                updated_at=created,
                content=" ".join(text),
            )
        )
    return made, words


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def probes(words: list[str], sample: list[IndexedDocument], rng: random.Random) -> list[Probe]:
    """Queries of every kind: common, middling and rare words, AND, OR, a phrase, a prefix, a field."""
    made = []
    for rank in (3, 30, 300, 3000):
        made.append(Probe("word", words[rank], (words[rank],)))
    made.append(Probe("and", f"{words[5]} {words[50]}", (words[5], words[50])))
    made.append(Probe("or", f"{words[400]} OR {words[900]}", (words[400], words[900])))
    phrase = rng.choice(sample).content.split()[20:22]  # type: ignore[union-attr]
    made.append(Probe("phrase", f'"{phrase[0]} {phrase[1]}"', tuple(phrase)))
    made.append(Probe("prefix", f"{words[100][:4]}*", (words[100][:4],)))
    made.append(Probe("name", f"name:{words[8]}", (words[8],)))
    return made


class Direct:
    """The same queries on tantivy itself: the owner's documents, BM25, the 20 best, their ids."""

    def __init__(self, path: Path) -> None:
        self.index = tantivy_schema.open_index(path)
        self.searcher = self.index.searcher()
        self.stem = tantivy_schema.ANALYZERS[tantivy_schema.ANALYZER_OF["content"]]

    def search(self, owner: str, probe: Probe, content: bool) -> list[str]:
        fields = ["name", "tags_text", "description"] + (["content"] if content else [])
        schema = tantivy_schema.SCHEMA
        occur = tantivy.Occur

        def anywhere(word: str) -> tantivy.Query:
            return tantivy.Query.boolean_query(
                [
                    (occur.Should, tantivy.Query.term_query(schema, field, self.stem.analyze(word)[0]))
                    for field in fields
                ]
            )

        if probe.kind in ("word", "and"):
            query = tantivy.Query.boolean_query([(occur.Must, anywhere(word)) for word in probe.words])
        elif probe.kind == "or":
            query = tantivy.Query.boolean_query([(occur.Should, anywhere(word)) for word in probe.words])
        elif probe.kind == "phrase":
            terms: list[str | tuple[int, str]] = [self.stem.analyze(word)[0] for word in probe.words]
            query = tantivy.Query.boolean_query(
                [(occur.Should, tantivy.Query.phrase_query(schema, field, terms)) for field in fields]
            )
        elif probe.kind == "prefix":
            query = tantivy.Query.boolean_query(
                [(occur.Should, tantivy.Query.regex_query(schema, field, f"{probe.words[0]}.*")) for field in fields]
            )
        else:
            query = tantivy.Query.term_query(schema, "name", probe.words[0])
        owned = tantivy.Query.boolean_query(
            [(occur.Must, tantivy.Query.term_query(schema, "owner", owner)), (occur.Must, query)]
        )
        result = self.searcher.search(owned, 20)
        return [self.searcher.doc(address)["id"][0] for _, address in result.hits]


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def run(*, quick: bool, command: str) -> str:
    total = 10_000 if quick else OWNERS * SEARCHED_PER_OWNER
    rounds = 2 if quick else 10
    rng = random.Random(20261122)
    with (
        tempfile.TemporaryDirectory() as folder,
        embedded_aws(Path(folder), run_workers=True, queue_wait_seconds=1) as (
            settings,
            _,
        ),
    ):
        premium = accounts.create(
            email="premium@bench.example", password_hash="-", plan=Plan.PREMIUM, home_region="us-west-2"
        )
        free = accounts.create(email="free@bench.example", password_hash="-", plan=Plan.FREE, home_region="us-west-2")
        tokens = {
            premium.id: sessions.create(premium.id, 24 * 3600)[0],
            free.id: sessions.create(free.id, 24 * 3600)[0],
        }
        owners = [premium.id, free.id] + [str(ULID()) for _ in range(OWNERS - 2)]
        print(f"[search] making {total:,} documents of about 1 KB", flush=True)
        made, words = corpus(total, owners, rng)

        print("[search] indexing them in bulk (a rebuild's path)", flush=True)
        generation, writer = TantivyIndex.new_generation(settings.search_dir)
        started = time.perf_counter()
        for batch in range(0, len(made), 1000):
            writer.upsert(made[batch : batch + 1000])
        writer.commit()
        bulk_seconds = time.perf_counter() - started
        writer.close()
        TantivyIndex.promote(settings.search_dir, generation)

        searched = [doc for doc in made if doc.owner_id in tokens]
        print(f"[search] writing the {len(searched):,} records of the two searching accounts", flush=True)
        with documents.Document.batch_write() as batch_writer:
            for doc in searched:
                batch_writer.save(record(doc))

        queries = probes(words, searched, rng)
        direct = Direct(settings.search_dir / generation)
        adapter = TantivyIndex.open(settings.search_dir)
        samples: dict[str, list[float]] = {"api": [], "adapter": [], "tantivy": [], "me": [], "batchget": []}
        hydrated = {owner: [doc.document_id for doc in searched if doc.owner_id == owner][:20] for owner in tokens}
        with ServedApp(create_app, settings) as server, httpx.Client(base_url=server.url, timeout=30) as http:

            def through_api(owner: str, probe: Probe) -> None:
                body = http.post(
                    "/graphql",
                    json={"query": OPERATION, "variables": {"query": probe.text}},
                    headers={"authorization": f"Bearer {tokens[owner]}"},
                ).json()
                assert body["data"]["search"]["__typename"] == "SearchConnection", body

            def me(owner: str) -> None:
                body = http.post(
                    "/graphql", json={"query": "{ me { id } }"}, headers={"authorization": f"Bearer {tokens[owner]}"}
                ).json()
                assert body["data"]["me"]["id"] == owner, body

            def through_adapter(owner: str, probe: Probe) -> None:
                adapter.refresh()
                adapter.search(owner, probe.text, content=owner == premium.id, flt=SearchFilter(), offset=0, limit=20)

            for owner in tokens:  # warm up, and check the three agree on what they find
                for probe in queries:
                    through_api(owner, probe)
                    through_adapter(owner, probe)
            print(f"[search] {rounds} rounds of {len(queries)} queries x 2 accounts, each three ways", flush=True)
            for number in range(rounds):
                for owner in tokens:
                    for probe in queries:
                        sides: list[tuple[str, Callable[[], Any]]] = [
                            ("api", functools.partial(through_api, owner, probe)),
                            ("adapter", functools.partial(through_adapter, owner, probe)),
                            ("tantivy", functools.partial(direct.search, owner, probe, owner == premium.id)),
                            ("me", functools.partial(me, owner)),
                            ("batchget", functools.partial(documents.get_many, owner, hydrated[owner])),
                        ]
                        if number % 2:
                            sides.reverse()
                        for name, call in sides:
                            samples[name].append(timed(call))
            lags = rename_lags(
                http, tokens[premium.id], [doc for doc in searched if doc.owner_id == premium.id], 5 if quick else 20
            )
    return report(command, total, bulk_seconds, samples, lags, len(queries), rounds)


def record(doc: IndexedDocument) -> documents.Document:
    key = keys.original(doc.owner_id, doc.document_id, "bench")
    return documents.Document(
        owner_id=doc.owner_id,
        document_id=doc.document_id,
        name=doc.name,
        name_folded=documents.fold(doc.name),
        name_key=documents.name_key(doc.name, doc.document_id),
        content_type=doc.content_type,
        size=len(doc.content or ""),
        declared_size=len(doc.content or ""),
        tags=list(doc.tags),
        description=doc.description,
        status=DocumentStatus.READY,
        object_key=key,
        created_at=doc.created_at,
        updated_at=doc.updated_at,
        updated_key=documents.updated_key(doc.updated_at, doc.document_id),
        upload_expires_at=doc.created_at,
    )


def rename_lags(http: httpx.Client, token: str, docs: list[IndexedDocument], count: int) -> list[float]:
    """Rename documents through the API; how long until search finds each by its new name (ms)."""
    operation = "mutation($input: UpdateDocumentInput!) { updateDocument(input: $input) { __typename } }"
    headers = {"authorization": f"Bearer {token}"}
    lags = []
    for number, doc in enumerate(docs[:count]):
        name = f"renamed{number}x{time.time_ns()}"
        started = time.perf_counter()
        http.post(
            "/graphql",
            json={"query": operation, "variables": {"input": {"id": doc.document_id, "name": name}}},
            headers=headers,
        )
        while True:
            body = http.post(
                "/graphql", json={"query": OPERATION, "variables": {"query": name}}, headers=headers
            ).json()
            if body["data"]["search"].get("edges"):
                break
            if time.perf_counter() - started > 30:
                raise RuntimeError("a rename did not show in search within 30 s")
            time.sleep(0.005)
        lags.append((time.perf_counter() - started) * 1000)
    return lags


def report(
    command: str,
    total: int,
    bulk_seconds: float,
    samples: dict[str, list[float]],
    lags: list[float],
    queries: int,
    rounds: int,
) -> str:
    def p(name: str, q: float) -> float:
        return percentile(samples[name], q)

    rows = "\n".join(
        f"| {label} | {p(name, 50):.2f} | {p(name, 95):.2f} "
        f"| {p(name, 50) / p('tantivy', 50):.1f} | {p(name, 95) / p('tantivy', 95):.1f} |"
        for name, label in (
            ("tantivy", "tantivy directly"),
            ("adapter", "DocStore's adapter (parse, owner filter, snippets)"),
            ("api", "GraphQL API (HTTP, auth, adapter, DynamoDB BatchGet)"),
            ("me", "for scale: `{ me { id } }` through the API (HTTP, auth, GraphQL; no search)"),
            ("batchget", "for scale: the BatchGet of 20 records the API makes, on moto, from the bench process"),
        )
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""## Search over {total:,} documents: the API against tantivy directly

Run {when}: `{command}`, on 2 cores, tantivy-py 0.27 ({getattr(tantivy, "__version__", "")}).

{total:,} documents of about 1 KB ({WORDS_PER_DOCUMENT} words drawn from {VOCABULARY:,} with Zipf weights) of
{OWNERS} owners in one index. Two accounts search: PREMIUM (every field) and FREE (names, tags,
descriptions). {queries} queries (common, middling and rare words, AND, OR, a phrase, a prefix, `name:`),
each account, {rounds} rounds, the three ways alternating in order; one request at a time. "tantivy
directly" builds the equivalent query objects by hand, filters by owner and reads the 20 best ids;
the adapter adds parsing DocStore's language, the refresh check and snippets; the API adds HTTP,
the session lookup, GraphQL, and one DynamoDB BatchGet for the hits (moto).

| path | p50 ms | p95 ms | p50 / tantivy | p95 / tantivy |
|---|---|---|---|---|
{rows}

Indexing: {total / bulk_seconds:,.0f} documents/s in bulk through the adapter's writer (the rebuild's path,
one commit at the end). A rename through the API was found by its new name after
p50 {statistics.median(lags):.0f} ms, max {max(lags):.0f} ms ({len(lags)} renames: the message, the indexer's
DynamoDB read, its group commit, the reader's refresh).
"""
