"""GraphQL enums made from the domain's own (``domain/``), not written out a second time.

The members, their names and the values resolvers receive and return are the domain enum's;
the schema adds only words: a description for the enum and one for each member. A member left
undescribed, or one described that the enum lacks, stops the import, so the two cannot drift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition

if TYPE_CHECKING:
    from collections.abc import Mapping
    from enum import Enum

E = TypeVar("E", bound="Enum")


def graphql_enum(enum: type[E], description: str, members: Mapping[E, str]) -> type[E]:
    """Declare ``enum`` to strawberry under its own name, with ``description`` and a description
    per member; returns ``enum`` itself, so that fields, inputs and resolvers use the domain's type."""
    if set(members) != set(enum):
        missing = sorted(member.name for member in set(enum) - set(members))
        extra = sorted(str(member) for member in set(members) - set(enum))
        raise TypeError(f"describe exactly the members of {enum.__name__}: missing {missing}, extra {extra}")
    strawberry.enum(enum, description=description)
    definition = getattr(enum, "__strawberry_definition__", None)
    if not isinstance(definition, StrawberryEnumDefinition):  # pragma: no cover (strawberry.enum just made it)
        raise TypeError(f"strawberry did not declare {enum.__name__}")
    for value in definition.values:
        value.description = members[enum(value.value)]
    return enum
