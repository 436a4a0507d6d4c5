"""The MIME types DocStore stores. Anything else is refused before a byte is reserved."""

from __future__ import annotations

OFFICE = "application/vnd.openxmlformats-officedocument"

CONTENT_TYPES: frozenset[str] = frozenset(
    {
        "application/pdf",
        "application/msword",
        f"{OFFICE}.wordprocessingml.document",
        "application/vnd.ms-excel",
        f"{OFFICE}.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        f"{OFFICE}.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/rtf",
        "application/epub+zip",
        "application/json",
        "application/xml",
        "text/plain",
        "text/markdown",
        "text/csv",
        "text/html",
        "image/png",
        "image/jpeg",
        "image/tiff",
        "image/webp",
        "image/gif",
        "image/heic",
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "audio/mpeg",
        "audio/mp4",
        "application/zip",
        "application/gzip",
        "application/x-tar",
        "application/x-7z-compressed",
    }
)
