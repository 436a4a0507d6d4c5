"""The GraphQL enums are the domain's enums: one list of members, described once in the schema."""

from __future__ import annotations

from enum import StrEnum

import pytest
from graphql import EnumValueNode

from domain.documents import DocumentStatus
from domain.plans import Plan
from schema.enums import graphql_enum
from schema.root import build_schema
from settings import Settings

schema = build_schema(Settings())


@pytest.mark.parametrize(("name", "enum"), [("Plan", Plan), ("DocumentStatus", DocumentStatus)])
def test_the_graphql_enum_has_exactly_the_domain_members(name: str, enum: type[StrEnum]) -> None:
    graphql = schema._schema.type_map[name]

    assert list(graphql.values) == [member.name for member in enum]  # type: ignore[attr-defined]
    assert [value.value for value in graphql.values.values()] == [member.value for member in enum]  # type: ignore[attr-defined]


def test_an_input_enum_reaches_the_resolver_as_the_domain_member() -> None:
    graphql = schema._schema.type_map["Plan"]

    assert graphql.parse_literal(EnumValueNode(value="PREMIUM")) is Plan.PREMIUM  # type: ignore[attr-defined]
    assert graphql.serialize(Plan.FREE) == "FREE"  # type: ignore[attr-defined]


class Colour(StrEnum):
    RED = "RED"
    BLUE = "BLUE"


def test_a_member_left_undescribed_stops_the_declaration() -> None:
    with pytest.raises(TypeError, match=r"describe exactly the members of Colour: missing \['BLUE'\], extra \[\]"):
        graphql_enum(Colour, "Colours.", {Colour.RED: "Red."})
