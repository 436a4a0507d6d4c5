"""Where ``docstore login`` keeps its token: a file only its owner can read, in the user's config
folder (``$XDG_CONFIG_HOME/docstore``, else ``~/.config/docstore``). ``DOCSTORE_TOKEN`` in the
environment overrides the file's token, for scripts and CI that hold one already, and
``DOCSTORE_API`` names the API when ``--api`` does not."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from client.api import DEFAULT_API, NotSignedIn

if TYPE_CHECKING:
    from collections.abc import Mapping

TOKEN_VARIABLE = "DOCSTORE_TOKEN"
API_VARIABLE = "DOCSTORE_API"


@dataclass(frozen=True)
class Credentials:
    """A session: the API it belongs to, whose it is, and its token."""

    api: str
    email: str
    token: str


def folder(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "docstore"


def path(environ: Mapping[str, str] | None = None) -> Path:
    return folder(environ) / "credentials.json"


def load(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The saved session, or None when there is none (or the file is not one of ours)."""
    try:
        saved = json.loads(path(environ).read_text())
        return Credentials(api=str(saved["api"]), email=str(saved["email"]), token=str(saved["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(credentials: Credentials, environ: Mapping[str, str] | None = None) -> Path:
    """Write the session whole or not at all: a new file of mode 0600, renamed over the old one."""
    target = path(environ)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".credentials-")  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as file:
            json.dump(asdict(credentials), file)
            file.write("\n")
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return target


def remove(environ: Mapping[str, str] | None = None) -> bool:
    """Forget the saved session; False when there was none."""
    try:
        path(environ).unlink()
    except FileNotFoundError:
        return False
    return True


def default_api(environ: Mapping[str, str] | None = None) -> str:
    """The API ``docstore login`` signs in to without ``--api``."""
    environ = os.environ if environ is None else environ
    return environ.get(API_VARIABLE) or DEFAULT_API


def signed_in(api: str | None, environ: Mapping[str, str] | None = None) -> tuple[str, str, str]:
    """The API to call, the token to call it with, and where the token came from.

    ``api`` is what ``--api`` named (None: ``DOCSTORE_API``, else the saved session's, else the
    default). :class:`NotSignedIn` when there is no token for that API.
    """
    environ = os.environ if environ is None else environ
    saved = load(environ)
    url = api or environ.get(API_VARIABLE) or (saved.api if saved else DEFAULT_API)
    if environ.get(TOKEN_VARIABLE):
        return url, environ[TOKEN_VARIABLE], TOKEN_VARIABLE
    if saved is None:
        raise NotSignedIn("Not signed in: run `docstore login`.")
    if saved.api != url:
        raise NotSignedIn(f"Signed in to {saved.api}, not to {url}: run `docstore login --api {url}`.")
    return url, saved.token, str(path(environ))
