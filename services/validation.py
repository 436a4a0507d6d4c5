"""Input rules, checked before anything is stored.

Each rule refuses with :class:`InvalidInput` naming the field at fault. An input's checks
(:func:`sign_up`, :func:`upload`, :func:`document_changes`, :func:`list_filter`, or a resolver's
own through :class:`Checks`) run every rule and refuse once with every problem, in the order the
input declares its fields, so one answer names all that is wrong. The API maps the refusal one way
(``schema.errors``): a mutation answers a ``ValidationError`` member of its result, a query a
top-level ``BAD_USER_INPUT`` error; both list ``field`` and ``message`` for each problem.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ParamSpec, Protocol, TypeVar
from urllib.parse import quote, urlsplit

from email_validator import EmailNotValidError, validate_email

from models import paths
from models.content_types import CONTENT_TYPES
from models.documents import ListFilter
from models.errors import DocumentNotFound

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from domain.documents import DocumentStatus
    from settings import Settings

MAX_FILENAME_BYTES = 255
MAX_TAGS = 20
MAX_TAG_CHARS = 64
MAX_DESCRIPTION_CHARS = 1000
#: S3 refuses more than 2 KB of user metadata on an object.
MAX_METADATA_BYTES = 2048
MAX_UPLOAD_BYTES = 5 * 1024**3
#: S3's largest object, which a multipart upload may reach (within the plan's quota), in at most
#: 10,000 parts of at least 5 MiB each but the last.
MAX_MULTIPART_BYTES = 5 * 1024**4
MAX_PARTS = 10_000
MIB = 1024**2
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256
DOCUMENT_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
#: A content hash (``domain.content_hash``): 64 hex characters, either case.
CONTENT_HASH = re.compile(r"[0-9a-fA-F]{64}")
#: Control, format (bidirectional overrides, zero-width), surrogate, private-use, unassigned,
#: and line or paragraph separators.
FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """One input at fault: its path in the request (``filter.tags``) and a sentence for a person."""

    field: str
    message: str


class InvalidInput(ValueError):
    """The input was refused, nothing stored; ``problems`` names every field at fault, in order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("an InvalidInput names at least one problem")
        self.problems = tuple(problems)
        super().__init__(" ".join(f"{problem.field}: {problem.message}" for problem in self.problems))

    @property
    def field(self) -> str:
        """The first field at fault."""
        return self.problems[0].field

    @property
    def message(self) -> str:
        """The first problem's sentence."""
        return self.problems[0].message


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput([Problem(field, message)])


