"""Two regions: one API process per region against one moto server, which keeps regions apart.

us-west-2 runs its workers (the account sync among them) inside its API process; ap-southeast-2
leaves them to a separate `docstore worker` process. Both use the table prefix `regions`, so the
session's in-process workers (`test-*` queues) never take their messages.

us-west-2's process refuses every SQS SendMessage while the test says so (``tests/refusing_sqs.py``):
what a change implies must still happen once SQS is back, through the outbox and its relay.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.aws import AwsTarget
from tests import plain_http, refusing_sqs
from tests.client import PASSWORD, Api, User, operation, post_form, sample
from tests.serving import Served, docstore, free_port, on_aws, start
from tests.subscriptions.conftest import open_socket

PREFIX = "regions"
HOME, OTHER = "us-west-2", "ap-southeast-2"
REPLICA_ATTRIBUTES = {"id", "email", "home_region", "plan", "password_hash", "version", "created_at"}


@dataclass
class Regions:
    aws_endpoint: str
    urls: dict[str, str]
    #: While this file exists, us-west-2's SQS refuses every message.
    refusal: Path
    processes: list[Served] = field(default_factory=list)

    @contextlib.contextmanager
    def sqs_refusing(self) -> Iterator[None]:
        self.refusal.touch()
        try:
            yield
        finally:
            self.refusal.unlink()

    def outbox(self, region: str, **about: str) -> list[dict[str, Any]]:
        """The messages waiting in ``region``'s outbox whose body has the ``about`` values."""
        waiting = [{**item, "body": json.loads(item["body"])} for item in self.scan(region, "outbox")]
        return [item for item in waiting if all(item["body"].get(name) == value for name, value in about.items())]

    def until(self, what: str, check: Any, timeout: float = 60) -> Any:
        """``check()`` once it is truthy (the relay and the workers act in the background)."""
        deadline = time.monotonic() + timeout
        while not (found := check()):
            assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
            time.sleep(0.1)
        return found

    def api(self, region: str) -> Api:
        return Api(self.urls[region])

    def client(self, region: str, service: str) -> Any:
        target = AwsTarget(region, self.aws_endpoint, "testing", "testing", pool_size=4)
        return target.client(service)

    def item(self, region: str, table: str, key: dict[str, str]) -> dict[str, Any] | None:
        response = self.client(region, "dynamodb").get_item(
            TableName=f"{PREFIX}-{table}",
            Key={name: {"S": value} for name, value in key.items()},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return None if item is None else {name: next(iter(value.values())) for name, value in item.items()}

    def scan(self, region: str, table: str, **equal: str) -> list[dict[str, Any]]:
        items = self.client(region, "dynamodb").scan(TableName=f"{PREFIX}-{table}", ConsistentRead=True)["Items"]
        plain = [{name: next(iter(value.values())) for name, value in item.items()} for item in items]
        return [item for item in plain if all(item.get(name) == value for name, value in equal.items())]

    def replica(self, region: str, account_id: str, **expected: str) -> dict[str, Any]:
        """The account's row in ``region`` once it is there (and has ``expected`` values)."""
        deadline = time.monotonic() + 60
        while True:
            item = self.item(region, "accounts", {"id": account_id})
            if item is not None and all(item.get(name) == value for name, value in expected.items()):
                return item
            assert time.monotonic() < deadline, f"no replica of {account_id} {expected} in {region}: {item}"
            time.sleep(0.1)


def environment(aws_endpoint: str, region: str, regions: str, **extra: str) -> dict[str, str]:
    return on_aws(
        aws_endpoint,
        PREFIX,
        region=region,
        DOCSTORE_REGION=region,
        DOCSTORE_REGIONS=regions,
        DOCSTORE_QUEUE_WAIT_SECONDS="1",
        DOCSTORE_EXTRACTION_PROCESSES="1",
        # The relay looks every second for messages a second old, and backs off to 2 s at most.
        DOCSTORE_OUTBOX_RELAY_SECONDS="1",
        DOCSTORE_OUTBOX_AGE_SECONDS="1",
        DOCSTORE_OUTBOX_BACKOFF_SECONDS="2",
        **extra,
    )


@pytest.fixture(scope="module")
def regions(aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regions]:
    folder = tmp_path_factory.mktemp("regions")
    ports = {HOME: free_port(), OTHER: free_port()}
    urls = {region: f"http://127.0.0.1:{port}" for region, port in ports.items()}
    spec = ",".join(f"{region}={url}" for region, url in urls.items())
    stack = Regions(aws_endpoint, urls, folder / "refuse-sqs")
    try:
        for region in (HOME, OTHER):
            init = docstore("init", env=environment(aws_endpoint, region, spec))
            assert init.returncode == 0, init.stderr
        for region, workers in ((HOME, "true"), (OTHER, "false")):
            env = environment(aws_endpoint, region, spec, DOCSTORE_RUN_WORKERS=workers)
            # us-west-2 runs through a wrapper whose SQS refuses every message while a file exists.
            module = "tests.refusing_sqs" if region == HOME else "server"
            if region == HOME:
                env[refusing_sqs.VARIABLE] = str(stack.refusal)
            served = start("serve", env=env, data_dir=folder / region, port=ports[region], module=module)
            stack.processes.append(served)
        # The other region's account sync runs in a worker process of its own.
        env = environment(aws_endpoint, OTHER, spec)
        stack.processes.append(start("worker", env=env, data_dir=folder / "worker"))
        yield stack
    finally:
        for process in stack.processes:
            process.end()


def post(url: str, name: str, variables: dict[str, Any] | None = None, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = plain_http.post(
        f"{url}/graphql", json={"query": operation(name), "variables": variables or {}}, headers=headers, timeout=60
    )
    assert response.status_code == 200, response.text
    return response


def home_headers(response: httpx.Response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in ("x-docstore-home-endpoint", "x-docstore-home-region")}


def sign_in(email: str, password: str = PASSWORD) -> dict[str, Any]:
    return {"input": {"email": email, "password": password}}


@pytest.fixture
def home_user(regions: Regions) -> User:
    """An account of us-west-2, once its replica has reached ap-southeast-2."""
    user = regions.api(HOME).sign_up()
    regions.replica(OTHER, user.id)
    return user


def test_sign_up_replicates_only_the_minimal_record_to_the_other_region(regions: Regions) -> None:
    user = regions.api(HOME).sign_up(plan="PREMIUM")

    replica = regions.replica(OTHER, user.id)

    home = regions.item(HOME, "accounts", {"id": user.id})
    assert home is not None
    assert set(replica) == REPLICA_ATTRIBUTES
    assert replica == {name: home[name] for name in REPLICA_ATTRIBUTES}
    assert (replica["home_region"], replica["plan"], replica["version"]) == (HOME, "PREMIUM", "0")
    assert regions.item(OTHER, "emails", {"email": user.email}) == {"email": user.email, "account_id": user.id}


def test_a_separate_worker_process_replicates_the_other_regions_sign_ups(regions: Regions) -> None:
    # ap-southeast-2's API runs no workers: only its `docstore worker` process can do this.
    user = regions.api(OTHER).sign_up()

    replica = regions.replica(HOME, user.id)

    assert (replica["home_region"], replica["email"]) == (OTHER, user.email)
    assert regions.item(HOME, "emails", {"email": user.email}) == {"email": user.email, "account_id": user.id}


def test_a_plan_change_reaches_the_replica_through_account_updated(regions: Regions, home_user: User) -> None:
    regions.client(HOME, "dynamodb").update_item(
        TableName=f"{PREFIX}-accounts",
        Key={"id": {"S": home_user.id}},
        UpdateExpression="SET #plan = :plan ADD #version :one",
        ExpressionAttributeNames={"#plan": "plan", "#version": "version"},
        ExpressionAttributeValues={":plan": {"S": "PREMIUM"}, ":one": {"N": "1"}},
    )
    sqs = regions.client(HOME, "sqs")
    queue = sqs.get_queue_url(QueueName=f"{PREFIX}-account-events")["QueueUrl"]
    body = {"type": "account.updated", "account_id": home_user.id, "key": uuid.uuid4().hex}
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))

    replica = regions.replica(OTHER, home_user.id, plan="PREMIUM")

    assert (replica["plan"], replica["version"], replica["home_region"]) == ("PREMIUM", "1", HOME)


