"""GraphQL over HTTP as its specification words it (https://graphql.github.io/graphql-over-http/),
on top of Strawberry's ASGI view, through the view's own hooks.

What Strawberry 0.341 does differently, and what this view does instead:

- It answers ``application/json`` whatever the client accepts. Here the ``Accept`` header picks
  ``application/graphql-response+json`` or ``application/json`` (``*/*`` or no header: the latter).
  Under the new media type a request error (a syntax, validation or variable coercion error, a
  limit, no operation to run) answers 400 with no ``data`` entry; under ``application/json`` it
  stays 200 with ``data: null``, as the specification keeps for legacy clients.
- Its refusals (bad JSON, a ``query`` that is not a string, a mutation over GET) are ``text/plain``.
  Here every refusal is a GraphQL response, ``{"errors": [{"message", "extensions": {"code"}}]}``,
  in the negotiated media type; a mutation over GET answers 405 with ``Allow: GET, POST``.
- A body of ``null``, ``"x"``, invalid UTF-8, JSON nested past Python's recursion limit or holding
  an integer of more than 4,300 digits (Python's ``int`` limit), and an ``operationName`` that is
  not a string, reached code that raised and answered 500; a string with a lone surrogate
  (``"\\ud800"``) reached resolvers that raised. Here each is a 400 that says what is wrong, in
  words and not Python's (over WebSocket, a close with 4400).
- ``json.loads`` builds every list and object of a body before anything can count them: 4 MB of
  ``[[],[],...]`` took 0.2 s on the event loop, for anyone. Here a body long enough to hold more
  values than ``max_json_values`` is counted with ijson's C parser while it arrives, chunk by
  chunk (:class:`CountingBody`): past the limit it is refused at once with a 400 that names the
  limit, and the rest of it is never read into the application, joined or decoded.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from contextvars import ContextVar
from itertools import accumulate
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Generic

import ijson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData, process_result
from strawberry.http.typevars import Context, RootValue
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from cross_web import AsyncHTTPRequestAdapter
    from starlette.types import Message, Receive, Scope, Send
    from strawberry.http import GraphQLHTTPResponse
    from strawberry.types import ExecutionResult

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
#: The methods /graphql answers, for the ``Allow`` header of a 405.
ALLOWED_METHODS = "GET, POST"
#: Where the negotiated media type is kept in the request's scope state.
MEDIA_TYPE_STATE = "graphql_media_type"
CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
#: How ``decode_json`` names what ``json.loads`` raised other than a ``JSONDecodeError``.
NESTED_TOO_DEEPLY = "nested too deeply"
NUMBER_TOO_LONG = "a number too long"
#: What :class:`ValueCounter` (yajl) cannot read though ``json.loads`` can: an integer past 64
#: bits, a number past a double.
NUMBER_TOO_BIG = "a number too big"
#: yajl's messages for :data:`NUMBER_TOO_BIG`.
YAJL_OVERFLOWS = ("integer overflow", "numeric (floating point) overflow")
LONE_SURROGATE = "a lone surrogate"
TOO_MANY_VALUES = "too many values"
NOT_JSON = "not JSON"
#: One byte for each kind of event ``ijson.basic_parse`` reports: ``(`` opens a list or object,
#: ``)`` closes one, ``:`` is an object key, ``v`` a scalar. A value is an opening or a scalar.
EVENT_CODES = {
    "start_map": ord("("),
    "start_array": ord("("),
    "end_map": ord(")"),
    "end_array": ord(")"),
    "map_key": ord(":"),
    "string": ord("v"),
    "number": ord("v"),
    "boolean": ord("v"),
    "null": ord("v"),
}
#: What each byte of a string of brackets does to the depth, by the byte's value.
BRACKET_STEPS = tuple(1 if byte == ord("(") else -1 if byte == ord(")") else 0 for byte in range(256))
#: How many times :meth:`ValueCounter._check_depth` drops the empty pairs of brackets before it
#: follows them one by one.
EMPTY_PAIR_PASSES = 8
#: How much JSON :class:`ValueCounter` parses at a time (about 1,000 values at most). Chosen by
#: measurement on the rejections benchmark's bodies: the fewer events a slice holds, the less each
#: costs to build and count (3.9 MB of ``[[],[],...]`` was refused in 4.4 ms in 2 KB slices, 6.3 ms
#: in 16 KB), while a legitimate 1.1 MB ``compareChecksums`` is counted in 7.4 ms, against 6.4 ms.
PIECE_BYTES = 2 << 10
#: A JSON escape of a UTF-16 surrogate, the half of a pair or alone.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
JSON_KINDS = {str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "null"}


class RequestRefused(HTTPException):
    """A request refused before any GraphQL ran, with the headers its answer needs."""

    def __init__(self, status_code: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status_code, reason)
        self.headers = dict(headers or {})


class RequestTooLarge(Exception):
    """Raised while a body is read, once it is longer than the limit its ``Content-Length`` hid."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is over the limit of {limit:,} bytes.")
        self.limit = limit


