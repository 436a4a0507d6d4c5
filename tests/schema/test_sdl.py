"""The committed SDL, the operation documents and the descriptions that make GraphiQL the manual."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    OperationDefinitionNode,
    parse,
    validate,
)

from schema import descriptions
from schema.root import build_schema
from settings import Settings
from tests.client import OPERATIONS

schema = build_schema(Settings())

ROOT = Path(__file__).resolve().parents[2]
SDL = ROOT / "gql" / "schema.graphql"
OPERATION_FILES = sorted(OPERATIONS.glob("*/*.graphql"))


def test_committed_sdl_matches_the_code() -> None:
    assert SDL.read_text() == str(schema) + "\n", "gql/schema.graphql is stale: run `make schema`"


@pytest.mark.parametrize("path", OPERATION_FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_operation_document_is_valid_and_named_after_its_file(path: Path) -> None:
    document = parse(path.read_text())

    assert validate(schema._schema, document) == []
    (operation,) = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    assert operation.name is not None
    assert operation.name.value == path.stem
    assert path.stem[0].isupper()


def test_operation_folders_are_named_after_schema_domains() -> None:
    domains = {path.parent.name for path in OPERATION_FILES}
    schema_modules = {path.stem for path in (ROOT / "schema").glob("*.py")}

    assert {"accounts", "uploads", "documents", "events", "search", "plans", "dashboard"} <= domains
    assert domains <= schema_modules


def undescribed() -> list[str]:
    missing = []
    for name, kind in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Boolean", "Int", "Float", "ID"}:
            continue
        if not kind.description:
            missing.append(name)
        if isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            for field_name, field in kind.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(kind, GraphQLEnumType):
            missing.extend(f"{name}.{value_name}" for value_name, value in kind.values.items() if not value.description)
        if isinstance(kind, GraphQLUnionType) and not kind.description:
            missing.append(name)
    return missing


def test_every_type_field_and_argument_has_a_description() -> None:
    assert undescribed() == []


def test_errors_implement_the_error_interface() -> None:
    error = schema._schema.type_map["Error"]
    names = {name for name, kind in schema._schema.type_map.items() if name.endswith("Error")} - {"Error"}

    assert names == {
        "ValidationError",
        "FieldError",
        "NotFoundError",
        "EmailTakenError",
        "PremiumRequiredError",
        "InvalidCredentialsError",
        "QuotaExceededError",
        "UploadNotFoundError",
        "WrongRegionError",
        "UploadRejectedError",
        "UploadCompletedError",
        "RateLimitedError",
        "PathTakenError",
        "VersionConflictError",
        "VersionNotFoundError",
        "CursorExpiredError",
    }
    for name in names:
        assert error in schema._schema.type_map[name].interfaces, name


def test_app_offers_only_the_graphql_transport_ws_protocol(settings) -> None:
    from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

    from server import create_app

    views = {route.endpoint for route in create_app(settings).routes if getattr(route, "path", "") == "/graphql"}

    assert len(views) == 1
    assert list(views.pop().protocols) == [GRAPHQL_TRANSPORT_WS_PROTOCOL]


def described_lifetimes(built) -> tuple[str, str, str]:
    types = built._schema.type_map
    return (
        types["Mutation"].fields["requestUpload"].description,
        types["UploadForm"].fields["expiresAt"].description,
        types["Document"].fields["downloadUrl"].description,
    )


def test_descriptions_say_the_values_of_the_settings_they_name() -> None:
    built = build_schema(Settings(upload_form_seconds=120, download_url_seconds=600))

    assert described_lifetimes(built) == (
        "Reserve room for a file and get a signed S3 form (valid 120 s) to POST it to. "
        "Then call `completeUpload`. Uncompleted forms are released after they expire.",
        "The form is refused after this instant (120 seconds).",
        "A signed link that downloads the file under its name, valid for 10 minutes. "
        "Null while nothing is stored (PENDING_UPLOAD, REJECTED).",
    )
    # Each schema has its own descriptions: the defaults' one, built first, still says the defaults.
    assert described_lifetimes(schema)[1:] == (
        "The form is refused after this instant (90 seconds).",
        "A signed link that downloads the file under its name, valid for 5 minutes. "
        "Null while nothing is stored (PENDING_UPLOAD, REJECTED).",
    )
    assert "$" not in str(built)
    assert "$" not in str(schema)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "1 second"), (90, "90 seconds"), (60, "1 minute"), (300, "5 minutes"), (3600, "60 minutes")],
)
def test_a_lifetime_is_said_in_whole_minutes_or_else_in_seconds(seconds: int, words: str) -> None:
    assert descriptions.lifetime(seconds) == words


def test_the_app_serves_the_schema_of_its_settings(settings) -> None:
    from server import create_app

    app = create_app(settings.with_overrides(upload_form_seconds=45, download_url_seconds=120))
    (view,) = {route.endpoint for route in app.routes if getattr(route, "path", "") == "/graphql"}

    assert described_lifetimes(view.schema)[1:] == (
        "The form is refused after this instant (45 seconds).",
        "A signed link that downloads the file under its name, valid for 2 minutes. "
        "Null while nothing is stored (PENDING_UPLOAD, REJECTED).",
    )