def test_upgrade_plan_at_home_reaches_the_replica(regions: Regions, home_user: User) -> None:
    changed = regions.api(HOME).data("UpgradePlan", {"input": {"plan": "PREMIUM"}}, home_user.token)["upgradePlan"]
    assert (changed["__typename"], changed["previousPlan"]) == ("PlanChangePayload", "FREE")

    replica = regions.replica(OTHER, home_user.id, plan="PREMIUM")

    assert (replica["plan"], replica["version"], replica["home_region"]) == ("PREMIUM", "1", HOME)


def test_sign_in_at_the_wrong_region_with_the_right_password_names_the_home(regions: Regions, home_user: User) -> None:
    response = post(regions.urls[OTHER], "SignIn", sign_in(home_user.email.upper()))

    assert response.json() == {
        "data": {
            "signIn": {
                "__typename": "WrongRegionError",
                "message": f"This account lives in {HOME}: send this call to {regions.urls[HOME]}/graphql.",
                "homeRegion": HOME,
                "endpoint": regions.urls[HOME],
            }
        }
    }
    assert home_headers(response) == {
        "x-docstore-home-endpoint": regions.urls[HOME],
        "x-docstore-home-region": HOME,
    }
    assert regions.scan(OTHER, "sessions", account_id=home_user.id) == []
    signed_in = regions.api(HOME).data("SignIn", sign_in(home_user.email))["signIn"]
    assert signed_in["__typename"] == "AuthPayload"


