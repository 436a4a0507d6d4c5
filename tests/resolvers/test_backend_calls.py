"""What signing in and the operations that change a document send to DynamoDB, S3 and SQS,
counted exactly (issue 9, item 4: ``bench/backend_calls.py`` counts every operation). Each count
is what the operation needs; a read of something it already read, or that its own write answered,
makes it fail.

Each request of the operation under test is counted: DynamoDB through PynamoDB's
``pre_dynamodb_send`` signal, S3 and SQS through a ``before-send`` handler on the app's own
clients; a context variable (which the request's blocking threads inherit) keeps out everything
else the process sends. The app runs no workers, keeps its read cache an hour and removes its
outbox messages only after the test, so what a request sends does not depend on the machine's
speed."""

from __future__ import annotations

import contextvars
import uuid
from collections import Counter, defaultdict
from typing import Any

import anyio
import httpx
from pynamodb.signals import pre_dynamodb_send

from domain.plans import Plan
from models import documents, processing
from server import create_app
from tests import plain_http
from tests.client import PASSWORD, Api, operation, post_form

_counting: contextvars.ContextVar[bool] = contextvars.ContextVar("counting_backend_calls", default=False)

Costs = dict[str, dict[str, int]]


class Requests:
    """The requests sent while ``_counting`` is set: by service, then by operation."""

    def __init__(self) -> None:
        self.counts: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def dynamodb(self, _sender: Any, *, operation_name: str, **_: Any) -> None:
        if _counting.get():
            self.counts["dynamodb"][operation_name] += 1

    def before_send(self, event_name: str, **_: Any) -> None:
        _, service, name = event_name.split(".", 2)
        if _counting.get():
            self.counts[service][name] += 1

    def taken(self) -> Costs:
        costs = {service: dict(counts) for service, counts in self.counts.items() if counts}
        self.counts.clear()
        return costs


class Client:
    """One app's GraphQL endpoint in this process; each call optionally counted."""

    def __init__(self, http: httpx.AsyncClient, requests: Requests) -> None:
        self.http = http
        self.requests = requests
        self.token = ""
        self.costs: dict[str, Costs] = {}

    async def call(self, name: str, variables: dict[str, Any] | None = None, counted_as: str = "") -> Any:
        self.requests.taken()
        token = _counting.set(bool(counted_as))
        try:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            body = {"query": operation(name), "variables": variables or {}}
            answer = (await self.http.post("/graphql", json=body, headers=headers)).json()
        finally:
            _counting.reset(token)
        assert "errors" not in answer, answer
        if counted_as:
            self.costs[counted_as] = self.requests.taken()
        return next(iter(answer["data"].values()))

    async def document(self, document_id: str) -> dict[str, Any]:
        """The document as a fresh read finds it (not counted)."""
        found: dict[str, Any] = await self.call("Document", {"id": document_id})
        return found


def run(settings, flow) -> dict[str, Costs]:
    """``flow(client)`` on an app of its own with every S3 and SQS client of the app counted."""
    requests = Requests()
    pre_dynamodb_send.connect(requests.dynamodb)
    app = create_app(
        settings.with_overrides(run_workers=False, cache_seconds=3600, outbox_remove_seconds=3600),
    )

    async def main() -> dict[str, Costs]:
        async with (
            app.router.lifespan_context(app),
            plain_http.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60) as http,
        ):
            services = app.state.services
            clients = {
                id(client): client
                for client in [services.objects.client, *(q.client for q in services.queues.values())]
            }
            for client in clients.values():
                client.meta.events.register("before-send", requests.before_send)
            client = Client(http, requests)
            await flow(client)
            return client.costs

    try:
        return anyio.run(main)
    finally:
        pre_dynamodb_send.disconnect(requests.dynamodb)