class Checks:
    """Runs every check of one input and keeps every problem, then refuses once with them all.

    ``checks(rule, placeholder, *arguments)`` answers ``rule(*arguments)``, or the placeholder
    when the rule refused; :meth:`done` raises before any placeholder can be used. Written here
    rather than taken from a validation library: the inputs arrive typed (Strawberry checked
    them), and what is left is DocStore's own rules and sentences, which only need collecting.
    """

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def __call__(self, rule: Callable[P, T], otherwise: T, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return rule(*args, **kwargs)
        except InvalidInput as error:
            self.problems.extend(error.problems)
            return otherwise

    def ok(self, *fields: str) -> bool:
        """None of these fields has a problem so far (for a rule that reads several of them)."""
        return not any(problem.field in fields for problem in self.problems)

    def done(self) -> None:
        """:class:`InvalidInput` with every problem found, if any."""
        if self.problems:
            raise InvalidInput(self.problems)


def _clean_text(field: str, value: str, *, allow: Iterable[str] = ()) -> str:
    text = unicodedata.normalize("NFC", value)
    for char in text:
        if unicodedata.category(char) in FORBIDDEN_CATEGORIES and char not in allow:
            raise invalid(field, f"{field} contains a control or invisible character (U+{ord(char):04X}).")
    return text


def email(raw: str) -> str:
    if len(raw) > 254:
        raise invalid("email", "The email is longer than 254 characters.")
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise invalid("email", f"The email is not valid: {error}") from None
    return checked.normalized.lower()


def password(raw: str) -> str:
    if len(raw) < MIN_PASSWORD_CHARS:
        raise invalid("password", f"The password needs at least {MIN_PASSWORD_CHARS} characters.")
    if len(raw) > MAX_PASSWORD_CHARS:
        raise invalid("password", f"The password may have at most {MAX_PASSWORD_CHARS} characters.")
    return raw


def filename(raw: str, field: str = "filename") -> str:
    if len(raw) > 4 * MAX_FILENAME_BYTES:
        raise invalid(field, f"The file name is longer than {MAX_FILENAME_BYTES} bytes.")
    name = _clean_text(field, raw).strip()
    if not name:
        raise invalid(field, "The file name is empty.")
    if len(name.encode()) > MAX_FILENAME_BYTES:
        raise invalid(field, f"The file name is longer than {MAX_FILENAME_BYTES} bytes.")
    if "/" in name or "\\" in name:
        raise invalid(field, "The file name may not contain / or \\.")
    if name in {".", ".."}:
        raise invalid(field, "The file name may not be . or ..")
    return name


@dataclass(frozen=True)
class PathLimits:
    """How long and how deep a path may be (``DOCSTORE_PATH_MAX_BYTES``, ``DOCSTORE_PATH_MAX_DEPTH``)."""

    max_bytes: int = 1024
    max_depth: int = 32


def path_limits(settings: Settings) -> PathLimits:
    return PathLimits(max_bytes=settings.path_max_bytes, max_depth=settings.path_max_depth)


def path(raw: str, limits: PathLimits, field: str = "path", *, prefix: bool = False) -> str:
    """A document's path, NFC: ``/`` then segments, each a valid file name (no empty segment,
    no ``.`` or ``..``, no control or invisible character). A ``prefix`` (a listing's
    ``pathPrefix``) may end with ``/``, to name a folder, and is ``/`` alone for everything."""
    if len(raw) > 4 * limits.max_bytes:
        raise invalid(field, f"The path is longer than {limits.max_bytes} bytes.")
    text = _clean_text(field, raw)
    if not text.startswith("/"):
        raise invalid(field, "The path must start with /.")
    if len(text.encode()) > limits.max_bytes:
        raise invalid(field, f"The path is longer than {limits.max_bytes} bytes.")
    segments = text[1:].split("/")
    if prefix and segments[-1] == "":
        segments.pop()
    if len(segments) > limits.max_depth:
        raise invalid(field, f"The path has more than {limits.max_depth} segments.")
    if not prefix and segments == [""]:
        raise invalid(field, "The path names no file: it is / alone.")
    for segment in segments:
        if segment == "":
            raise invalid(field, "The path has an empty segment (// or a / at its end).")
        if segment in {".", ".."}:
            raise invalid(field, "The path may not have . or .. segments.")
        if "\\" in segment:
            raise invalid(field, "The path may not contain \\.")
        if segment != segment.strip():
            raise invalid(field, "A segment of the path starts or ends with a space.")
    return text


def tags(raw: Sequence[str], field: str = "tags") -> list[str]:
    if len(raw) > MAX_TAGS:
        raise invalid(field, f"At most {MAX_TAGS} tags, not {len(raw)}.")
    seen: dict[str, None] = {}
    for value in raw:
        tag = _clean_text(field, value).strip()
        if not 1 <= len(tag) <= MAX_TAG_CHARS:
            raise invalid(field, f"Each tag needs 1 to {MAX_TAG_CHARS} characters.")
        seen.setdefault(tag)
    return list(seen)


def description(raw: str) -> str:
    if len(raw) > MAX_DESCRIPTION_CHARS:
        raise invalid("description", f"The description may have at most {MAX_DESCRIPTION_CHARS} characters.")
    return _clean_text("description", raw, allow="\n\t").strip()


def content_type(raw: str, field: str = "contentType") -> str:
    value = raw.strip().lower()
    if value not in CONTENT_TYPES:
        raise invalid(field, f"DocStore does not store {raw[:100]!r} files.")
    return value


def size(raw: int) -> int:
    if raw < 1:
        raise invalid("size", "The size must be at least 1 byte.")
    if raw > MAX_UPLOAD_BYTES:
        raise invalid("size", f"One upload may have at most {MAX_UPLOAD_BYTES} bytes (5 GiB).")
    return raw


def multipart_size(raw: int) -> int:
    if raw < 1:
        raise invalid("size", "The size must be at least 1 byte.")
    if raw > MAX_MULTIPART_BYTES:
        raise invalid("size", f"One multipart upload may have at most {MAX_MULTIPART_BYTES} bytes (5 TiB, S3's limit).")
    return raw


def part_size(size: int, configured: int) -> int:
    """The part size of a multipart upload of ``size`` bytes: the configured one, or larger when
    the file would need more than S3's 10,000 parts, in whole MiB."""
    wanted = max(configured, -(-size // MAX_PARTS))
    return -(-wanted // MIB) * MIB


def part_numbers(raw: Sequence[int], part_count: int, maximum: int) -> list[int]:
    """Distinct part numbers of an upload of ``part_count`` parts, at most ``maximum`` of them."""
    if not raw:
        raise invalid("partNumbers", "Name at least one part number.")
    if len(raw) > maximum:
        raise invalid("partNumbers", f"At most {maximum} part numbers per call, not {len(raw)}.")
    wrong = [number for number in raw if not 1 <= number <= part_count]
    if wrong:
        raise invalid("partNumbers", f"Part numbers go from 1 to {part_count}; {wrong[0]} is not one of them.")
    return list(dict.fromkeys(raw))


def completed_parts(raw: Sequence[RawPart], part_count: int) -> list[tuple[int, str]]:
    """The parts a completion names, as (number, ETag) in order: one each, numbers in range. Whether
    they are the upload's parts is for S3's answer (``services.uploads``) to say."""
    if not raw:
        raise invalid("parts", "Name the upload's parts.")
    if len(raw) > part_count:
        raise invalid("parts", f"The upload has {part_count} parts; {len(raw)} were named.")
    named: dict[int, str] = {}
    for part in raw:
        if not 1 <= part.number <= part_count:
            raise invalid("parts", f"Part numbers go from 1 to {part_count}; {part.number} is not one of them.")
        if part.number in named:
            raise invalid("parts", f"Part {part.number} is named twice.")
        etag = part.etag.strip().strip('"')
        if not etag or len(etag) > 100 or not etag.isascii():
            raise invalid("parts", f"Part {part.number} needs the ETag S3 answered for it.")
        named[part.number] = etag
    return sorted(named.items())


def redirect_url(raw: str | None, allowed_origins: Sequence[str]) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.scheme not in {"http", "https"} or origin not in allowed_origins or len(raw) > 2000:
        raise invalid("redirectUrl", "The redirect URL is not on an allowed origin.")
    return raw


def metadata_value(value: str) -> str:
    """S3 user metadata travels in HTTP headers: keep it ASCII by percent-encoding UTF-8."""
    return quote(value, safe=" ")


def upload_metadata(tag_list: list[str], text: str) -> dict[str, str]:
    """The object metadata for an upload; :class:`InvalidInput` past S3's 2 KB."""
    metadata = {"tags": ",".join(metadata_value(tag) for tag in tag_list), "description": metadata_value(text)}
    total = sum(len(name) + len(value) for name, value in metadata.items())
    if total > MAX_METADATA_BYTES:
        raise invalid("description", "Tags and description together pass S3's 2 KB metadata limit; shorten them.")
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


def page_size(raw: int, maximum: int, field: str = "first") -> int:
    if not 1 <= raw <= maximum:
        raise invalid(field, f"`{field}` must be between 1 and {maximum}.")
    return raw


# --- whole inputs: every rule, every problem ------------------------------------------------


def sign_up(raw_email: str, raw_password: str) -> tuple[str, str]:
    """The normalized email and the password of a new account."""
    checks = Checks()
    checked_email = checks(email, "", raw_email)
    checked_password = checks(password, "", raw_password)
    checks.done()
    return checked_email, checked_password


@dataclass(frozen=True)
class Upload:
    filename: str
    #: Where the document goes: the one asked for, or ``/`` + the file name.
    path: str
    content_type: str
    size: int
    tags: list[str]
    description: str
    metadata: dict[str, str]
    redirect_url: str | None


def upload(raw: RawUpload, allowed_origins: Sequence[str], path_limits: PathLimits | None = None) -> Upload:
    """A file about to be uploaded, its fields checked in the order ``RequestUploadInput`` has them."""
    checks = Checks()
    name = checks(filename, "", raw.filename)
    where = _where(checks, name, raw.path, path_limits or PathLimits())
    kind = checks(content_type, "", raw.content_type)
    declared = checks(size, 0, raw.size)
    tag_list = checks(tags, [], raw.tags)
    text = checks(description, "", raw.description)
    metadata: dict[str, str] = {}
    if checks.ok("tags", "description"):  # their sum is only worth checking when each is right
        metadata = checks(upload_metadata, {}, tag_list, text)
    redirect = checks(redirect_url, None, raw.redirect_url, allowed_origins)
    checks.done()
    return Upload(name, where, kind, declared, tag_list, text, metadata, redirect)


#: What an upload does to a path another document holds (``requestUpload``'s ``mode``).
UPLOAD_MODES = ("ADD", "OVERWRITE", "UPDATE")


VERSIONS_START = "Versions start at 1."


def version_number(field: str, version: int) -> int:
    """A version a caller names (``ifVersion``): at least 1."""
    if version < 1:
        raise InvalidInput([Problem(field, VERSIONS_START)])
    return version


def upload_mode(raw_mode: object, if_version: int | None) -> tuple[str, int | None]:
    """An upload's mode (its name) and ``ifVersion``: UPDATE needs one, of at least 1, and
    the other modes take none."""
    mode = str(getattr(raw_mode, "value", raw_mode))
    problems = []
    if mode not in UPLOAD_MODES:
        problems.append(Problem("mode", f"Must be one of {', '.join(UPLOAD_MODES)}."))
    elif mode == "UPDATE" and if_version is None:
        problems.append(Problem("ifVersion", "UPDATE needs the version the document must still be at."))
    elif mode != "UPDATE" and if_version is not None:
        problems.append(Problem("ifVersion", "Only UPDATE takes a version."))
    if if_version is not None and if_version < 1:
        problems.append(Problem("ifVersion", VERSIONS_START))
    if problems:
        raise InvalidInput(problems)
    return mode, if_version


@dataclass(frozen=True)
class MultipartUpload:
    filename: str
    #: Where the document goes: the one asked for, or ``/`` + the file name.
    path: str
    content_type: str
    size: int


def multipart_upload(raw: RawMultipartUpload, path_limits: PathLimits | None = None) -> MultipartUpload:
    """A file about to be uploaded in parts, its fields checked in the order
    ``RequestMultipartUploadInput`` has them."""
    checks = Checks()
    name = checks(filename, "", raw.filename)
    where = _where(checks, name, raw.path, path_limits or PathLimits())
    kind = checks(content_type, "", raw.content_type)
    declared = checks(multipart_size, 0, raw.size)
    checks.done()
    return MultipartUpload(name, where, kind, declared)


def _where(checks: Checks, name: str, raw_path: str | None, limits: PathLimits) -> str:
    """An upload's path: the one asked for, or ``/`` + its (valid) name, whose problem is then the name's."""
    if raw_path is not None:
        return checks(path, "", raw_path, limits)
    if checks.ok("filename"):
        return checks(path, "", "/" + name, limits, field="filename")  # a name short enough, its path not
    return ""


@dataclass(frozen=True)
class Changes:
    """What ``updateDocument`` changes; ``None`` leaves a field as it is."""

    name: str | None
    tags: list[str] | None
    description: str | None


def document_changes(name: str | None, tag_list: Sequence[str] | None, text: str | None) -> Changes:
    checks = Checks()
    changes = Changes(
        name=checks(filename, None, name, field="name") if name is not None else None,
        tags=checks(tags, None, tag_list) if tag_list is not None else None,
        description=checks(description, None, text) if text is not None else None,
    )
    checks.done()
    return changes


def list_filter(raw: RawFilter | None, prefix: str = "filter", path_limits: PathLimits | None = None) -> ListFilter:
    """A listing's or a search's ``DocumentFilter``; each problem's field is under ``prefix``."""
    if raw is None:
        return ListFilter()
    checks = Checks()
    name_contains = None
    if raw.name_contains is not None:
        name_contains = checks(filename, "", raw.name_contains, field=f"{prefix}.nameContains")
    path_prefix: str | None = None
    if raw.path_prefix is not None:
        limits = path_limits or PathLimits()
        path_prefix = checks(path, None, raw.path_prefix, limits, field=f"{prefix}.pathPrefix", prefix=True)
    tag_list = checks(tags, [], raw.tags or [], field=f"{prefix}.tags")
    kind = None
    if raw.content_type:
        kind = checks(content_type, "", raw.content_type, f"{prefix}.contentType")
    checks.done()
    return ListFilter(
        name_contains=name_contains,
        tags=tuple(tag_list),
        content_type=kind,
        created_after=aware(raw.created_after),
        created_before=aware(raw.created_before),
        updated_after=aware(raw.updated_after),
        updated_before=aware(raw.updated_before),
        status=raw.status,
        path_prefix=path_prefix,
    )


@dataclass(frozen=True)
class Comparison:
    """What ``compareChecksums`` compares: a folder (a path prefix) and the client's files under
    it, each ``(path, content hash)`` with the hash in lower case, in the order given."""

    path_prefix: str
    files: list[tuple[str, str]]


def content_hash(raw: str, field: str = "contentHash") -> str:
    if not CONTENT_HASH.fullmatch(raw):
        raise invalid(field, "A content hash is 64 hexadecimal characters (docstore hash FILE computes it).")
    return raw.lower()


def comparison(
    raw_files: Sequence[RawFile], raw_prefix: str, limits: PathLimits, max_files: int, prefix: str = "input"
) -> Comparison:
    """A ``compareChecksums`` input: at most ``max_files`` files, each path valid, under the
    prefix and given once (compared as paths are, ignoring case), each hash 64 hex characters.
    Every problem is named, each file's under ``{prefix}.files.{index}``."""
    checks = Checks()
    folder = checks(path, None, raw_prefix, limits, field=f"{prefix}.pathPrefix", prefix=True)
    if len(raw_files) > max_files:
        # Refused before looking at any of them: the answer stays small.
        checks.problems.append(
            Problem(
                f"{prefix}.files",
                f"At most {max_files:,} files per call (DOCSTORE_COMPARE_MAX_FILES), not {len(raw_files):,}: "
                "compare one folder (pathPrefix) at a time.",
            )
        )
        checks.done()
    folder_key = paths.key(folder) if folder is not None else None
    first_at: dict[str, int] = {}
    files: list[tuple[str, str]] = []
    for index, raw in enumerate(raw_files):
        field = f"{prefix}.files.{index}"
        where = checks(path, None, raw.path, limits, field=f"{field}.path")
        if where is not None:
            where_key = paths.key(where)
            if folder_key is not None and not where_key.startswith(folder_key):
                checks.problems.append(Problem(f"{field}.path", f"The path is not under pathPrefix {folder!r}."))
            elif where_key in first_at:
                checks.problems.append(
                    Problem(
                        f"{field}.path",
                        f"The same path as {prefix}.files.{first_at[where_key]}.path (paths compare ignoring case).",
                    )
                )
            else:
                first_at[where_key] = index
        digest = checks(content_hash, "", raw.content_hash, field=f"{field}.contentHash")
        files.append((where or "", digest))
    checks.done()
    return Comparison(str(folder), files)


class RawUpload(Protocol):
    """An upload as asked for (``RequestUploadInput`` has these fields)."""

    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def description(self) -> str: ...
    @property
    def redirect_url(self) -> str | None: ...
    @property
    def path(self) -> str | None: ...


class RawFilter(Protocol):
    """A filter as asked for (``DocumentFilter`` has these fields)."""

    @property
    def name_contains(self) -> str | None: ...
    @property
    def tags(self) -> Sequence[str] | None: ...
    @property
    def content_type(self) -> str | None: ...
    @property
    def created_after(self) -> datetime | None: ...
    @property
    def created_before(self) -> datetime | None: ...
    @property
    def updated_after(self) -> datetime | None: ...
    @property
    def updated_before(self) -> datetime | None: ...
    @property
    def status(self) -> DocumentStatus | None: ...
    @property
    def path_prefix(self) -> str | None: ...


class RawMultipartUpload(Protocol):
    """A multipart upload as asked for (``RequestMultipartUploadInput`` has these fields)."""

    @property
    def filename(self) -> str: ...
    @property
    def path(self) -> str | None: ...
    @property
    def content_type(self) -> str: ...
    @property
    def size(self) -> int: ...


class RawPart(Protocol):
    """One part a completion names (``CompletedPartInput``)."""

    @property
    def number(self) -> int: ...
    @property
    def etag(self) -> str: ...


class RawFile(Protocol):
    """A client's file in ``compareChecksums``, as the API receives it."""

    @property
    def path(self) -> str: ...
    @property
    def content_hash(self) -> str: ...
