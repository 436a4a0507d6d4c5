"""Fixtures of the pipeline's tests: an extraction pool per test, the mail sender, the event recorder."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.mail import SesMailer
from tests.workers.test_pipeline import Recorder
from workers.extraction import Extraction


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def extraction() -> Any:
    """A pool per test: its processes belong to the event loop that started them."""
    pool = Extraction(processes=1, seconds=20, memory_bytes=1024**3)
    yield pool
    await pool.aclose()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def mailer(target) -> SesMailer:
    mailer = SesMailer(target, "no-reply@docstore.example")
    mailer.verify_sender()
    return mailer
