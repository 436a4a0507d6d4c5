"""Opaque cursors: a position in one sort order, useless in another."""

from __future__ import annotations

import base64
import binascii
import json

from services import validation

VERSION = 1


def encode(order: str, sort_value: str, document_id: str) -> str:
    raw = json.dumps([VERSION, order, sort_value, document_id], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, order: str, field: str = "after") -> tuple[str, str]:
    """(sort value, document id) from a cursor made for ``order``; otherwise
    :class:`validation.InvalidInput` naming ``field``, the argument the cursor came in."""
    try:
        if len(cursor) > 2000:
            raise ValueError
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        version, cursor_order, sort_value, document_id = data
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise validation.invalid(field, "The cursor is not one this API gave out.") from None
    if version != VERSION or not isinstance(sort_value, str) or not isinstance(document_id, str):
        raise validation.invalid(field, "The cursor is not one this API gave out.")
    if cursor_order != order:
        raise validation.invalid(field, "The cursor belongs to another sort order; start again without `after`.")
    return sort_value, document_id
