from __future__ import annotations

from pathlib import Path

import pytest

from adapters.search.tantivy_index import TantivyIndex


@pytest.fixture
def index(tmp_path: Path) -> TantivyIndex:
    return TantivyIndex.open(tmp_path / "search")
