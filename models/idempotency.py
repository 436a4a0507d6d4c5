"""Idempotency records: which queue messages were already handled (kept for a day)."""

from __future__ import annotations

from datetime import timedelta

from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from models.base import BaseMeta, TableModel, condition_failed, utcnow

KEPT_FOR = timedelta(days=1)


class Handled(TableModel):
    class Meta(BaseMeta):
        table_name = "idempotency"

    key = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute()


def seen(key: str) -> bool:
    try:
        record = Handled.get(key, consistent_read=True)
    except Handled.DoesNotExist:
        return False
    return bool(record.expires_at > utcnow())


def remember(key: str) -> None:
    """Record ``key`` as handled; remembering it twice is harmless."""
    try:
        Handled(key=key, expires_at=utcnow() + KEPT_FOR).save(condition=Handled.key.does_not_exist())
    except PutError as error:
        if not condition_failed(error):
            raise
