"""Every field an authenticated caller may reach at the wrong region answers `WRONG_REGION`; those
that answer with a union answer `WrongRegionError` instead."""

from __future__ import annotations

from graphql import GraphQLObjectType, GraphQLUnionType, get_named_type
from strawberry.types.base import StrawberryObjectDefinition

from access.regions import AnswersWrongRegion
from schema.root import build_schema
from settings import Settings

schema = build_schema(Settings())

ROOTS = ("Query", "Mutation")


def union_members() -> dict[str, set[str]]:
    """Root fields (``Query.x``, ``Mutation.y``) that answer with a union, with its members."""
    unions = {}
    for root in ROOTS:
        kind = schema._schema.type_map[root]
        assert isinstance(kind, GraphQLObjectType)
        for name, field in kind.fields.items():
            result = get_named_type(field.type)
            if isinstance(result, GraphQLUnionType):
                unions[f"{root}.{name}"] = {member.name for member in result.types}
    return unions


def test_every_root_union_but_sign_up_has_wrong_region_error() -> None:
    without = {name for name, members in union_members().items() if "WrongRegionError" not in members}

    assert without == {"Mutation.signUp"}  # signUp needs no token; a taken email is EmailTakenError everywhere


def test_every_authenticated_field_with_wrong_region_error_answers_with_it() -> None:
    converter = schema.config.name_converter
    answering = set()
    for root in ROOTS:
        definition = schema.get_type_by_name(root)
        assert isinstance(definition, StrawberryObjectDefinition)
        answering |= {
            f"{root}.{converter.get_graphql_name(field)}"
            for field in definition.fields
            if any(isinstance(extension, AnswersWrongRegion) for extension in field.extensions)
        }

    # signIn answers it itself, and only after checking the password.
    expected = {name for name, members in union_members().items() if "WrongRegionError" in members}
    assert answering == expected - {"Mutation.signIn"}
    assert "Mutation.requestUpload" in answering
