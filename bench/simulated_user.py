"""One simulated person using DocStore over its public API, as a client program would: GraphQL over
HTTP with the documents in ``gql/operations/``, files posted straight to the signed S3 form and
downloaded from the signed link, and one ``documentEvents`` subscription over graphql-transport-ws
held from sign-up to the end. Every request is timed and checked; what a request got wrong is
counted as an error of that operation and ends the action it was part of."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fpdf import FPDF
from PIL import Image, ImageDraw
from websockets.asyncio.client import ClientConnection, connect

OPERATIONS = Path(__file__).resolve().parent.parent / "gql" / "operations"
PROTOCOL = "graphql-transport-ws"
PASSWORD = "bench horse battery staple"
#: The only host the benchmark ever talks to.
HOST = "127.0.0.1"
#: Words of file names (and of text files' contents): what ``search`` looks for.
WORDS = [
    "invoice",
    "plumber",
    "electrician",
    "contract",
    "lease",
    "receipt",
    "garden",
    "holiday",
    "insurance",
    "passport",
    "mortgage",
    "payslip",
    "recipe",
    "manual",
    "warranty",
    "letter",
    "report",
    "minutes",
    "agenda",
    "budget",
]
#: What a person does, equally often.
ACTIONS = ("list", "search", "upload", "download", "rename")
#: The root field each operation answers under, and the ``__typename`` of a good answer (None: any).
FIELDS: dict[str, tuple[str, str | None]] = {
    "SignUp": ("signUp", "AuthPayload"),
    "Me": ("me", None),
    "Documents": ("documents", None),
    "Search": ("search", "SearchConnection"),
    "RequestUpload": ("requestUpload", "UploadForm"),
    "CompleteUpload": ("completeUpload", "Document"),
    "Document": ("document", None),
    "UpdateDocument": ("updateDocument", "Document"),
}


def operation(name: str) -> str:
    (path,) = OPERATIONS.glob(f"*/{name}.graphql")
    return path.read_text()


QUERIES = {name: operation(name) for name in FIELDS}
SUBSCRIPTION = operation("DocumentEvents")


# -- files -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    stem: str
    extension: str
    content_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def make_files(count: int, seed: int = 9) -> list[File]:
    """``count`` files of each kind, all different: text, a one-page PDF with a text layer (fpdf2),
    a PNG with a line of text drawn on it (Pillow). A few kilobytes each."""
    chance = random.Random(seed)
    files = []
    for number in range(count):
        words = [chance.choice(WORDS) for _ in range(3)]
        lines = [" ".join(chance.choice(WORDS) for _ in range(8)) for _ in range(chance.randint(5, 40))]
        stem = f"{words[0]}-{words[1]}-{number}"
        files.append(File(stem, "txt", "text/plain", ("\n".join(lines) + "\n").encode()))
        pdf = FPDF()
        pdf.set_font("Helvetica", size=12)
        pdf.add_page()
        for line in lines:
            pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
        files.append(File(f"{words[1]}-{words[2]}-{number}", "pdf", "application/pdf", bytes(pdf.output())))
        image = Image.new("RGB", (320, 80), "white")
        ImageDraw.Draw(image).text((10, 30), " ".join(words), fill="black")
        png = io.BytesIO()
        image.save(png, "PNG")
        files.append(File(f"{words[2]}-{words[0]}-{number}", "png", "image/png", png.getvalue()))
    return files


# -- what was measured -----------------------------------------------------------------------------


class Failed(Exception):
    """A request answered wrongly (or not at all); already counted against its operation."""


@dataclass
class Recorder:
    """The latency of every request (answered well or not: it is what the person waited) and the
    errors, by operation, over one phase."""

    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    examples: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    actions: int = 0

    def record(self, name: str, seconds: float) -> None:
        self.latencies[name].append(seconds)

    def fail(self, name: str, message: str) -> Failed:
        self.errors[name] += 1
        if len(self.examples[name]) < 3:
            self.examples[name].append(message[:300])
        return Failed(f"{name}: {message}")

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())


@dataclass
class Stored:
    """A document this person uploaded and completed, as they last named it."""

    name: str
    file: File
    phase: str
    #: ``time.perf_counter()`` when completeUpload answered.
    completed: float


@dataclass(eq=False)
class User:
    number: int
    http: httpx.AsyncClient
    api: str
    chance: random.Random
    files: list[File]
    email: str = ""
    token: str = ""
    documents: dict[str, Stored] = field(default_factory=dict)
    #: Uploads whose form was handed out but whose completion was not confirmed: the bytes may count.
    unconfirmed: dict[str, int] = field(default_factory=dict)
    #: ``time.perf_counter()`` at the receipt of each document's DocumentReady event, by document id.
    ready: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    #: What went wrong with the subscription, if anything did.
    subscription_problem: str | None = None
    connection: ClientConnection | None = None
    reader: asyncio.Task[None] | None = None
    uploads: int = 0

    # -- requests ---------------------------------------------------------------------------------

    async def graphql(self, recorder: Recorder, name: str, variables: dict[str, Any] | None = None) -> Any:
        """Run operation ``name``; its root field's value when the answer is a good one."""
        root, typename = FIELDS[name]
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"query": QUERIES[name], "operationName": name, "variables": variables or {}}
        start = time.perf_counter()
        try:
            response = await self.http.post(self.api, json=body, headers=headers)
        except httpx.HTTPError as error:
            elapsed = time.perf_counter() - start
            recorder.record(name, elapsed)
            raise recorder.fail(name, f"{type(error).__name__} after {elapsed:.3f} s: {error}") from error
        recorder.record(name, time.perf_counter() - start)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        value = (answer.get("data") or {}).get(root) if isinstance(answer, dict) else None
        if response.status_code != 200 or "errors" in answer or value is None:
            raise recorder.fail(name, f"HTTP {response.status_code}: {response.text[:300]}")
        if typename is not None and value.get("__typename") != typename:
            raise recorder.fail(name, f"answered {value.get('__typename')}: {json.dumps(value)[:300]}")
        return value

    async def fetch(self, recorder: Recorder, name: str, method: str, url: str, **options: Any) -> httpx.Response:
        """A request to S3 (the signed form or link), only ever to 127.0.0.1."""
        if urlsplit(url).hostname != HOST:
            raise recorder.fail(name, f"a URL outside {HOST}, not followed: {urlsplit(url).hostname}")
        start = time.perf_counter()
        try:
            response = await self.http.request(method, url, **options)
        except httpx.HTTPError as error:
            elapsed = time.perf_counter() - start
            recorder.record(name, elapsed)
            raise recorder.fail(name, f"{type(error).__name__} after {elapsed:.3f} s: {error}") from error
        recorder.record(name, time.perf_counter() - start)
        if not response.is_success:
            raise recorder.fail(name, f"HTTP {response.status_code}: {response.text[:300]}")
        return response

    # -- a session --------------------------------------------------------------------------------

    async def sign_up(self, recorder: Recorder, run: str) -> None:
        self.email = f"bench-user-{run}-{self.number}@example.com"
        payload = await self.graphql(recorder, "SignUp", {"input": {"email": self.email, "password": PASSWORD}})
        self.token = payload["token"]

    async def subscribe(self, recorder: Recorder, ws_url: str) -> None:
        """Connect, authenticate in ``connection_init``, subscribe to ``documentEvents``, start reading."""
        start = time.perf_counter()
        try:
            # No client pings: a server too busy to answer one in time must not cost the subscription.
            self.connection = await connect(
                ws_url,
                subprotocols=[PROTOCOL],  # type: ignore[list-item]
                open_timeout=120,
                ping_interval=None,
            )
            init = {"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}
            await self.connection.send(json.dumps(init))
            ack = json.loads(await asyncio.wait_for(self.connection.recv(), 120))
        except (OSError, TimeoutError, ValueError) as error:
            recorder.record("subscribe", time.perf_counter() - start)
            raise recorder.fail("subscribe", f"{type(error).__name__}: {error}") from error
        recorder.record("subscribe", time.perf_counter() - start)
        if ack != {"type": "connection_ack"}:
            raise recorder.fail("subscribe", f"connection_init answered {ack}")
        subscribe = {"query": SUBSCRIPTION, "operationName": "DocumentEvents", "variables": {}}
        await self.connection.send(json.dumps({"id": "events", "type": "subscribe", "payload": subscribe}))
        self.reader = asyncio.create_task(self._read(self.connection))

    async def _read(self, connection: ClientConnection) -> None:
        try:
            async for raw in connection:
                now = time.perf_counter()
                message = json.loads(raw)
                if message.get("type") == "ping":
                    await connection.send(json.dumps({"type": "pong"}))
                    continue
                if message.get("type") != "next" or "errors" in message.get("payload", {}):
                    self.subscription_problem = f"unexpected message: {json.dumps(message)[:300]}"
                    return
                event = message["payload"]["data"]["documentEvents"]
                if event["__typename"] == "DocumentReady":
                    self.ready.setdefault(event["documentId"], now)
                elif event["__typename"] == "DocumentFailed":
                    self.failed[event["documentId"]] = event["reason"]
            self.subscription_problem = f"closed by the server: {connection.close_code} {connection.close_reason}"
        except Exception as error:  # the run goes on; the report says the subscription broke and why
            self.subscription_problem = f"{type(error).__name__}: {error}"

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.connection is not None:
            await self.connection.close()

    # -- actions ----------------------------------------------------------------------------------

    async def act(self, recorder: Recorder, phase: str) -> None:
        """One action, chosen at random; with nothing stored yet, downloading or renaming uploads."""
        action = self.chance.choice(ACTIONS)
        if action in ("download", "rename") and not self.documents:
            action = "upload"
        try:
            if action == "list":
                await self.graphql(recorder, "Documents", {"first": 20})
            elif action == "search":
                await self.graphql(recorder, "Search", {"query": self.chance.choice(WORDS)})
            elif action == "upload":
                await self.upload(recorder, phase)
            elif action == "download":
                await self.download(recorder)
            else:
                await self.rename(recorder)
        except Failed:
            pass  # counted where it happened; the person goes on with the next action

    async def upload(self, recorder: Recorder, phase: str) -> None:
        file = self.chance.choice(self.files)
        self.uploads += 1
        name = f"{file.stem}-{self.number}-{self.uploads}.{file.extension}"
        request = {"filename": name, "contentType": file.content_type, "size": len(file.data), "tags": ["bench"]}
        form = await self.graphql(recorder, "RequestUpload", {"input": request})
        document_id = form["documentId"]
        self.unconfirmed[document_id] = len(file.data)
        fields = {item["name"]: item["value"] for item in form["fields"]}
        # Encoded here, whole, and sent as one body: httpx streams a multipart body a part at a time,
        # one turn of the event loop each, so 100 people on one loop made a POST of a few KB take
        # seconds of the client's own time (seen with httpx's trace: 1.3-2.4 s in send_request_body).
        encoded = httpx.Request("POST", form["url"], data=fields, files={"file": (name, file.data, file.content_type)})
        await self.fetch(
            recorder,
            "S3 POST form",
            "POST",
            form["url"],
            content=encoded.read(),
            headers={"Content-Type": encoded.headers["Content-Type"]},
        )
        document = await self.graphql(recorder, "CompleteUpload", {"input": {"documentId": document_id}})
        completed = time.perf_counter()
        del self.unconfirmed[document_id]
        if document["size"] != len(file.data) or document["checksum"] is None:
            raise recorder.fail("CompleteUpload", f"counted {document['size']} bytes of {len(file.data)}")
        self.documents[document_id] = Stored(name, file, phase, completed)

    async def download(self, recorder: Recorder) -> None:
        document_id = self.chance.choice(list(self.documents))
        stored = self.documents[document_id]
        document = await self.graphql(recorder, "Document", {"id": document_id})
        if not document.get("downloadUrl"):
            raise recorder.fail("Document", f"no downloadUrl while {document['status']}")
        response = await self.fetch(recorder, "S3 GET link", "GET", document["downloadUrl"])
        if hashlib.sha256(response.content).hexdigest() != stored.file.digest:
            raise recorder.fail(
                "S3 GET link", f"{len(response.content)} bytes, not the {len(stored.file.data)} uploaded"
            )

    async def rename(self, recorder: Recorder) -> None:
        document_id = self.chance.choice(list(self.documents))
        stored = self.documents[document_id]
        stem, _, extension = stored.name.rpartition(".")
        name = f"{stem.split('~')[0]}~{self.chance.choice(WORDS)}.{extension}"
        document = await self.graphql(recorder, "UpdateDocument", {"input": {"id": document_id, "name": name}})
        if document["name"] != name:
            raise recorder.fail("UpdateDocument", f"named {document['name']!r}, not {name!r}")
        stored.name = name

    # -- the end ----------------------------------------------------------------------------------

    @property
    def stored_bytes(self) -> int:
        return sum(len(stored.file.data) for stored in self.documents.values())
