"""`docstore serve` as a user runs it: one process with the API, the sweeper and the embedded AWS."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.client import Api

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DOCSTORE_", "AWS_"))}
    env.update(extra)
    return env


def docstore(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the docstore command to its end, as a user would from the project folder."""
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    port = free_port()
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"docstore serve did not start:\n{process.communicate()[0]}")
        time.sleep(0.1)
    yield url, data_dir, process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_docstore_serve_runs_the_whole_flow_on_its_embedded_aws(served) -> None:
    url, data_dir, _ = served
    api = Api(url)
    user = api.sign_up()

    document = api.upload(user, b"hello from a fresh clone", filename="hello.txt")

    fetched = api.data("Document", {"id": document["id"]}, user.token)["document"]
    assert httpx.get(fetched["downloadUrl"], timeout=10).content == b"hello from a fresh clone"
    marker = json.loads((data_dir / "aws-endpoint.json").read_text())
    assert fetched["downloadUrl"].startswith(marker["endpoint_url"] + "/docstore-us-west-2/")
    assert httpx.get(f"{url}/graphql", headers={"accept": "text/html"}).text.count("graphiql") > 0


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
    _, data_dir, process = served
    assert (data_dir / "aws-endpoint.json").exists()

    process.send_signal(signal.SIGINT)

    assert process.wait(timeout=30) == 0
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
    url, _, process = served

    answered = httpx.post(f"{url}/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "serve-log-1"})
    ready = httpx.get(f"{url}/readyz", timeout=10)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=30)[0]

    assert answered.headers["x-request-id"] == "serve-log-1"
    assert ready.status_code == 200
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    mine = [record for record in records if record.get("request_id") == "serve-log-1"]
    assert [(record["logger"], record["status"], record["path"]) for record in mine] == [
        ("docstore.access", 200, "/graphql")
    ]
    assert not [record for record in records if record["logger"] == "uvicorn.access"]