def test_a_wrong_password_at_the_wrong_region_answers_as_an_unknown_email_does(
    regions: Regions, home_user: User
) -> None:
    wrong_password = post(regions.urls[OTHER], "SignIn", sign_in(home_user.email, "not the password"))
    unknown_email = post(regions.urls[OTHER], "SignIn", sign_in(f"nobody-{uuid.uuid4().hex[:8]}@example.com"))

    expected = {
        "data": {"signIn": {"__typename": "InvalidCredentialsError", "message": "The email or the password is wrong."}}
    }
    assert wrong_password.json() == expected
    assert unknown_email.json() == expected
    assert wrong_password.content == unknown_email.content
    nothing = {"x-docstore-home-endpoint": None, "x-docstore-home-region": None}
    assert home_headers(wrong_password) == home_headers(unknown_email) == nothing
    assert regions.scan(OTHER, "sessions", account_id=home_user.id) == []


@pytest.fixture
def stored(regions: Regions, home_user: User) -> dict[str, Any]:
    """A READY document of ``home_user`` in us-west-2."""
    document = regions.api(HOME).upload(home_user, sample("text/plain", "stays at home"))
    assert document["status"] == "READY"
    return document


QUERIES = [
    ("Me", lambda document: {}, "me"),
    ("Documents", lambda document: {}, "documents"),
    ("Document", lambda document: {"id": document["id"]}, "document"),
    ("SignOut", lambda document: {}, "signOut"),  # a payload, no union: the top-level error too
]
MUTATIONS = [
    ("RequestUpload", lambda document: {"input": {"filename": "a.txt", "contentType": "text/plain", "size": 3}}),
    ("CompleteUpload", lambda document: {"input": {"documentId": document["id"]}}),
    ("UpdateDocument", lambda document: {"input": {"id": document["id"], "name": "renamed.txt"}}),
    ("DeleteDocument", lambda document: {"input": {"id": document["id"]}}),
    ("UpgradePlan", lambda document: {"input": {"plan": "PREMIUM"}}),
    ("Search", lambda document: {"query": "home"}),  # a query, but its result is a union
]


@pytest.mark.parametrize(("name", "variables", "field"), QUERIES, ids=[entry[0] for entry in QUERIES])
def test_fields_without_a_union_answer_wrong_region_at_the_top_level(
    regions: Regions, home_user: User, stored: dict[str, Any], name: str, variables: Any, field: str
) -> None:
    response = post(regions.urls[OTHER], name, variables(stored), home_user.token)

    body = response.json()
    assert body["data"] is None
    assert [(error["path"], error["extensions"]) for error in body["errors"]] == [
        ([field], {"code": "WRONG_REGION", "homeRegion": HOME, "endpoint": regions.urls[HOME]})
    ]
    assert home_headers(response) == {"x-docstore-home-endpoint": regions.urls[HOME], "x-docstore-home-region": HOME}
    _nothing_changed_at_home(regions, home_user, stored)


