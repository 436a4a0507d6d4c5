"""Separate processes over a real Redis: an event a worker process publishes reaches the subscribers
of every API process."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from events.envelope import EventType
from tests.client import Api, User
from tests.serving import ROOT, Served, clean_env, on_aws, start
from tests.subscriptions.conftest import bearer, event, next_message, open_socket
from tests.subscriptions.test_sessions import SIGNED_OUT, ended


def environment(redis_url: str, aws_endpoint: str) -> dict[str, str]:
    return on_aws(aws_endpoint, "test", DOCSTORE_PUBSUB_URL=redis_url)


@pytest.fixture(scope="module")
def api_processes(
    redis_url: str, aws_endpoint: str, target, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Two ``docstore serve`` processes on the session's AWS, sharing events through ``redis_url``."""
    processes: list[Served] = []
    try:
        for number in range(2):
            folder = tmp_path_factory.mktemp(f"api-{number}")
            processes.append(start("serve", env=environment(redis_url, aws_endpoint), data_dir=folder))
        yield [process.url for process in processes]
    finally:
        for process in processes:
            process.end()


def wait_for_redis_subscribers(url: str, channel: str, count: int) -> None:
    """Until ``count`` connections (one a process) subscribe to ``channel`` in Redis."""
    client = redis.Redis.from_url(url)
    try:
        for _ in range(1000):
            if dict(client.pubsub_numsub(channel)).get(channel.encode()) == count:
                return
            time.sleep(0.01)
        raise AssertionError(f"{channel} never had {count} subscribers: {client.pubsub_numsub(channel)}")
    finally:
        client.close()


def test_an_event_from_a_worker_process_reaches_subscribers_on_both_api_processes(
    api_processes: list[str], redis_url: str, user: User, other_user: User
) -> None:
    sockets = [url.replace("http://", "ws://", 1) + "/graphql" for url in api_processes]
    with open_socket(sockets[0]) as first, open_socket(sockets[1]) as second, open_socket(sockets[1]) as other:
        for socket, who in ((first, user), (second, user), (other, other_user)):
            socket.init(bearer(who))
            assert socket.receive() == {"type": "connection_ack"}
            socket.subscribe("docs", "DocumentEvents")
        wait_for_redis_subscribers(redis_url, f"account:{user.id}", 2)
        wait_for_redis_subscribers(redis_url, f"account:{other_user.id}", 1)
        published = [
            event(EventType.PROCESSING_STARTED, user.id, "01JDOCUMENTAAAAAAAAAAAAAAA", 1),
            event(EventType.EXTRACTION_PROGRESS, user.id, "01JDOCUMENTAAAAAAAAAAAAAAA", 2, page=1, pages=2),
            event(EventType.DOCUMENT_READY, other_user.id, "01JDOCUMENTBBBBBBBBBBBBBBB", 3),
            event(EventType.DOCUMENT_READY, user.id, "01JDOCUMENTAAAAAAAAAAAAAAA", 4),
        ]

        worker = subprocess.run(
            [sys.executable, "-m", "tests.subscriptions.publisher", redis_url, *(e.to_json() for e in published)],
            cwd=ROOT,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert worker.returncode == 0, worker.stderr
        mine = [next_message("docs", "documentEvents", published[n]) for n in (0, 1, 3)]
        assert first.receive_many(3) == mine
        assert second.receive_many(3) == mine
        assert other.receive() == next_message("docs", "documentEvents", published[2])


def test_signing_out_at_one_api_process_ends_the_sessions_subscription_at_the_other(
    api_processes: list[str], redis_url: str, user: User
) -> None:
    with open_socket(api_processes[0].replace("http://", "ws://", 1) + "/graphql") as socket:
        socket.init(bearer(user))
        assert socket.receive() == {"type": "connection_ack"}
        socket.subscribe("docs", "DocumentEvents")
        wait_for_redis_subscribers(redis_url, f"account:{user.id}", 1)

        assert Api(api_processes[1]).data("SignOut", token=user.token) == {"signOut": {"revoked": True}}

        assert socket.receive_many(2) == ended("docs", SIGNED_OUT)
