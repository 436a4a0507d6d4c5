"""A server secret kept in the data folder, made once: what signs share links' tokens when
``DOCSTORE_SHARE_SECRET`` names none."""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def kept_secret(path: Path) -> bytes:
    """The secret in ``path``, made (32 random bytes, hex, mode 0600) when there is none yet.
    Two processes making it at once agree: the file is created exclusively, and the loser reads
    the winner's."""
    try:
        text = path.read_text().strip()
        if text:
            return text.encode()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()
    with os.fdopen(descriptor, "w") as file:
        file.write(fresh + "\n")
    return fresh.encode()