@pytest.mark.parametrize(("name", "variables"), MUTATIONS, ids=[entry[0] for entry in MUTATIONS])
def test_mutations_with_a_union_answer_wrong_region_error(
    regions: Regions, home_user: User, stored: dict[str, Any], name: str, variables: Any
) -> None:
    response = post(regions.urls[OTHER], name, variables(stored), home_user.token)

    field = name[0].lower() + name[1:]
    assert response.json() == {
        "data": {
            field: {
                "__typename": "WrongRegionError",
                "message": f"This account lives in {HOME}: send this call to {regions.urls[HOME]}/graphql.",
                "homeRegion": HOME,
                "endpoint": regions.urls[HOME],
            }
        }
    }
    assert home_headers(response) == {"x-docstore-home-endpoint": regions.urls[HOME], "x-docstore-home-region": HOME}
    _nothing_changed_at_home(regions, home_user, stored)
    assert regions.scan(OTHER, "documents", owner_id=home_user.id) == []


def _nothing_changed_at_home(regions: Regions, user: User, document: dict[str, Any]) -> None:
    """The token still works at home (nothing signed it out) and the document is as it was."""
    home = regions.api(HOME).data("Document", {"id": document["id"]}, user.token)["document"]
    assert (home["name"], home["status"]) == (document["name"], "READY")


def test_a_subscription_at_the_wrong_region_closes_4421_naming_the_home(regions: Regions, home_user: User) -> None:
    with open_socket(regions.urls[OTHER].replace("http://", "ws://", 1) + "/graphql") as socket:
        socket.init(f"Bearer {home_user.token}")

        assert socket.closed() == (4421, f"WRONG_REGION {HOME} {regions.urls[HOME]}")


def test_sign_up_at_the_other_region_with_a_taken_email_is_refused_and_writes_nothing(
    regions: Regions, home_user: User
) -> None:
    accounts_before = regions.scan(OTHER, "accounts", email=home_user.email)
    variables = {"input": {"email": home_user.email, "password": "another passphrase"}}

    response = post(regions.urls[OTHER], "SignUp", variables)

    assert response.json() == {
        "data": {
            "signUp": {
                "__typename": "EmailTakenError",
                "message": f"An account with the email {home_user.email} already exists.",
                "email": home_user.email,
            }
        }
    }
    # The same answer as at home: nothing tells where the account lives.
    assert response.content == post(regions.urls[HOME], "SignUp", variables).content
    assert home_headers(response) == {"x-docstore-home-endpoint": None, "x-docstore-home-region": None}
    assert regions.scan(OTHER, "accounts", email=home_user.email) == accounts_before
    assert [account["id"] for account in accounts_before] == [home_user.id]
    assert regions.item(OTHER, "emails", {"email": home_user.email}) == {
        "email": home_user.email,
        "account_id": home_user.id,
    }


def test_uploaded_content_is_never_copied_to_the_other_region(
    regions: Regions, home_user: User, stored: dict[str, Any]
) -> None:
    def keys(region: str) -> list[str]:
        listed = regions.client(region, "s3").list_objects_v2(Bucket=f"docstore-{region}", Prefix=f"{home_user.id}/")
        return [entry["Key"] for entry in listed.get("Contents", [])]

    original = regions.item(HOME, "documents", {"owner_id": home_user.id, "document_id": stored["id"]})["object_key"]
    assert keys(HOME) == [original]
    assert original.startswith(f"{home_user.id}/{stored['id']}/")
    assert keys(OTHER) == []
    assert regions.scan(OTHER, "documents", owner_id=home_user.id) == []


def test_admin_grant_at_the_other_region_is_refused_and_changes_nothing(regions: Regions, home_user: User) -> None:
    spec = ",".join(f"{region}={url}" for region, url in regions.urls.items())

    granted = docstore("admin", "grant", home_user.email, env=environment(regions.aws_endpoint, OTHER, spec))

    assert granted.returncode == 1
    assert granted.stderr.splitlines()[-1] == f"docstore: {home_user.email} lives in {HOME}: run this command there"
    assert regions.item(HOME, "accounts", {"id": home_user.id})["role"] == "USER"
    assert regions.item(OTHER, "accounts", {"id": home_user.id}).get("role", "USER") == "USER"


def _counted_accounts(regions: Regions) -> int:
    counter = regions.item(HOME, "counters", {"name": "all"})
    return int(counter["accounts"]) if counter is not None else 0


