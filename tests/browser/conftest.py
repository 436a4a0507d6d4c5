"""A real ``docstore serve`` and Debian's Chromium, driven by Playwright, for the web app's tests.

Chromium is Debian's package (scripts/system-packages.sh), never a browser Playwright downloads.
Screenshots: every test takes its screens into a temporary folder; with ``DOCSTORE_SCREENSHOTS=1``
they go to docs/screenshots/ instead, which is how the committed pictures are made.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.serving import ROOT, serve, stop

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"
#: How long a screen may take to show what a test waits for: the pipeline's work included.
expect.set_options(timeout=60_000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``docstore serve`` as a person runs it, on its own data folder: its URL and data folder."""
    data_dir = tmp_path_factory.mktemp("browser") / "docstore-data"
    log_path = data_dir.parent / "serve.log"
    output: IO[str]
    with log_path.open("w") as output:
        url, process = serve(data_dir, output=output)
        try:
            yield url, data_dir
        finally:
            stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Any:
    """``shots(page, name, mask=[locator])``: a screenshot of the whole page, named for the screen,
    with what ``mask`` finds (a token, say) painted over."""
    folder = SCREENSHOTS if os.environ.get("DOCSTORE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str, mask: list[Locator] | None = None) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=path, full_page=True, animations="disabled", mask=mask or [], mask_color="#d5d9e0")
        return path

    return shoot