async def sign_up(client: Client) -> dict[str, str]:
    credentials = {"email": f"calls-{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD}
    client.token = (await client.call("SignUp", {"input": credentials}))["token"]
    return credentials


async def upload(client: Client, content: bytes, counted_as: str, **fields: Any) -> dict[str, Any]:
    """requestUpload, the form posted to S3, completeUpload (counted): its answer."""
    upload_fields = {"filename": "calls.txt", "contentType": "text/plain", "size": len(content), **fields}
    form = await client.call("RequestUpload", {"input": upload_fields})
    await anyio.to_thread.run_sync(post_form, form, content)
    completed: dict[str, Any] = await client.call(
        "CompleteUpload", {"input": {"documentId": form["documentId"]}}, counted_as
    )
    return completed


def processed(owner_id: str, document_id: str) -> None:
    """As the pipeline leaves it (no workers here): counted, READY."""
    record = documents.get(owner_id, document_id)
    assert processing.count(record, plan=Plan.FREE, content_type="text/plain")
    record.update(actions=[documents.Document.status.set("READY")])


def shown(answer: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    """The fields of a fresh read that ``answer`` selected."""
    return {field: fresh[field] for field in answer if field != "__typename"}


def test_sign_in_reads_the_account_once_and_its_first_request_neither_it_nor_the_session(
    settings, target, api: Api
) -> None:
    """Signed up on the live server: another process than the one signed in to, whose read cache
    holds nothing of the account."""
    user = api.sign_up()
    credentials = {"email": user.email, "password": PASSWORD}

    async def flow(client: Client) -> None:
        client.token = (await client.call("SignIn", {"input": credentials}, "signIn"))["token"]
        await client.call("Documents", counted_as="documents")
        # Again, holding that token (as the bench's flow signs in): the operation's own lookup of
        # it, for its request budget, finds the session and account the first signIn kept.
        client.token = (await client.call("SignIn", {"input": credentials}, "signIn, signed in"))["token"]
        await client.call("Me", counted_as="me")

    costs = run(settings, flow)

    # The email's claim, then the account (its password hash), each once; the new session.
    assert costs["signIn"] == costs["signIn, signed in"] == {"dynamodb": {"GetItem": 2, "PutItem": 1}}
    # Neither the session nor the account: signIn kept both as it wrote and read them.
    assert costs["documents"] == {"dynamodb": {"Query": 1}}
    # The account read as stored, for its usage (the read cache does not follow byte counts).
    assert costs["me"] == {"dynamodb": {"GetItem": 1}}


def test_document_changes_read_nothing_twice_and_answer_what_a_fresh_read_finds(
    settings, target, own_tables: str
) -> None:
    """On tables of its own: the live server's workers, which read the same queues, find none of
    these documents to process meanwhile (which would race these requests into reading again)."""
    answers: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

    async def flow(client: Client) -> None:
        await sign_up(client)
        me = await client.call("Me")  # the session and the account in the read cache
        created = await upload(client, b"first version", "completeUpload")
        document_id = created["id"]
        answers["completeUpload"] = (created, await client.document(document_id))
        changes = {"id": document_id, "name": "renamed.txt", "tags": ["calls"], "description": "counted"}
        updated = await client.call("UpdateDocument", {"input": changes}, "updateDocument")
        answers["updateDocument"] = (updated, await client.document(document_id))
        await anyio.to_thread.run_sync(processed, me["id"], document_id)
        version = await upload(client, b"second version!", "completeUpload (new version)", documentId=document_id)
        answers["completeUpload (new version)"] = (version, await client.document(document_id))
        deleted = await client.call("DeleteDocument", {"input": {"id": document_id}}, "deleteDocument")
        answers["deleteDocument"] = (deleted, {"id": document_id, "freedBytes": 13 + 15})

    costs = run(settings, flow)

    for label, (answer, fresh) in answers.items():
        assert answer == {"__typename": answer["__typename"], **shown(answer, fresh)}, label
    assert answers["completeUpload (new version)"][1]["version"] == 2
    # The upload as read, the change feed's head (the next number), the transaction that counts
    # it: not the document again after it.
    assert costs["completeUpload"] == {
        "dynamodb": {"GetItem": 2, "TransactWriteItems": 1},
        "s3": {"CopyObject": 1, "HeadObject": 1},
        "sqs": {"SendMessage": 1},
    }
    assert costs["updateDocument"] == {
        "dynamodb": {"GetItem": 2, "TransactWriteItems": 1},
        "sqs": {"SendMessage": 1},
    }
    # The upload and the document it is a version of, each read once, and the feed's head.
    assert costs["completeUpload (new version)"] == {
        "dynamodb": {"GetItem": 3, "TransactWriteItems": 1},
        "s3": {"CopyObject": 1, "HeadObject": 1},
        "sqs": {"SendMessage": 1},
    }
    # The document and the feed's head; its earlier versions once (their sizes, then the rows
    # deleted: BatchWriteItem), its links, shares and version uploads; the counted plan is the
    # read cache's, which the transaction checks. Its objects: one listing, one delete, the earlier
    # version's object with them (under the document's prefix).
    assert costs["deleteDocument"] == {
        "dynamodb": {"GetItem": 2, "Query": 4, "TransactWriteItems": 1, "BatchWriteItem": 1},
        "s3": {"ListObjectsV2": 1, "DeleteObjects": 1},
        "sqs": {"SendMessage": 2},
    }
