"""Input rules, checked before anything is stored. Each failure names the field at fault."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from email_validator import EmailNotValidError, validate_email

from models.content_types import CONTENT_TYPES
from models.errors import DocumentNotFound

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

MAX_FILENAME_BYTES = 255
MAX_TAGS = 20
MAX_TAG_CHARS = 64
MAX_DESCRIPTION_CHARS = 1000
#: S3 refuses more than 2 KB of user metadata on an object.
MAX_METADATA_BYTES = 2048
MAX_UPLOAD_BYTES = 5 * 1024**3
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256
DOCUMENT_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
#: Control, format (bidirectional overrides, zero-width), surrogate, private-use, unassigned,
#: and line or paragraph separators.
FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


class InvalidInput(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _clean_text(field: str, value: str, *, allow: Iterable[str] = ()) -> str:
    text = unicodedata.normalize("NFC", value)
    for char in text:
        if unicodedata.category(char) in FORBIDDEN_CATEGORIES and char not in allow:
            raise InvalidInput(field, f"{field} contains a control or invisible character (U+{ord(char):04X}).")
    return text


def email(raw: str) -> str:
    if len(raw) > 254:
        raise InvalidInput("email", "The email is longer than 254 characters.")
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInput("email", f"The email is not valid: {error}") from None
    return checked.normalized.lower()


def password(raw: str) -> str:
    if len(raw) < MIN_PASSWORD_CHARS:
        raise InvalidInput("password", f"The password needs at least {MIN_PASSWORD_CHARS} characters.")
    if len(raw) > MAX_PASSWORD_CHARS:
        raise InvalidInput("password", f"The password may have at most {MAX_PASSWORD_CHARS} characters.")
    return raw


def filename(raw: str, field: str = "filename") -> str:
    if len(raw) > 4 * MAX_FILENAME_BYTES:
        raise InvalidInput(field, f"The file name is longer than {MAX_FILENAME_BYTES} bytes.")
    name = _clean_text(field, raw).strip()
    if not name:
        raise InvalidInput(field, "The file name is empty.")
    if len(name.encode()) > MAX_FILENAME_BYTES:
        raise InvalidInput(field, f"The file name is longer than {MAX_FILENAME_BYTES} bytes.")
    if "/" in name or "\\" in name:
        raise InvalidInput(field, "The file name may not contain / or \\.")
    if name in {".", ".."}:
        raise InvalidInput(field, "The file name may not be . or ..")
    return name


def tags(raw: Sequence[str], field: str = "tags") -> list[str]:
    if len(raw) > MAX_TAGS:
        raise InvalidInput(field, f"At most {MAX_TAGS} tags, not {len(raw)}.")
    seen: dict[str, None] = {}
    for value in raw:
        tag = _clean_text(field, value).strip()
        if not 1 <= len(tag) <= MAX_TAG_CHARS:
            raise InvalidInput(field, f"Each tag needs 1 to {MAX_TAG_CHARS} characters.")
        seen.setdefault(tag)
    return list(seen)


def description(raw: str) -> str:
    if len(raw) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput("description", f"The description may have at most {MAX_DESCRIPTION_CHARS} characters.")
    return _clean_text("description", raw, allow="\n\t").strip()


def content_type(raw: str, field: str = "contentType") -> str:
    value = raw.strip().lower()
    if value not in CONTENT_TYPES:
        raise InvalidInput(field, f"DocStore does not store {raw[:100]!r} files.")
    return value


def size(raw: int) -> int:
    if raw < 1:
        raise InvalidInput("size", "The size must be at least 1 byte.")
    if raw > MAX_UPLOAD_BYTES:
        raise InvalidInput("size", f"One upload may have at most {MAX_UPLOAD_BYTES} bytes (5 GiB).")
    return raw


def redirect_url(raw: str | None, allowed_origins: Sequence[str]) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.scheme not in {"http", "https"} or origin not in allowed_origins or len(raw) > 2000:
        raise InvalidInput("redirectUrl", "The redirect URL is not on an allowed origin.")
    return raw


def metadata_value(value: str) -> str:
    """S3 user metadata travels in HTTP headers: keep it ASCII by percent-encoding UTF-8."""
    return quote(value, safe=" ")


def upload_metadata(tag_list: list[str], text: str) -> dict[str, str]:
    """The object metadata for an upload; :class:`InvalidInput` past S3's 2 KB."""
    metadata = {"tags": ",".join(metadata_value(tag) for tag in tag_list), "description": metadata_value(text)}
    total = sum(len(name) + len(value) for name, value in metadata.items())
    if total > MAX_METADATA_BYTES:
        raise InvalidInput("description", "Tags and description together pass S3's 2 KB metadata limit; shorten them.")
    return metadata


def document_id(raw: str) -> str:
    """The id if it could be a document id; :class:`DocumentNotFound` otherwise, exactly as for an
    id that is well formed but not the caller's, so a malformed id tells nothing more."""
    if not DOCUMENT_ID.fullmatch(raw):
        raise DocumentNotFound(raw[:64])
    return raw


def aware(moment: datetime | None) -> datetime | None:
    """Date-times without a zone are taken as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    size: int
    tags: list[str]
    description: str
    metadata: dict[str, str]
    redirect_url: str | None
