"""The ``docstore`` command line loads only what its command needs, and builds only the AWS
clients its command uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from botocore.loaders import JSONFileLoader
from pynamodb.connection import Connection

from adapters.queue import QUEUES, UPLOAD_EVENTS, SqsQueue, ensure_queues
from models import accounts

if TYPE_CHECKING:
    from adapters.aws import AwsTarget
    from settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def loaded_after(statement: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after ``statement``."""
    script = f"import sys\n{statement}\nprint(' '.join(sorted({{name.split('.')[0] for name in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_admin_and_stats_do_not_load_the_graphql_schema_or_the_web_server() -> None:
    loaded = loaded_after("import cli, commands.admin, runtime.services")

    assert {"cli", "runtime", "commands", "models", "boto3"} <= loaded
    assert loaded.isdisjoint({"strawberry", "graphql", "uvicorn", "starlette", "schema", "moto"})


def test_the_terminal_client_loads_a_graphql_client_and_nothing_of_the_server() -> None:
    loaded = loaded_after("import cli, client.terminal")

    assert {"cli", "client", "gql", "httpx", "websockets"} <= loaded
    assert loaded.isdisjoint(
        {"strawberry", "starlette", "uvicorn", "boto3", "botocore", "pynamodb", "moto", "schema", "models", "runtime"}
    )


def test_serving_loads_them() -> None:
    loaded = loaded_after("import server")

    assert {"strawberry", "graphql", "starlette", "schema"} <= loaded


#: Runs ``cli.main`` with the given arguments, counting every botocore client built (boto3's and
#: PynamoDB's alike: both go through ``botocore.session.Session.create_client``); its last line of
#: output is what it found, as JSON.
COUNTING = """
import json, sys
import botocore.session

built = []
create_client = botocore.session.Session.create_client

def counted(self, service_name, *args, **kwargs):
    built.append(service_name)
    return create_client(self, service_name, *args, **kwargs)

botocore.session.Session.create_client = counted
import cli

status = cli.main(sys.argv[1:])
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"status": status, "clients": sorted(built), "loaded": loaded}))
"""


def run_counting(settings: Settings, *args: str) -> tuple[dict[str, Any], str]:
    """``docstore ARGS`` against the session's AWS (as ``DOCSTORE_AWS_MODE=endpoint``): what it
    built and loaded, and what it printed before that."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOCSTORE_")}
    env.update(
        DOCSTORE_AWS_ENDPOINT_URL=str(settings.aws_endpoint_url),
        DOCSTORE_TABLE_PREFIX=settings.table_prefix,
        DOCSTORE_DATA_DIR=str(settings.data_dir),
        DOCSTORE_LOG_FORMAT="text",
    )
    result = subprocess.run(
        [sys.executable, "-c", COUNTING, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    *printed, found = result.stdout.splitlines()
    return json.loads(found), "\n".join(printed)


def test_stats_builds_one_dynamodb_client_and_one_client_per_queue(settings: Settings, target: AwsTarget) -> None:
    found, printed = run_counting(settings, "stats")

    assert found["status"] == 0
    assert found["clients"] == ["dynamodb"] + ["sqs"] * len(QUEUES)
    assert [line.split()[1] for line in printed.splitlines() if line.startswith("queue ")] == list(QUEUES)
    assert set(found["loaded"]).isdisjoint({"tantivy", "prometheus_client", "redis", "tqdm", "email_validator"})


def test_admin_grant_to_an_unknown_email_builds_only_dynamodb_clients(settings: Settings, target: AwsTarget) -> None:
    email = f"nobody-{uuid.uuid4().hex}@example.com"

    found, _ = run_counting(settings, "admin", "grant", email)

    assert found["status"] == 1
    assert set(found["clients"]) == {"dynamodb"}
    assert set(found["loaded"]).isdisjoint({"tantivy", "prometheus_client", "redis", "tqdm", "strawberry"})
    assert accounts.find_by_email(email) is None


def test_a_named_queue_finds_its_url(settings: Settings, target: AwsTarget) -> None:
    urls = ensure_queues(target, settings.table_prefix, visibility_seconds=settings.queue_visibility_seconds)
    url = urls[UPLOAD_EVENTS]

    queue = SqsQueue.named(target, f"{settings.table_prefix}-{UPLOAD_EVENTS}")

    assert queue.url == url


def test_a_missing_named_queue_fails_at_first_use_and_creates_nothing(settings: Settings, target: AwsTarget) -> None:
    name = f"{settings.table_prefix}-missing-{uuid.uuid4().hex[:8]}"
    queue = SqsQueue.named(target, name)  # asks nothing yet, so it cannot fail here

    with pytest.raises(ClientError) as raised:
        queue.depth()

    assert raised.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    listed = target.client("sqs").list_queues(QueueNamePrefix=name)
    assert listed.get("QueueUrls", []) == []


def test_pynamodb_connections_read_no_service_description_again(target: AwsTarget, monkeypatch) -> None:
    target.client("dynamodb")  # what a DynamoDB client needs has been read in this process
    read: list[str] = []
    load_file = JSONFileLoader.load_file

    def counted(self: JSONFileLoader, file_path: str) -> Any:
        read.append(file_path)
        return load_file(self, file_path)

    monkeypatch.setattr(JSONFileLoader, "load_file", counted)
    connection = Connection(
        region=target.region, host=target.endpoint_url, aws_access_key_id="testing", aws_secret_access_key="testing"
    )

    assert connection.client.meta.service_model.service_name == "dynamodb"
    assert read == []
