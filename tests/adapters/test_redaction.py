"""Secrets in the shapes they travel in are replaced before a record is written; the rest is kept."""

from __future__ import annotations

import io
import json
import logging

import pytest

from adapters import logs
from adapters.redaction import TOKEN_PREFIX, redact
from models import sessions


def test_the_session_token_prefix_is_the_models_one() -> None:
    assert TOKEN_PREFIX == sessions.TOKEN_PREFIX


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer dst_abc-DEF_123", "Authorization: [REDACTED]"),
        ("sent Bearer dst_abc-DEF_123 along", "sent Bearer [REDACTED] along"),
        ("token dst_Zm9vYmFyYmF6cXV4 leaked", "token dst_[REDACTED] leaked"),
        ("{'authorization': 'Bearer abc.def'}", "{'authorization': '[REDACTED]'}"),
        (
            '{"email": "a@example.com", "password": "correct horse battery"}',
            '{"email": "a@example.com", "password": "[REDACTED]"}',
        ),
        ("password=hunter2&next=/", "password=[REDACTED]&next=/"),
        ('{\\"password\\": \\"correct horse battery\\"}', '{\\"password\\": \\"[REDACTED]\\"}'),
        (
            "GET https://s3.example/b/k.pdf?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12 200",
            "GET https://s3.example/b/k.pdf?[REDACTED] 200",
        ),
        (
            "https://b.s3.amazonaws.com/k?AWSAccessKeyId=AKIA&Signature=xyz%3D&Expires=1",
            "https://b.s3.amazonaws.com/k?[REDACTED]",
        ),
        ("https://example.com/search?q=pdf&page=2", "https://example.com/search?q=pdf&page=2"),
        (
            '{"name": "policy", "value": "eyJleHBpcmF0aW9uIjo="}, {"name": "key", "value": "a/b"}',
            '{"name": "policy", "value": "[REDACTED]"}, {"name": "key", "value": "a/b"}',
        ),
        (
            "{'x-amz-credential': 'AKIA/2026/us-west-2/s3/aws4_request', 'policy': 'eyJ', 'x-amz-signature': 'f00'}",
            "{'x-amz-credential': '[REDACTED]', 'policy': '[REDACTED]', 'x-amz-signature': '[REDACTED]'}",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIA/2026/us-west-2/s3/aws4_request, Signature=0123abcd",
            "AWS4-HMAC-SHA256 Credential=[REDACTED], Signature=[REDACTED]",
        ),
        ("Signature:\n0123abcdef", "Signature:\n[REDACTED]"),
        ("max_token_count=5000 tokens=3", "max_token_count=5000 tokens=3"),
        ("document 01JABC is READY", "document 01JABC is READY"),
    ],
)
def test_secrets_are_redacted_and_the_rest_kept(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redacting_twice_changes_nothing_more() -> None:
    once = redact("Authorization: Bearer dst_abc password=x https://h/k?X-Amz-Signature=1")

    assert redact(once) == once


def formatted(log_format: str, emit) -> str:
    stream = io.StringIO()
    logger = logging.getLogger(f"tests.redaction.{log_format}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = logs.handler(log_format, stream)
    logger.addHandler(handler)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_arguments_extra_fields_and_tracebacks_are_scrubbed(log_format: str) -> None:
    token = "dst_c2VjcmV0LXRva2VuLXZhbHVl"

    def emit(logger: logging.Logger) -> None:
        logger.info("signed in with %s", f"Bearer {token}", extra={"headers": {"authorization": f"Bearer {token}"}})
        try:
            raise RuntimeError(f"session {token} rejected; password=hunter2")
        except RuntimeError:
            logger.exception("sign-in failed")

    output = formatted(log_format, emit)

    assert token not in output
    assert "hunter2" not in output
    assert "c2VjcmV0" not in output
    assert "RuntimeError: session dst_[REDACTED] rejected; password=[REDACTED]" in output
    if log_format == "json":
        first, second = (json.loads(line) for line in output.splitlines() if line.startswith("{"))
        assert first["message"] == "signed in with Bearer [REDACTED]"
        assert first["headers"] == {"authorization": "Bearer [REDACTED]"}
        assert second["message"] == "sign-in failed"
        assert second["exc_info"].endswith("RuntimeError: session dst_[REDACTED] rejected; password=[REDACTED]")
