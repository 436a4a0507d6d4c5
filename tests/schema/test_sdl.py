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

from schema.root import schema
from tests.client import OPERATIONS

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
        "NotFoundError",
        "EmailTakenError",
        "PremiumRequiredError",
        "InvalidCredentialsError",
        "QuotaExceededError",
        "UploadNotFoundError",
        "WrongRegionError",
        "UploadRejectedError",
        "RateLimitedError",
    }
    for name in names:
        assert error in schema._schema.type_map[name].interfaces, name


def test_app_offers_only_the_graphql_transport_ws_protocol(settings) -> None:
    from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

    from server import create_app

    views = {route.endpoint for route in create_app(settings).routes if getattr(route, "path", "") == "/graphql"}

    assert len(views) == 1
    assert list(views.pop().protocols) == [GRAPHQL_TRANSPORT_WS_PROTOCOL]
