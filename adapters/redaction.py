"""Secrets out of log records: bearer tokens, passwords, authorization headers, presigned URLs and
S3 POST policies are replaced by ``[REDACTED]`` before any handler formats a record.

The filter rewrites the record itself (its message with the arguments merged in, its extra fields,
its traceback and stack), so every handler after it sees the scrubbed text. It recognises secrets by
the shape they travel in, not by the code that logs them: a ``Bearer`` prefix, a session token's
``dst_`` prefix, a key such as ``password`` or ``x-amz-signature`` followed by ``:`` or ``=``, the
``{"name": "policy", "value": ...}`` pairs of an upload form, and the query string of any URL
that carries a signature or a credential.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[REDACTED]"

#: ``models.sessions.TOKEN_PREFIX``: a session token wherever it appears (adapters do not import
#: models; a test checks that the two agree).
TOKEN_PREFIX = "dst_"

#: Keys whose value is a secret, in ``key: value``, ``key=value``, ``"key": "value"``,
#: ``'key': 'value'`` and query-string form.
SECRET_KEYS = (
    "password",
    "passwd",
    "new_password",
    "secret",
    "secret_key",
    "secret_access_key",
    "aws_secret_access_key",
    "token",
    "access_token",
    "refresh_token",
    "session_token",
    "security_token",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-credential",
    "signature",
    "credential",
    "policy",
    "awsaccesskeyid",
    "cookie",
    "set-cookie",
)

#: Cheap first look: a text that contains none of these has nothing to scrub.
_SUSPECT = re.compile(r"bearer|authoriz|passw|secret|token|signature|credential|policy|accesskey|cookie|dst_", re.I)

#: A quoted value (double, single or JSON-escaped double quotes), or a bare one up to a delimiter.
_VALUE = (
    r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\\"(?:[^"\\]|\\[^"])*\\"|b'[^']*'"""
    r"""|(?!\[REDACTED\])[^\s,;&}\])"']+)"""
)
_KEYS = "|".join(re.escape(key) for key in sorted(SECRET_KEYS, key=len, reverse=True))

_URL_QUERY = re.compile(r"""(https?://[^\s"'<>?]+)\?([^\s"'<>]*)""", re.I)
_SIGNED_QUERY = re.compile(r"signature|credential|security-token|accesskeyid", re.I)
_SESSION_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-]+")
_BEARER = re.compile(r"(bearer\s+)(?!\[REDACTED\])[^\s\"',;)\]}]+", re.I)
_AUTHORIZATION = re.compile(r"""(authorization\\?["']?\s*[:=]\s*(?:b?["']|\\["'])?)[^"'\\\n,;}]+""", re.I)
_FORM_FIELD = re.compile(
    r"""((?:\\?["'])name(?:\\?["'])\s*:\s*(?:\\?["'])(?:""" + _KEYS + r""")(?:\\?["'])\s*,\s*"""
    r"""(?:\\?["'])value(?:\\?["'])\s*:\s*)""" + _VALUE,
    re.I,
)
_KEY_VALUE = re.compile(
    r"""((?<![A-Za-z0-9])(?:""" + _KEYS + r""")(?:\\?["'])?\s*[:=]\s*)""" + _VALUE,
    re.I,
)


def _quoted(match: re.Match[str]) -> str:
    value = match.group(0)[len(match.group(1)) :]
    for quote in ('\\"', '"', "'"):
        if value.startswith(quote) and len(value) >= 2 * len(quote):
            return f"{match.group(1)}{quote}{REDACTED}{quote}"
    return f"{match.group(1)}{REDACTED}"


def _url(match: re.Match[str]) -> str:
    if _SIGNED_QUERY.search(match.group(2)):
        return f"{match.group(1)}?{REDACTED}"
    return match.group(0)


def redact(text: str) -> str:
    """``text`` with every secret it visibly carries replaced by ``[REDACTED]``."""
    if not _SUSPECT.search(text):
        return text
    text = _URL_QUERY.sub(_url, text)
    text = _BEARER.sub(r"\1" + REDACTED, text)
    text = _AUTHORIZATION.sub(r"\1" + REDACTED, text)
    text = _FORM_FIELD.sub(_quoted, text)
    text = _KEY_VALUE.sub(_quoted, text)
    return _SESSION_TOKEN.sub(TOKEN_PREFIX + REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(item) for item in value)
    return value


#: What every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RedactFilter(logging.Filter):
    """Scrubs each record in place (put it on the handler, so records of every logger pass it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep both, as text
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            # Formatted here, once, so that no formatter formats the raw traceback again.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD:
                setattr(record, name, _redact_value(value))
        return True
