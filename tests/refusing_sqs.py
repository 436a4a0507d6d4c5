"""The ``docstore`` command, with SQS refusing every SendMessage while a file exists.

For the outbox tests (tests/test_regions.py): SQS going away and coming back, faked at the edge
of the process, where botocore would send the request. ``python -m tests.refusing_sqs serve ...``
runs DocStore as ``python -m server serve ...`` does; while the file that ``REFUSE_SQS_WHILE``
names exists, each SendMessage fails as it would with SQS out of reach.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import botocore.handlers
from botocore.exceptions import EndpointConnectionError

VARIABLE = "REFUSE_SQS_WHILE"


def refusing(flag: Path) -> Any:
    def refuse(**_: Any) -> None:
        if flag.exists():
            raise EndpointConnectionError(endpoint_url=f"SQS, refusing while {flag} exists")

    return refuse


def install(flag: Path) -> None:
    """Every botocore client made from now on refuses SendMessage while ``flag`` exists."""
    botocore.handlers.BUILTIN_HANDLERS.append(("before-call.sqs.SendMessage", refusing(flag)))


if __name__ == "__main__":
    install(Path(os.environ[VARIABLE]))
    from cli import main

    raise SystemExit(main())
