"""Custom scalars. Byte counts pass 2 GiB, beyond GraphQL's 32-bit ``Int``."""

from __future__ import annotations

from typing import TYPE_CHECKING, NewType

import strawberry
from graphql import IntValueNode, StringValueNode, ValueNode

if TYPE_CHECKING:
    from strawberry.types.scalar import ScalarDefinition

Long = NewType("Long", int)

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1


def _parse_long(value: object) -> Long:
    if isinstance(value, bool):
        raise ValueError("Long cannot represent a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    else:
        raise ValueError(f"Long must be a whole number, not {value!r}")
    if not LONG_MIN <= number <= LONG_MAX:
        raise ValueError("Long must fit in 64 bits")
    return Long(number)


def _parse_long_literal(node: ValueNode, _variables: dict[str, object] | None = None) -> Long:
    if isinstance(node, (IntValueNode, StringValueNode)):
        return _parse_long(int(node.value) if isinstance(node, IntValueNode) else node.value)
    raise ValueError("Long must be a whole number")


def _serialize_long(value: object) -> int:
    return _parse_long(value)


LONG_SCALAR = strawberry.scalar(
    name="Long",
    description=(
        "A signed 64-bit whole number, used for byte counts. Sent as a JSON number; "
        "a numeric string is accepted on input."
    ),
    serialize=_serialize_long,
    parse_value=_parse_long,
    parse_literal=_parse_long_literal,
)

SCALARS: dict[object, ScalarDefinition] = {Long: LONG_SCALAR}
