"""Two per-request costs of moto 5.2.5's server, cut for the embedded AWS; the answers stay the same.

Profiled under DocStore's load (docs/BENCHMARKS.md, "Where the embedded AWS spends a request"),
a DynamoDB ``GetItem`` or ``UpdateItem`` spent about a third of moto's CPU in two places that do
the same work for every request:

- **Serializing DynamoDB's answers.** moto 5.2 serializes every result through its generic,
  shape-driven serializer, which tries up to a dozen spellings of every member of every
  ``AttributeValue`` (``S``, ``N``, ``B``, …) of every attribute of every item. The data-plane
  results of moto's DynamoDB handler (items, keys, counts, consumed capacity) are already written in
  DynamoDB's wire shape, as moto's own JSON answers were before 5.1. :func:`execute_result` writes
  those with ``json.dumps``, binary values in base64 as the serializer would, and hands anything
  else (an error, a date, a type it does not know, pretty printing) to moto's serializer.
- **Looking up the handler's method names.** ``BaseResponse.call_action`` lists the handler
  class's methods with ``inspect.getmembers`` on every request, to see whether the action is one of
  them. A class's methods do not change while the server runs; the list is kept per class.

tests/adapters/test_moto_speedups.py runs the same DynamoDB calls through boto3 with and without
these and compares every answer. Like adapters/moto_patches.py, this is written against one moto
release and refuses any other (pyproject.toml pins ``moto[server]==5.2.5``). docs/MOTO_UPSTREAM.md
has the write-up for moto's maintainers.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from typing import TYPE_CHECKING, Any

import moto
import moto.core.responses as moto_responses
from moto import settings as moto_settings
from moto.dynamodb.responses import DynamoResult

from adapters.moto_patches import MOTO_VERSION, UnsupportedMoto

if TYPE_CHECKING:
    from collections.abc import Callable

    from moto.core.responses import ActionContext

#: DynamoDB operations whose results moto's handler builds in DynamoDB's wire shape.
PLAIN_RESULTS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)

_ORIGINAL: dict[str, Callable[..., Any]] = {}
_LOCK = threading.Lock()
#: The function ``BaseResponse.call_action`` lists a handler's methods with, in moto.core.responses.
_NAMES = "method_names_from_class"
#: Content-Type of each operation's answer, as moto's serializer sets it.
_CONTENT_TYPES: dict[str, str] = {}


class _NotPlain(Exception):
    """A value the fast path does not write itself: moto's serializer takes the whole result."""


def _wire(value: Any) -> Any:
    """``value`` as JSON can hold it, the way moto's serializer writes a DynamoDB result: members that
    are None left out, bytes in base64; anything else raises :class:`_NotPlain`."""
    if isinstance(value, dict):
        return {key: _wire(member) for key, member in value.items() if member is not None}
    if isinstance(value, list):
        return [_wire(member) for member in value]
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise _NotPlain(type(value).__name__)


def execute_result(self: DynamoResult, context: ActionContext) -> tuple[int, dict[str, str], str]:
    """``DynamoResult.execute_result`` with the fast path for plain data-plane results."""
    operation = context.operation_model
    result = self.result
    if str(operation.name) in PLAIN_RESULTS and isinstance(result, dict) and not moto_settings.PRETTIFY_RESPONSES:
        try:
            body = json.dumps(_wire(result))
        except _NotPlain:
            pass
        else:
            status = operation.http.get("responseCode", 200)
            return status, {"Content-Type": _content_type(context)}, body
    status, headers, answer = _ORIGINAL["execute_result"](self, context)
    return status, headers, answer


def _content_type(context: ActionContext) -> str:
    name = str(context.operation_model.name)
    known = _CONTENT_TYPES.get(name)
    if known is None:
        serializer: Any = context.serializer_class(operation_model=context.operation_model)
        known = _CONTENT_TYPES[name] = str(serializer._get_protocol_specific_content_type())
    return known


def install() -> None:
    """Install both; a second call does nothing. Raises :class:`UnsupportedMoto` (and changes
    nothing) on any moto but :data:`MOTO_VERSION`."""
    installed_version = getattr(moto, "__version__", "unknown")
    if installed_version != MOTO_VERSION:
        raise UnsupportedMoto(
            f"adapters/moto_speedups.py is written for moto {MOTO_VERSION}, but moto {installed_version} "
            f"is installed: pin moto[server]=={MOTO_VERSION} (pyproject.toml) or port it "
            "(docs/MOTO_UPSTREAM.md)."
        )
    with _LOCK:
        if "execute_result" not in _ORIGINAL:
            _ORIGINAL["execute_result"] = DynamoResult.execute_result  # ActionResult's, inherited
            _ORIGINAL["method_names_from_class"] = getattr(moto_responses, _NAMES)
            DynamoResult.execute_result = execute_result  # type: ignore[method-assign,assignment]
            setattr(moto_responses, _NAMES, functools.cache(_ORIGINAL["method_names_from_class"]))


def uninstall() -> None:
    """Put moto's own code back (tests and benchmarks compare the two in one run); idempotent."""
    with _LOCK:
        if _ORIGINAL.pop("execute_result", None) is not None:
            del DynamoResult.execute_result  # back to the inherited one
        names = _ORIGINAL.pop("method_names_from_class", None)
        if names is not None:
            setattr(moto_responses, _NAMES, names)


def installed() -> bool:
    return DynamoResult.execute_result is execute_result
