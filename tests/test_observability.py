"""Metrics, readiness and logs of a real uvicorn serving a fresh app (its own metrics registry), so
that every count is exactly what the test did."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters import logs
from adapters.local_redis import redis_server
from tests import plain_http
from tests.client import PASSWORD, Api, operation, post_form
from tests.conftest import LiveServer
from tests.subscriptions.conftest import bearer, open_socket

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    response = plain_http.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_of(samples: Samples) -> dict[tuple[str, str, str], float]:
    """docstore_graphql_requests_total by (operation, type, outcome)."""
    found = {}
    for (name, labels), value in samples.items():
        if name == "docstore_graphql_requests_total":
            label = dict(labels)
            found[(label["operation"], label["type"], label["outcome"])] = value
    return found


def histogram_counts(samples: Samples) -> dict[tuple[str, str], float]:
    found = {}
    for (name, labels), value in samples.items():
        if name == "docstore_graphql_request_seconds_count":
            label = dict(labels)
            found[(label["operation"], label["type"])] = value
    return found


@pytest.fixture
def serve(settings, target) -> Iterator[Callable[..., str]]:
    """Start a fresh app with ``settings`` changed as given (no workers: the session's live server
    consumes the queues); its URL. Stopped after the test."""
    servers: list[LiveServer] = []

    def start(**changes: Any) -> str:
        server = LiveServer(settings.with_overrides(run_workers=False, **changes))
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@contextlib.contextmanager
def captured(level: int = logging.INFO) -> Iterator[io.StringIO]:
    """What the process logs while inside, through DocStore's JSON handler (as ``docstore serve``
    writes it to stderr)."""
    stream = io.StringIO()
    handler = logs.handler("json", stream)
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(before)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_metrics_count_each_operation_by_name_type_and_outcome(serve) -> None:
    url = serve()
    api = Api(url)

    user = api.sign_up()
    for _ in range(3):
        api.data("Me", token=user.token)
    unauthenticated = api.call("Me")
    api.raw("{ __typename }")
    api.raw("{ __typename }")
    invalid = api.raw("query Broken { nothing }")
    api.raw("query Bad_Name_That_Is_Fine { __typename }")
    samples = scrape(url)

    assert unauthenticated["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "errors" in invalid
    assert requests_of(samples) == {
        ("SignUp", "mutation", "ok"): 1,
        ("Me", "query", "ok"): 3,
        ("Me", "query", "error"): 1,
        ("anonymous", "query", "ok"): 2,
        ("Broken", "query", "invalid"): 1,
        ("Bad_Name_That_Is_Fine", "query", "ok"): 1,
    }
    assert histogram_counts(samples) == {
        ("SignUp", "mutation"): 1,
        ("Me", "query"): 4,
        ("anonymous", "query"): 2,
        ("Broken", "query"): 1,
        ("Bad_Name_That_Is_Fine", "query"): 1,
    }


def test_metrics_off_counts_nothing_and_serves_no_metrics(serve) -> None:
    url = serve(metrics_enabled=False)
    api = Api(url)
    user = api.sign_up()

    assert api.data("Me", token=user.token)["me"]["id"] == user.id
    assert plain_http.get(f"{url}/metrics").status_code == 404


def open_subscriptions(url: str) -> dict[str, float]:
    return {
        dict(labels)["field"]: value
        for (name, labels), value in scrape(url).items()
        if name == "docstore_subscriptions_open"
    }


def wait_for(url: str, expected: dict[str, float]) -> None:
    """Until the open-subscriptions gauge reads ``expected`` (subscribing has no reply to wait for)."""
    for _ in range(300):
        if open_subscriptions(url) == expected:
            return
        time.sleep(0.05)
    assert open_subscriptions(url) == expected


def test_open_subscriptions_go_up_and_down_with_real_websockets(serve) -> None:
    url = serve()
    api = Api(url)
    user = api.sign_up()
    ws_url = url.replace("http://", "ws://", 1) + "/graphql"

    assert open_subscriptions(url) == {}
    with open_socket(ws_url) as socket:
        socket.init(bearer(user))
        assert socket.receive() == {"type": "connection_ack"}
        socket.subscribe("docs", "DocumentEvents")
        socket.subscribe("quota", "QuotaEvents")
        wait_for(url, {"documentEvents": 1, "quotaEvents": 1})

        socket.send({"id": "docs", "type": "complete"})
        wait_for(url, {"documentEvents": 0, "quotaEvents": 1})
    # The client went away with a subscription still running.
    wait_for(url, {"documentEvents": 0, "quotaEvents": 0})
    assert requests_of(scrape(url)) == {
        ("SignUp", "mutation", "ok"): 1,
        ("DocumentEvents", "subscription", "ok"): 1,
        ("QuotaEvents", "subscription", "ok"): 1,
    }


#: Every readiness check of an app whose dependencies all answer.
READY = {
    "dynamodb": "ok",
    "s3": "ok",
    "sqs:upload-events": "ok",
    "sqs:account-events": "ok",
    "sqs:search-index": "ok",
    "sqs:backfill": "ok",
    "pubsub": "ok",
}


def test_readyz_is_ready_when_every_dependency_answers(serve) -> None:
    url = serve()

    response = plain_http.get(f"{url}/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": READY}


def test_readyz_names_a_bucket_that_does_not_exist(serve) -> None:
    url = serve(bucket_name=f"never-created-{uuid.uuid4().hex[:8]}")

    response = plain_http.get(f"{url}/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": {**READY, "s3": "404 (HeadBucket)"},
    }
    assert plain_http.get(f"{url}/healthz").status_code == 200  # up, not ready


def test_readyz_fails_when_redis_stops_and_says_only_why(serve, tmp_path) -> None:
    with redis_server(tmp_path / "redis") as redis_url:
        url = serve(pubsub_url=redis_url)
        assert plain_http.get(f"{url}/readyz").json()["checks"]["pubsub"] == "ok"
    # redis-server has stopped.

    response = plain_http.get(f"{url}/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {**READY, "pubsub": "ConnectionError"}
    assert "127.0.0.1" not in response.text


def test_log_lines_are_json_with_the_request_id_the_response_gave(serve) -> None:
    url = serve()
    api = Api(url)
    user = api.sign_up()

    with captured() as stream:
        given = api.http.post(
            "/graphql",
            json={"query": operation("Me")},
            headers={"Authorization": f"Bearer {user.token}", "X-Request-Id": "trace-0123-abcd"},
        )
        made = api.http.post("/graphql", json={"query": operation("Me")}, headers={"X-Request-Id": "not sane!"})

    assert given.headers["x-request-id"] == "trace-0123-abcd"
    made_id = made.headers["x-request-id"]
    assert len(made_id) == 32
    assert made_id != "not sane!"
    access = [line for line in lines(stream) if line["logger"] == "docstore.access"]
    assert [(line["request_id"], line["status"], line["operation"], line["path"]) for line in access] == [
        ("trace-0123-abcd", 200, "Me", "/graphql"),
        (made_id, 200, "Me", "/graphql"),
    ]
    first = access[0]
    assert first["level"] == "INFO"
    assert first["method"] == "POST"
    assert first["message"].startswith("POST /graphql 200 ")
    assert first["message"].endswith(" ms Me")
    assert {"time", "level", "logger", "message", "request_id", "duration_ms"} <= set(first)


def test_websocket_open_and_close_are_logged_with_the_connections_id(serve) -> None:
    url = serve()
    user = Api(url).sign_up()

    with captured() as stream:
        with open_socket(url.replace("http://", "ws://", 1) + "/graphql") as socket:
            given = socket.connection.response.headers["x-request-id"]
            socket.init(bearer(user))
            assert socket.receive() == {"type": "connection_ack"}
        deadline = time.monotonic() + 10
        while "websocket closed" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)

    access = [line for line in lines(stream) if line["logger"] == "docstore.access"]
    assert [(line["message"].split(" /graphql")[0], line["request_id"]) for line in access] == [
        ("websocket open", given),
        ("websocket closed", given),
    ]
    assert access[1]["status"] == 1000


def test_access_log_off_writes_no_access_lines_but_still_gives_ids(serve) -> None:
    url = serve(access_log=False)

    with captured() as stream:
        response = plain_http.post(f"{url}/graphql", json={"query": "{ __typename }"})

    assert len(response.headers["x-request-id"]) == 32
    assert [line for line in lines(stream) if line["logger"] == "docstore.access"] == []


def test_no_secret_reaches_the_log_of_a_whole_session(serve) -> None:
    """Sign up, sign in, upload, download, with everything the process logs captured down to
    DEBUG (botocore's signing and httpx's request lines included): no password, token, signature,
    credential or upload policy appears, and an exception carrying a token is scrubbed too."""
    url = serve()
    api = Api(url)
    email = f"secret-{uuid.uuid4().hex[:8]}@example.com"

    with captured(logging.DEBUG) as stream:
        user = api.sign_up(email=email)
        signed_in = api.data("SignIn", {"input": {"email": email, "password": PASSWORD}})["signIn"]
        form = api.request_upload(user, size=len(b"hello world"))
        post_form(form, b"hello world")
        api.complete(user, form["documentId"])
        download = api.data("Document", {"id": form["documentId"]}, user.token)["document"]["downloadUrl"]
        assert plain_http.get(download).content == b"hello world"
        with api.http.stream("POST", "/graphql", json={"query": "{ __typename }"}) as response:
            response.read()
        try:
            raise RuntimeError(f"upstream refused Bearer {user.token} for {download}")
        except RuntimeError:
            logging.getLogger("docstore.test").exception("injected failure")

    output = stream.getvalue()
    fields = {field["name"]: field["value"] for field in form["fields"]}
    query = dict(parse_qsl(urlsplit(download).query))
    secrets = {
        "password": PASSWORD,
        "sign-up token": user.token,
        "sign-in token": signed_in["token"],
        "token body": user.token.removeprefix("dst_"),
        "upload policy": fields["policy"],
        "upload signature": fields["x-amz-signature"],
        "upload credential": fields["x-amz-credential"],
        "download signature": query["X-Amz-Signature"],
        "download credential": query["X-Amz-Credential"],
    }
    assert {name for name, secret in secrets.items() if secret in output} == set()
    assert len(output.splitlines()) > 50  # botocore and httpx did log, signing included
    assert "[REDACTED]" in output
    assert "injected failure" in output
    assert "RuntimeError: upstream refused Bearer [REDACTED]" in output


def test_the_app_sends_its_metrics_to_cloudwatch_every_interval(serve, target) -> None:
    namespace = f"DocStore/Live-{uuid.uuid4().hex[:8]}"
    url = serve(cloudwatch_namespace=namespace, cloudwatch_interval_seconds=0.2)
    api = Api(url)
    cloudwatch = target.client("cloudwatch")

    user = api.sign_up()
    api.data("Me", token=user.token)
    api.data("Me", token=user.token)

    def sent_me() -> float:
        now = datetime.now(UTC)
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName="GraphQLRequests",
            Dimensions=[{"Name": "Operation", "Value": "Me"}, {"Name": "Outcome", "Value": "ok"}],
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=10),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(point["Sum"] for point in points)

    for _ in range(200):  # the pushes come every 0.2 s; the two requests may fall in two of them
        if sent_me() == 2:
            break
        time.sleep(0.05)

    assert sent_me() == 2
    listed = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    operations = {
        (metric["MetricName"], dimension["Value"])
        for metric in listed
        for dimension in metric["Dimensions"]
        if dimension["Name"] == "Operation"
    }
    assert operations == {
        ("GraphQLRequests", "SignUp"),
        ("GraphQLRequests", "Me"),
        ("GraphQLRequestLatency", "SignUp"),
        ("GraphQLRequestLatency", "Me"),
    }
    assert {metric["MetricName"] for metric in listed} >= {"QueueDepth"}
