"""`docstore serve` as a user runs it: one process with the API, the sweeper and the embedded AWS."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import plain_http
from tests.client import PASSWORD, Api
from tests.serving import Served, clean_env, descendants, docstore, free_port, serve, start, stop


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, Served]]:
    data_dir = tmp_path / "data"
    server = start("serve", env=clean_env(DOCSTORE_LOG_FORMAT="json"), data_dir=data_dir)
    yield server.url, data_dir, server
    server.end()


def test_docstore_serve_runs_the_whole_flow_on_its_embedded_aws(served) -> None:
    url, data_dir, _ = served
    api = Api(url)
    user = api.sign_up()

    document = api.upload(user, b"hello from a fresh clone", filename="hello.txt")

    fetched = api.data("Document", {"id": document["id"]}, user.token)["document"]
    assert plain_http.get(fetched["downloadUrl"], timeout=10).content == b"hello from a fresh clone"
    marker = json.loads((data_dir / "aws-endpoint.json").read_text())
    assert fetched["downloadUrl"].startswith(marker["endpoint_url"] + "/docstore-us-west-2/")
    assert plain_http.get(f"{url}/graphql", headers={"accept": "text/html"}).text.count("graphiql") > 0


def test_docstore_init_beside_a_running_server_reaches_its_aws(served) -> None:
    _, data_dir, _ = served

    result = docstore("init", "--data-dir", str(data_dir))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ready: bucket docstore-us-west-2",
        "ready: queue docstore-upload-events",
        "ready: queue docstore-account-events",
        "ready: queue docstore-search-index",
        "ready: queue docstore-backfill",
        "ready: mail sender no-reply@docstore.example",
    ]


def test_stopping_the_server_removes_its_endpoint_marker(served) -> None:
    _, data_dir, server = served
    assert (data_dir / "aws-endpoint.json").exists()

    server.stop()  # as Ctrl-C does; it checks the exit code is 0

    assert not (data_dir / "aws-endpoint.json").exists()


def test_init_without_a_running_embedded_aws_says_what_to_do(tmp_path: Path) -> None:
    result = docstore("init", "--data-dir", str(tmp_path))

    assert result.returncode == 1
    assert "no embedded AWS is running on this data folder" in result.stderr


def test_bad_setting_is_reported_without_a_traceback(tmp_path: Path) -> None:
    result = docstore("serve", DOCSTORE_PORT="eighty")

    assert result.returncode == 2
    assert result.stderr.strip() == "docstore: DOCSTORE_PORT must be a whole number, not 'eighty'"


def test_serve_logs_json_lines_with_one_access_line_per_request(served) -> None:
    url, _, server = served

    answered = plain_http.post(
        f"{url}/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "serve-log-1"}
    )
    ready = plain_http.get(f"{url}/readyz", timeout=10)
    output = server.stop()

    assert answered.headers["x-request-id"] == "serve-log-1"
    assert ready.status_code == 200
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    mine = [record for record in records if record.get("request_id") == "serve-log-1"]
    assert [(record["logger"], record["status"], record["path"]) for record in mine] == [
        ("docstore.access", 200, "/graphql")
    ]
    assert not [record for record in records if record["logger"] == "uvicorn.access"]


def test_everything_a_user_had_is_there_after_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    url, process = serve(data_dir)
    api = Api(url)
    user = api.sign_up(plan="PREMIUM")
    content = b"the quarterly invoice from the plumber\n"
    document = api.upload(user, content, filename="invoice.txt", tags=["bills"])
    assert document["status"] == "READY"
    usage = api.usage(user)
    first = stop(process)

    url, process = serve(data_dir)
    api = Api(url)

    # The old token still works: the session was kept, as were the account and the document.
    me = api.data("Me", token=user.token)["me"]
    assert (me["email"], me["plan"], me["usage"]) == (user.email, "PREMIUM", usage)
    fetched = api.data("Document", {"id": document["id"]}, user.token)["document"]
    assert (fetched["name"], fetched["status"], fetched["tags"]) == ("invoice.txt", "READY", ["bills"])
    assert plain_http.get(fetched["downloadUrl"], timeout=10).content == content
    signed_in = api.data("SignIn", {"input": {"email": user.email, "password": PASSWORD}})["signIn"]
    assert signed_in["__typename"] == "AuthPayload"
    found = api.data("Search", {"query": "plumber"}, user.token)["search"]
    assert [edge["node"]["document"]["id"] for edge in found["edges"]] == [document["id"]]
    second = stop(process)
    lines = [line for line in (first + second).splitlines() if "DocStore is running" in line]
    assert len(lines) == 2
    said = lines[1].split("DocStore is running: ", 1)[1]
    assert said.startswith(
        f"open {url} (API and GraphiQL at {url}/graphql); "
        f"data kept in {data_dir.resolve()} (embedded AWS at http://127.0.0.1:"
    )


def test_a_second_server_on_the_same_data_folder_refuses(served) -> None:
    url, data_dir, _ = served
    api = Api(url)
    user = api.sign_up()

    second = docstore("serve", "--port", str(free_port()), "--data-dir", str(data_dir))

    assert second.returncode == 1
    pid = (data_dir / "aws" / "aws.lock").read_text()
    assert second.stderr.strip() == (
        f"docstore: the data folder {data_dir.resolve()} is in use by another DocStore (pid {pid}); "
        "stop it first, or give this one its own folder with --data-dir"
    )
    assert api.data("Me", token=user.token)["me"]["email"] == user.email


def test_an_unusable_data_folder_is_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")

    result = docstore("serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "a-file" / "data"))

    assert result.returncode == 1
    folder = tmp_path / "a-file" / "data"
    assert result.stderr.strip() == f"docstore: cannot create the data folder {folder}: Not a directory"


def test_the_server_stops_whole_when_its_embedded_aws_dies(served) -> None:
    url, _, server = served
    (aws,) = descendants(server.pid)[:1]
    assert "adapters.aws_process" in Path(f"/proc/{aws}/cmdline").read_text()

    os.kill(aws, signal.SIGKILL)

    assert server.process.wait(timeout=60) == 1
    output = server.said()
    assert "the embedded AWS" in output
    assert "stopped unexpectedly with exit code -9; DocStore stops with it" in output
    with pytest.raises(httpx.TransportError):
        plain_http.get(f"{url}/healthz", timeout=2)


def test_stopping_the_server_stops_every_process_it_started(served) -> None:
    _, _, server = served
    started = descendants(server.pid)
    assert started

    server.stop()

    assert [pid for pid in started if Path(f"/proc/{pid}").exists()] == []