def negotiate(accept: str | None) -> str:
    """The response media type for an ``Accept`` header: ``application/json`` on a tie (``*/*``),
    for no header, and when neither is acceptable (the specification allows answering it anyway)."""
    if not accept:
        return JSON
    offers = parse_accept_header(accept, MIMEAccept)
    return str(offers.best_match([JSON, GRAPHQL_RESPONSE_JSON], default=JSON))


def error_response(
    status_code: int, message: str, media_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    """A refusal as a GraphQL response with no ``data`` entry."""
    error = {"message": message, "extensions": {"code": CODES.get(status_code, "BAD_REQUEST")}}
    body = json.dumps({"errors": [error]}, separators=(",", ":"))
    return Response(body, status_code=status_code, media_type=media_type, headers=headers)


def is_request_error(result: ExecutionResult) -> bool:
    """Nothing was executed: no data, and no error belongs to a field (a field error has a path).
    Syntax, validation and coercion errors, limits and refusals before execution are these."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


def no_operation(name: str | None) -> GraphQLError:
    if name is None:
        return GraphQLError("This document has no operation to run.")
    return GraphQLError(f'This document has no operation named "{name}".')


def is_unicode(value: object) -> bool:
    """Every string in ``value`` is Unicode text: it holds no lone surrogate."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


class ValueCounter:
    """Counts the values of JSON text fed in pieces, as they arrive, without building any:
    ``JSONDecodeError`` (``TOO_MANY_VALUES``, ``NESTED_TOO_DEEPLY``, ``NOT_JSON``) as soon as the
    text read so far holds more than ``most_values`` values, nests deeper than Python's recursion
    limit (what ``json.loads`` would refuse too), or is not JSON. ijson's C parser (yajl), pushed
    to: text is parsed :data:`PIECE_BYTES` at a time, so no more events are built past the limit
    than one such slice holds. yajl lexes a token split across pieces again from its start at every
    piece (a 990 KB string took 11.5 ms in 16 KB pieces, 1.6 ms whole), so a piece that ends inside
    a token (no event) makes the next one twice as long: a long token costs twice its length."""

    def __init__(self, most_values: int, piece_bytes: int = PIECE_BYTES) -> None:
        self.most_values = most_values
        self.values = 0
        self.depth = 0
        self.most_depth = sys.getrecursionlimit()
        self.events = ijson.sendable_list()
        self.parser = ijson.basic_parse_coro(self.events, use_float=True)
        self.pending = bytearray()
        self.piece_bytes = piece_bytes
        #: How much the next piece parsed takes: ``piece_bytes``, doubled while inside one token.
        self.piece = piece_bytes
        #: The first bytes, held until they show whether the text starts with a UTF-8 byte-order
        #: mark (which the body's decoder reads as nothing, and yajl as an error); None after.
        self.head: bytes | None = b""

    def feed(self, data: bytes | memoryview) -> None:
        """Parse ``data`` after what is pending, :attr:`piece` bytes at a time; keep the rest."""
        if self.head is not None:
            held, mark = self.head, len(codecs.BOM_UTF8)
            head = held + bytes(data[: mark - len(held)])  # only the first bytes: a body is not copied
            if len(head) < mark and codecs.BOM_UTF8.startswith(head):
                self.head = head
                return
            self.head = None
            if head == codecs.BOM_UTF8:
                data = memoryview(data)[mark - len(held) :]
            elif held:  # a mark's start after all, in a first chunk shorter than one
                data = held + bytes(data)
        try:
            if self.pending:
                self.pending += data
                with memoryview(self.pending) as text:
                    parsed = self._parse(text)
                del self.pending[:parsed]
            else:
                # Nothing pending: the pieces are views of ``data`` itself (a body or message fed
                # whole is not copied, which took 2 ms for 4 MB), and only the rest is kept.
                with memoryview(data) as text:
                    self.pending += text[self._parse(text) :]
        except (ijson.JSONError, ValueError) as error:
            raise refused_by_yajl(error) from None

    def _parse(self, text: memoryview) -> int:
        """Parse and count the whole pieces at the start of ``text``; how many bytes they hold."""
        parsed = 0
        while len(text) - parsed >= self.piece:
            self.parser.send(text[parsed : parsed + self.piece])
            parsed += self.piece
            self.piece = self.piece_bytes if self.events else 2 * self.piece
            self._count()
        return parsed

    def close(self) -> None:
        """The end of the text: ``NOT_JSON`` if it stopped in the middle of a value."""
        if self.head:  # shorter than a byte-order mark, and the start of one: not JSON
            self.pending += self.head
        self.head = None
        try:
            if self.pending:
                self.parser.send(bytes(self.pending))
                self.pending.clear()
            self.parser.close()
            self._count()
        except (ijson.JSONError, ValueError) as error:
            raise refused_by_yajl(error) from None

    def _count(self) -> None:
        """Count the events of the last slice as one byte each (:data:`EVENT_CODES`), whose kinds
        C counts; check the depth they reach (:meth:`_check_depth`) only when the slice opens
        enough lists and objects to pass the limit."""
        codes = bytes(map(EVENT_CODES.__getitem__, map(itemgetter(0), self.events)))
        del self.events[:]
        opened, closed = codes.count(b"("), codes.count(b")")
        if self.depth + opened > self.most_depth:
            self._check_depth(codes.translate(None, b":v"))
        self.depth += opened - closed
        self.values += len(codes) - closed - codes.count(b":")
        if self.values > self.most_values:
            raise json.JSONDecodeError(TOO_MANY_VALUES, "", 0)

    def _check_depth(self, brackets: bytes) -> None:
        """``NESTED_TOO_DEEPLY`` if ``brackets`` (``(`` and ``)``), from the depth reached so far,
        go deeper than the limit. Dropping every empty pair ``()`` lowers the deepest point by one
        at most, and what is left opens no more than its ``(`` count: a few passes show the usual
        slices shallow (``[[],[],...]`` in one, lists of small objects in their depth). Otherwise
        the depth is followed bracket by bracket, in C (``accumulate``)."""
        left, passes = brackets, 0
        while self.depth + passes + left.count(b"(") > self.most_depth and passes < EMPTY_PAIR_PASSES:
            shorter = left.replace(b"()", b"")
            if len(shorter) == len(left):
                break
            left, passes = shorter, passes + 1
        if self.depth + passes + left.count(b"(") <= self.most_depth:
            return
        if max(accumulate(map(BRACKET_STEPS.__getitem__, brackets), initial=self.depth)) > self.most_depth:
            raise json.JSONDecodeError(NESTED_TOO_DEEPLY, "", 0)


def may_hold_more(length: int, most_values: int) -> bool:
    """Whether JSON of ``length`` bytes can hold more than ``most_values`` values: a value takes a
    byte and its separator one more, so shorter text holds no more and need not be counted."""
    return length >= 2 * most_values


def refused_by_yajl(error: Exception) -> json.JSONDecodeError:
    """What :class:`ValueCounter` raises for an error of yajl's. yajl refuses some text that
    ``json.loads`` reads: an integer past 64 bits or a number past a double (``NUMBER_TOO_BIG``:
    no field takes one), and a ``\\uDC00`` to ``\\uDFFF`` escape alone (``LONE_SURROGATE``;
    ijson decodes what yajl made of it, which is not UTF-8, as is any byte of a body that is not,
    so :class:`CountingBody` leaves that one to the decoder). Anything else is not JSON."""
    if isinstance(error, json.JSONDecodeError):
        return error
    if isinstance(error, UnicodeDecodeError):
        return json.JSONDecodeError(LONE_SURROGATE, "", 0)
    if isinstance(error, ijson.JSONError) and any(overflow in str(error) for overflow in YAJL_OVERFLOWS):
        return json.JSONDecodeError(NUMBER_TOO_BIG, "", 0)
    return json.JSONDecodeError(NOT_JSON, "", 0)


def check_values(data: str | bytes, most_values: int) -> None:
    """``JSONDecodeError`` for JSON that holds more than ``most_values`` values (a WebSocket
    message, a GET's ``variables``; an HTTP body is counted while it arrives, :class:`CountingBody`)."""
    if not may_hold_more(len(data), most_values):  # characters of a str: as many bytes or more
        return
    counter = ValueCounter(most_values)
    counter.feed(data.encode() if isinstance(data, str) else data)
    counter.close()


class CountingBody:
    """An ASGI ``receive`` for a request body that counts its JSON values chunk by chunk as they
    arrive, with :class:`ValueCounter`: a body holding too many is refused (``RequestRefused``,
    ``TOO_MANY_VALUES``) at the chunk that passes the limit, before the rest is read, joined or
    decoded (uvicorn discards what follows, unparsed, once the answer is sent). A body the counter
    cannot read (not JSON) is left to the decoder, which says what is wrong."""

    def __init__(self, receive: Receive, most_values: int, refuse: Callable[[json.JSONDecodeError], Exception]) -> None:
        self.receive = receive
        self.counter: ValueCounter | None = ValueCounter(most_values)
        self.refuse = refuse
        #: Every byte was counted, and held no more than the limit.
        self.counted = False

    async def __call__(self) -> Message:
        message = await self.receive()
        if self.counter is None or message["type"] != "http.request":
            return message
        try:
            self.counter.feed(message.get("body", b""))
            if not message.get("more_body", False):
                self.counter.close()
                self.counted = True
        except json.JSONDecodeError as error:
            if error.msg in (NOT_JSON, LONE_SURROGATE):  # or a byte that is not UTF-8: the decoder says
                self.counter = None
            else:
                raise self.refuse(error) from None
        return message


#: The counting ``receive`` of the HTTP request this task serves, if its body is counted as it arrives.
BODY_COUNTED: ContextVar[CountingBody | None] = ContextVar("body_counted", default=None)


def json_kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return JSON_KINDS.get(type(value), "not JSON")


class GraphQLOverHTTP(GraphQL[Context, RootValue], Generic[Context, RootValue]):
    """Strawberry's ASGI view, answering GraphQL over HTTP as its specification says."""

    #: The most values a request's JSON (an HTTP body, a WebSocket message) may hold; None: no limit.
    max_json_values: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        counting = self.counting_body(scope, receive)
        request = Request(scope, receive=counting or receive)
        BODY_COUNTED.set(counting)
        media_type = negotiate(request.headers.get("accept"))
        setattr(request.state, MEDIA_TYPE_STATE, media_type)
        response: Response
        try:
            response = await self.run(request)
        except RequestRefused as refused:
            response = error_response(refused.status_code, refused.reason, media_type, refused.headers)
        except HTTPException as refused:
            headers = {"allow": ALLOWED_METHODS} if refused.status_code == 405 else None
            response = error_response(refused.status_code, refused.reason, media_type, headers)
        except RequestTooLarge as too_large:
            response = error_response(413, str(too_large), media_type)
        await response(scope, receive, send)

    def counting_body(self, scope: Scope, receive: Receive) -> CountingBody | None:
        """A ``receive`` counting the body's values as it arrives (:class:`CountingBody`), for a
        body that may hold more than the limit: a longer ``Content-Length``, or none (chunked)."""
        if self.max_json_values is None or scope.get("method") != "POST":
            return None
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and not may_hold_more(int(declared), self.max_json_values):
            return None
        return CountingBody(receive, self.max_json_values, self.refusal)

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = getattr(request.state, MEDIA_TYPE_STATE, JSON)
        return sub_response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or JSON
        response.headers["content-type"] = media_type
        request_error = isinstance(response_data, dict) and "data" not in response_data
        if media_type == GRAPHQL_RESPONSE_JSON and request_error and not sub_response.status_code:
            response.status_code = 400
        return response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = process_result(result)
        if getattr(request.state, MEDIA_TYPE_STATE, JSON) == GRAPHQL_RESPONSE_JSON and is_request_error(result):
            response.pop("data", None)
        return response

    def decode_json(self, data: str | bytes) -> object:
        """JSON as Strawberry decodes it, over HTTP and WebSocket alike. Also a ``JSONDecodeError``:
        nesting past Python's recursion limit, an integer longer than ``int`` reads, and a lone
        UTF-16 surrogate in a string (``"\\ud800"``: no encoder takes it, so signIn, signUp and
        search raised). A body is UTF-8 (with or without a BOM), as the specification says."""
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        counted = BODY_COUNTED.get()
        if self.max_json_values is not None and not (counted is not None and counted.counted):
            check_values(data, self.max_json_values)
        try:
            decoded = json.loads(text)
        except RecursionError:
            raise json.JSONDecodeError(NESTED_TOO_DEEPLY, "", 0) from None
        except json.JSONDecodeError:
            raise
        except ValueError:
            raise json.JSONDecodeError(NUMBER_TOO_LONG, "", 0) from None
        # Only an escape can put a surrogate in text that decoded as UTF-8: look further only then.
        if SURROGATE_ESCAPE.search(text) and not is_unicode(decoded):
            raise json.JSONDecodeError(LONE_SURROGATE, "", 0)
        return decoded

    def parse_json(self, data: str | bytes) -> Any:
        """Everything Strawberry decodes from a request (the body, GET's ``variables`` and
        ``extensions``) must be a JSON object (a list is a batch, which Strawberry refuses)."""
        try:
            decoded = self.decode_json(data)
        except UnicodeDecodeError:
            raise RequestRefused(400, "The request is not UTF-8 text.") from None
        except json.JSONDecodeError as error:
            raise self.refusal(error) from None
        if not isinstance(decoded, (dict, list)):
            raise RequestRefused(
                400, f'Expected a JSON object such as {{"query": "{{ me {{ id }} }}"}}, got {json_kind(decoded)}.'
            )
        return decoded

    def refusal(self, error: json.JSONDecodeError) -> RequestRefused:
        """The 400 for JSON that ``decode_json`` (or :class:`CountingBody`) refused, in words."""
        if error.msg == NESTED_TOO_DEEPLY:
            return RequestRefused(400, "The request's JSON is nested too deeply.")
        if error.msg == NUMBER_TOO_LONG:
            return RequestRefused(
                400, f"The request's JSON has a number of more than {sys.get_int_max_str_digits():,} digits."
            )
        if error.msg == TOO_MANY_VALUES:
            return RequestRefused(
                400,
                f"The request's JSON holds more than {self.max_json_values:,} values, more than any operation "
                "may take (DOCSTORE_MAX_VARIABLE_VALUES, and 3 a file of DOCSTORE_COMPARE_MAX_FILES).",
            )
        if error.msg == NOT_JSON:
            return RequestRefused(400, "The request is not valid JSON.")
        if error.msg == NUMBER_TOO_BIG:
            return RequestRefused(
                400,
                "The request's JSON has a number too big to read: an integer past 64 bits, or a number "
                "past 1.8e308. No field takes one.",
            )
        if error.msg == LONE_SURROGATE:
            return RequestRefused(
                400, "The request's JSON has a \\uD800 to \\uDFFF escape without its pair: that is not text."
            )
        where = f" (line {error.lineno}, column {error.colno})" if error.doc else ""
        return RequestRefused(400, f"The request is not valid JSON: {error.msg.lower()}{where}.")

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        parsed = await super().parse_http_body(request)
        if isinstance(parsed, GraphQLRequestData) and not isinstance(parsed.operation_name, (str, type(None))):
            raise RequestRefused(
                400, f"operationName must be a string or null, not {json_kind(parsed.operation_name)}."
            )
        return parsed

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: RootValue | None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as refused:
            cause = refused.__cause__
            if isinstance(cause, InvalidOperationTypeError) and cause.operation_type is OperationType.MUTATION:
                raise RequestRefused(
                    405, "Mutations are sent with POST; GET runs queries only.", {"allow": ALLOWED_METHODS}
                ) from None
            if isinstance(cause, CannotGetOperationTypeError):
                # No operation to run: a GraphQL request error, answered as the others are.
                return PreExecutionError(data=None, errors=[no_operation(cause.operation_name)])
            raise
