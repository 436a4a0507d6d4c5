"""Fixtures of the adapter tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's own server in this process (not DocStore's embedded AWS), one a test module: where a
    test swaps moto's code in and out and compares the answers, or needs an endpoint that is not
    the embedded AWS."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
