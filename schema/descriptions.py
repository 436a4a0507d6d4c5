"""Descriptions that name a setting's value: written ``$name`` in the code, filled in from the
settings when the schema is built (``schema.root.build_schema``), so that GraphiQL's documentation
says what this deployment does.

Strawberry takes a field's description when its class is defined, at import, before any settings
are read; the GraphQL types it then builds belong to each schema it builds. So a description that
names a setting is a :class:`string.Template` (``$name`` or ``${name}``; ``$$`` for a dollar sign),
and each built schema's copy is filled in once. A name missing from :func:`values` fails the build.
"""

from __future__ import annotations

from string import Template
from typing import TYPE_CHECKING, Any

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

if TYPE_CHECKING:
    from collections.abc import Iterator

    from graphql import GraphQLSchema

    from settings import Settings


def values(settings: Settings) -> dict[str, str]:
    """What a description may name, in the words it is shown in."""
    return {
        "upload_form_seconds": str(settings.upload_form_seconds),
        "download_url_lifetime": lifetime(settings.download_url_seconds),
        "plan_race_attempts": str(settings.plan_race_attempts),
        "requests_per_account": f"{settings.requests_per_account:,}",
        "requests_window": lifetime(settings.requests_window_seconds),
        "multipart_part_bytes": str(settings.multipart_part_bytes),
        "multipart_sign_max_parts": str(settings.multipart_sign_max_parts),
        "multipart_part_url_seconds": str(settings.multipart_part_url_seconds),
        "multipart_upload_seconds": str(settings.multipart_upload_seconds),
        "path_max_bytes": f"{settings.path_max_bytes:,}",
        "path_max_depth": str(settings.path_max_depth),
        "compare_max_files": f"{settings.compare_max_files:,}",
        "change_retention_days": str(settings.change_retention_days),
        "versions_free": str(settings.versions_free),
        "versions_premium": str(settings.versions_premium),
        "share_links_per_document": str(settings.share_links_per_document),
        "search_shared_documents": f"{settings.search_shared_documents:,}",
        "share_default_expiry": duration(settings.share_default_expiry_seconds),
        "share_max_expiry_seconds": f"{settings.share_max_expiry_seconds:,}",
        "share_max_expiry": duration(settings.share_max_expiry_seconds),
        "share_max_downloads": f"{settings.share_max_downloads:,}",
        "share_download_url_lifetime": lifetime(settings.share_download_url_seconds),
        "thumbnail_small_px": str(settings.thumbnail_small_px),
        "thumbnail_large_px": str(settings.thumbnail_large_px),
        "thumbnail_lifetime": lifetime(settings.thumbnail_seconds),
    }


def duration(seconds: int) -> str:
    """``7 days``, ``1 day``, else as :func:`lifetime` says it."""
    if seconds >= 86400 and seconds % 86400 == 0:
        days = seconds // 86400
        return "1 day" if days == 1 else f"{days} days"
    return lifetime(seconds)


def lifetime(seconds: int) -> str:
    """``5 minutes``, ``1 minute``, ``90 seconds``: whole minutes in minutes, the rest in seconds."""
    if seconds >= 60 and seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds} second" if seconds == 1 else f"{seconds} seconds"


def fill(schema: GraphQLSchema, settings: Settings) -> None:
    """Put the settings' values into every description of ``schema`` that names one."""
    words = values(settings)
    for element in described(schema):
        if element.description and "$" in element.description:
            element.description = Template(element.description).substitute(words)


def described(schema: GraphQLSchema) -> Iterator[Any]:
    """Everything in ``schema`` that has a description: types, fields, arguments, input fields,
    enum values and directives."""
    for name, kind in schema.type_map.items():
        if name.startswith("__"):
            continue
        yield kind
        if isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType)):
            for field in kind.fields.values():
                yield field
                yield from field.args.values()
        elif isinstance(kind, GraphQLInputObjectType):
            yield from kind.fields.values()
        elif isinstance(kind, GraphQLEnumType):
            yield from kind.values.values()
    for directive in schema.directives:
        yield directive
        yield from directive.args.values()