def test_a_sign_up_while_sqs_refuses_is_counted_and_replicated_once_sqs_is_back(regions: Regions) -> None:
    counted_before = _counted_accounts(regions)

    with regions.sqs_refusing():
        user = regions.api(HOME).sign_up()

        home = regions.item(HOME, "accounts", {"id": user.id})
        assert home is not None
        assert "counted_plan" not in home
        waiting = regions.outbox(HOME, account_id=user.id)
        assert [(item["queue"], item["body"], item["delay_seconds"]) for item in waiting] == [
            ("account-events", {"type": "account.created", "account_id": user.id}, "0")
        ]
        assert regions.item(OTHER, "accounts", {"id": user.id}) is None

    replica = regions.replica(OTHER, user.id)
    regions.until("the outbox let go of account.created", lambda: not regions.outbox(HOME, account_id=user.id))
    regions.until(
        "the account counted", lambda: regions.item(HOME, "accounts", {"id": user.id}).get("counted_plan") == "FREE"
    )
    assert (replica["email"], replica["version"], replica["home_region"]) == (user.email, "0", HOME)
    assert _counted_accounts(regions) == counted_before + 1


def test_an_upload_completed_while_sqs_refuses_is_processed_once_sqs_is_back(regions: Regions, home_user: User) -> None:
    api = regions.api(HOME)
    content = sample("text/plain", "completed while SQS was away")
    form = api.request_upload(home_user, size=len(content))
    post_form(form, content)

    with regions.sqs_refusing():
        document = api.complete(home_user, form["documentId"])

        assert (document["status"], document["size"]) == ("PROCESSING", len(content))
        waiting = regions.outbox(HOME, document_id=form["documentId"], type="upload.completed")
        assert [item["queue"] for item in waiting] == ["upload-events"]

    settled = api.settled(home_user, form["documentId"])
    assert settled["status"] == "READY"
    regions.until(
        "the outbox let go of upload.completed", lambda: not regions.outbox(HOME, document_id=form["documentId"])
    )
    assert api.usage(home_user) == {
        "usedBytes": len(content),
        "reservedBytes": 0,
        "limitBytes": 5 * 1024**3,
        "documentCount": 1,
    }


def test_a_rename_while_sqs_refuses_reaches_search_once_sqs_is_back(
    regions: Regions, home_user: User, stored: dict[str, Any]
) -> None:
    api = regions.api(HOME)

    def found(word: str) -> list[str]:
        hits = api.data("Search", {"query": word}, home_user.token)["search"]
        return [edge["node"]["document"]["id"] for edge in hits["edges"]]

    with regions.sqs_refusing():
        renamed = api.data("UpdateDocument", {"input": {"id": stored["id"], "name": "quokka.txt"}}, home_user.token)

        assert renamed["updateDocument"]["name"] == "quokka.txt"
        waiting = regions.outbox(HOME, document_id=stored["id"], type="index.document")
        assert [item["queue"] for item in waiting] == ["search-index"]
        assert found("quokka") == []

    assert regions.until("search finds the new name", lambda: found("quokka")) == [stored["id"]]
    regions.until("the outbox let go of index.document", lambda: not regions.outbox(HOME, document_id=stored["id"]))


def test_a_plan_change_while_sqs_refuses_reaches_the_replica_once_sqs_is_back(
    regions: Regions, home_user: User
) -> None:
    # Its account.created went out at once; its removal from the outbox follows a second later.
    regions.until("account.created removed", lambda: not regions.outbox(HOME, account_id=home_user.id))

    with regions.sqs_refusing():
        changed = regions.api(HOME).data("UpgradePlan", {"input": {"plan": "PREMIUM"}}, home_user.token)

        assert changed["upgradePlan"]["account"]["plan"] == "PREMIUM"
        waiting = regions.outbox(HOME, account_id=home_user.id)
        assert sorted((item["queue"], item["body"]["type"]) for item in waiting) == [
            ("account-events", "account.updated"),
            ("backfill", "plan.changed"),
        ]
        assert regions.item(OTHER, "accounts", {"id": home_user.id})["plan"] == "FREE"

    replica = regions.replica(OTHER, home_user.id, plan="PREMIUM")
    regions.until("the outbox let go of both messages", lambda: not regions.outbox(HOME, account_id=home_user.id))
    assert (replica["plan"], replica["version"]) == ("PREMIUM", "1")
