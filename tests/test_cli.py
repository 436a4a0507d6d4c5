"""The ``docstore`` command line loads only what its command needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def loaded_after(statement: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after ``statement``."""
    script = f"import sys\n{statement}\nprint(' '.join(sorted({{name.split('.')[0] for name in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_admin_and_stats_do_not_load_the_graphql_schema_or_the_web_server() -> None:
    loaded = loaded_after("import cli, commands.admin, runtime")

    assert {"cli", "runtime", "commands", "models", "boto3"} <= loaded
    assert loaded.isdisjoint({"strawberry", "graphql", "uvicorn", "starlette", "schema", "moto"})


def test_serving_loads_them() -> None:
    loaded = loaded_after("import server")

    assert {"strawberry", "graphql", "starlette", "schema"} <= loaded
