"""What ``docstore serve`` answers a browser with: the web app at ``/``, GraphiQL at ``/graphql``,
both from the project's own build (web/dist), the pages never cached and the assets cached for good."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from server import ASSET_CACHE, create_app
from settings import WEB_DIST, Settings
from tests import plain_http
from tests.client import OPERATIONS
from tests.serving import ROOT

HTML = {"accept": "text/html,application/xhtml+xml"}


def assets_named(page: str) -> list[str]:
    """The /assets/ paths a built page loads (scripts, styles, preloads)."""
    return re.findall(r'(?:src|href)="(/assets/[^"]+)"', page)


@pytest.mark.parametrize(("path", "headers"), [("/", {}), ("/graphql", HTML)])
def test_a_page_is_never_cached_and_loads_only_this_servers_assets(live_url: str, path: str, headers: dict) -> None:
    page = plain_http.get(f"{live_url}{path}", headers=headers, timeout=10)

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    assert re.findall(r'(?:src|href)="(https?:|//)', page.text) == []
    assert assets_named(page.text) != []


def test_built_assets_have_content_hashed_names_and_are_cached_for_a_year(live_url: str) -> None:
    pages = [
        plain_http.get(f"{live_url}/", timeout=10).text,
        plain_http.get(f"{live_url}/graphql", headers=HTML, timeout=10).text,
    ]

    for path in {asset for page in pages for asset in assets_named(page)}:
        assert re.fullmatch(r"/assets/[\w.-]+-[\w-]{8}\.(js|css)", path), path
        asset = plain_http.get(f"{live_url}{path}", timeout=10)
        assert asset.status_code == 200, path
        assert asset.headers["cache-control"] == ASSET_CACHE == "public, max-age=31536000, immutable"
        assert asset.content == (WEB_DIST / path.removeprefix("/")).read_bytes()


def test_no_asset_loads_from_another_host(live_url: str) -> None:
    # Not only the pages: the bundles must not fetch React, GraphiQL, fonts or workers from a CDN.
    for built in (WEB_DIST / "assets").iterdir():
        if built.suffix in {".js", ".css"}:
            text = built.read_text(errors="replace")
            assert not re.search(r"https?://(unpkg\.com|cdn\.jsdelivr\.net|esm\.sh|cdnjs\.)", text), built.name


def test_an_asset_that_is_not_there_is_404_and_not_the_app(live_url: str) -> None:
    missing = plain_http.get(f"{live_url}/assets/app-00000000.js", timeout=10)

    assert missing.status_code == 404
    assert "cache-control" not in missing.headers


def test_the_api_still_answers_json_at_graphql(live_url: str) -> None:
    answer = plain_http.post(f"{live_url}/graphql", json={"query": "{ __typename }"}, timeout=10)

    assert answer.json() == {"data": {"__typename": "Query"}}


def test_without_a_build_the_app_says_how_to_build_it(settings: Settings, tmp_path: Path) -> None:
    # The app without its lifespan: the page and the assets need no services.
    app = create_app(replace(settings, web_dir=tmp_path / "dist"))

    async def fetch(path: str) -> httpx.Response:
        async with plain_http.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as client:
            return await client.get(path)

    page = asyncio.run(fetch("/"))
    asset = asyncio.run(fetch("/assets/app-12345678.js"))

    assert (page.status_code, asset.status_code) == (503, 404)
    assert page.text.startswith(f"The web app is not built ({tmp_path / 'dist'} has no pages): run `make serve`")


def test_the_app_sends_the_operation_documents_of_gql_operations_and_no_others() -> None:
    imports = (ROOT / "web" / "src" / "app" / "operations.js").read_text()
    named = re.findall(
        r'export \{ default as (\w+) \} from "\.\./\.\./\.\./(gql/operations/\w+/\w+\.graphql)\?raw";', imports
    )
    # gql/operations serves two clients: the web app and the terminal client (client/), which
    # sends an operation by name (api.call, api.subscribe, _pages). Every file there is sent by one of them.
    terminal = {
        name
        for source in (ROOT / "client").glob("*.py")
        for name in re.findall(r'(?:\.call\(|\.subscribe\(|_pages\(api, )"([A-Z]\w+)"', source.read_text())
    }
    files = {str(path.relative_to(ROOT)): path.stem for path in OPERATIONS.glob("*/*.graphql")}

    assert {path for _, path in named} <= set(files)
    assert sorted(path for path, stem in files.items() if stem not in terminal) == sorted(
        path for _, path in named if files[path] not in terminal
    )
    assert terminal <= set(files.values())
    assert {"SyncCompare", "SyncDocument", "SignIn", "Documents", "DocumentEvents"} <= terminal
    assert all(path.endswith(f"/{name}.graphql") for name, path in named)
    assert len(named) == imports.count("export ")
    # No operation is written anywhere else in the app.
    for source in (ROOT / "web" / "src" / "app").rglob("*.js*"):
        assert not re.search(r"\b(query|mutation|subscription) \w*\s*[({]", source.read_text()), source.name
