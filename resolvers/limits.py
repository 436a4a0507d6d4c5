"""What one GraphQL operation may cost, checked before it runs, and the cache of operations that passed.

Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` walk a fragment again at every spread
of it, so fragments that each spread the next one twice make them walk 2**n paths: a query of a
few hundred bytes held the event loop for 38 s. ``measure`` walks each fragment once, keeps its
totals and multiplies them at every spread, so a query's cost is known in one pass over its text
however far it expands. graphql-core's own validation (``OverlappingFieldsCanBeMerged`` grows with
the square of the fields) runs only on operations under every limit, and in a worker thread.

Strawberry's ``ParserCache`` and ``ValidationCache`` count entries, not bytes: a thousand queries of
a megabyte each stayed cached. ``OperationCache`` keeps parsed and validated operations up to a size
in bytes, and only those that passed every limit and validated.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    ListTypeNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    TypeNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
)
from graphql.language.parser import Parser, nested_too_deeply_error
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from schema.errors import CodedError
from settings import Settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping

    from graphql import GraphQLNamedType, GraphQLSchema

#: The argument that says how many items a list field returns (``documents(first:)``, ``search(first:)``).
PAGE_ARGUMENT = "first"
#: Query fields that take a bulk list (``compareChecksums``, up to ``DOCSTORE_COMPARE_MAX_FILES`` files):
#: at most ``DOCSTORE_MAX_COMPARES_PER_OPERATION`` of them in one operation, aliases included.
BULK_FIELDS = frozenset({"compareChecksums"})
#: The input types of those lists: an operation declaring a variable of one of them may hold the
#: files' values on top of ``DOCSTORE_MAX_VARIABLE_VALUES``. Sound because graphql-core refuses an
#: unused variable before coercing any, and a variable of these types fits nowhere else.
BULK_INPUTS = frozenset({"CompareChecksumsInput", "ClientFile"})
#: Values one compared file holds in the variables: its object, its path and its hash.
VALUES_PER_FILE = 3
#: Counts stop growing here: an exponential query is over every limit long before.
CEILING = 1 << 62
#: What a cached operation is charged besides its text: a parsed document takes 400 to 560 bytes a
#: token and 2.5 KB to start with (tests/resolvers/test_limits.py measures it with tracemalloc).
BYTES_PER_TOKEN = 640
BYTES_PER_DOCUMENT = 4096
#: GraphQL's tokens and comments, for counting them fast (graphql-core's lexer takes 5 to 20 µs
#: a token, too slow to only find out that a text has too many); the parser counts exactly after.
TOKEN = re.compile(
    r'#[^\n\r]*|"""(?:\\"""|[^"]|"(?!""))*"""|"(?:\\.|[^"\\\n\r])*"|\.\.\.|[!$&()\[\]{}:=@|]'
    r"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[_A-Za-z][_0-9A-Za-z]*"
)
VARIABLES = "DOCSTORE_MAX_VARIABLE_VALUES"
WITH_FILES = f"{VARIABLES}, and {VALUES_PER_FILE} a file of DOCSTORE_COMPARE_MAX_FILES"
SYNTAX_TOKENS = "Syntax Error: Document contains more than {} tokens. Parsing aborted."


class LimitExceeded(CodedError):
    """An operation over one of the limits: ``extensions`` name the setting and its value."""

    code = "LIMIT_EXCEEDED"

    def __init__(self, what: str, found: int | None, limit: int, setting: str, why: str | None = None) -> None:
        counted = f"has {found:,} {what}" if found is not None else f"has more than {limit:,} {what}"
        super().__init__(f"This operation {counted}; at most {limit:,} are allowed ({why or setting}).")
        self.extensions = {**(self.extensions or {}), "limit": setting, "allowed": limit}


@dataclass(frozen=True)
class Limits:
    """The limits of one operation, from the settings."""

    query_bytes: int
    tokens: int
    depth: int
    fields: int
    aliases: int
    directives: int
    cost: int
    repeats: int
    variable_values: int
    compares: int
    #: Values the files of one compareChecksums add to ``variable_values``.
    compare_values: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            query_bytes=settings.max_query_bytes,
            tokens=settings.max_query_tokens,
            depth=settings.max_query_depth,
            fields=settings.max_query_fields,
            aliases=settings.max_query_aliases,
            directives=settings.max_query_directives,
            cost=settings.max_query_cost,
            repeats=settings.max_query_repeats,
            variable_values=settings.max_variable_values,
            compares=settings.max_compares_per_operation,
            compare_values=VALUES_PER_FILE * settings.compare_max_files + VALUES_PER_FILE,
        )

    def variables_of(self, operation: OperationDefinitionNode | None) -> tuple[int, str | None]:
        """The values ``operation``'s variables may hold, and why, when more than ``variable_values``."""
        bulk = operation is not None and any(
            named_type(definition.type) in BULK_INPUTS for definition in operation.variable_definitions or ()
        )
        if bulk:
            return self.variable_values + self.compare_values, WITH_FILES
        return self.variable_values, None


@dataclass(frozen=True)
class Measure:
    """What a selection (an operation, a fragment) adds up to, its fragments expanded.

    ``cost`` is fields times list sizes: each field counts once for every item of the lists it sits
    in (``documents(first: 100) { edges { node { id } } }`` costs 1 + 100 + 100 + 100)."""

    fields: int = 0
    aliases: int = 0
    directives: int = 0
    depth: int = 0
    cost: int = 0
    #: The most fields sharing one response name in one selection set (inline fragments and
    #: fragment spreads merged in): graphql-core compares each pair of them.
    repeats: int = 0
    #: ``BULK_FIELDS`` selected.
    bulk: int = 0

    def scaled(self, items: int) -> Measure:
        cost = min(CEILING, self.cost * items)
        return Measure(self.fields, self.aliases, self.directives, self.depth, cost, self.repeats, self.bulk)

    def nested(self, inner: Measure) -> Measure:
        """This field's own counts and the selection inside it."""
        return Measure(
            min(CEILING, self.fields + inner.fields),
            min(CEILING, self.aliases + inner.aliases),
            min(CEILING, self.directives + inner.directives),
            inner.depth + self.depth,
            min(CEILING, self.cost + inner.cost),
            max(self.repeats, inner.repeats),
            min(CEILING, self.bulk + inner.bulk),
        )

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            min(CEILING, self.fields + other.fields),
            min(CEILING, self.aliases + other.aliases),
            min(CEILING, self.directives + other.directives),
            max(self.depth, other.depth),
            min(CEILING, self.cost + other.cost),
            max(self.repeats, other.repeats),
            min(CEILING, self.bulk + other.bulk),
        )


class Measurer:
    """Measures the operations of one document for one request's variables, each fragment once."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None) -> None:
        self.schema = schema
        self.variables = variables or {}
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.measured: dict[str, tuple[Measure, Counter[str]]] = {}
        self.defaults: dict[str, Any] = {}

    def operation(self, operation: OperationDefinitionNode) -> Measure:
        self.defaults = {
            definition.variable.name.value: int(definition.default_value.value)
            for definition in operation.variable_definitions or ()
            if isinstance(definition.default_value, IntValueNode)
        }
        root = self.schema.get_root_type(operation.operation)
        return self.selections(operation.selection_set, root) + Measure(directives=len(operation.directives or ()))

    def selections(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None) -> Measure:
        total, names = self.level(selection_set, parent)
        return total + Measure(repeats=min(CEILING, max(names.values(), default=0)))

    def level(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None
    ) -> tuple[Measure, Counter[str]]:
        """A selection set's measure, and how many fields it has under each response name: its
        own, its inline fragments' and its spread fragments', as graphql-core groups them."""
        total = Measure()
        names: Counter[str] = Counter()
        for selection in selection_set.selections if selection_set else ():
            directives = Measure(directives=len(selection.directives or ()))
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent) + directives
                names[(selection.alias or selection.name).value] += 1
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                measured, inner_names = self.level(selection.selection_set, inner)
                total += measured + directives
                names.update(inner_names)
            elif isinstance(selection, FragmentSpreadNode):
                measured, inner_names = self.fragment(selection.name.value)
                total += measured + directives
                names.update(inner_names)
        return total, names

    def fragment(self, name: str) -> tuple[Measure, Counter[str]]:
        if name not in self.measured:
            definition = self.fragments.get(name)
            # Marked before the walk: a fragment that spreads itself counts nothing the second
            # time (graphql-core's NoFragmentCycles refuses the document afterwards).
            self.measured[name] = (Measure(), Counter())
            if definition is not None:
                condition = self.schema.get_type(definition.type_condition.name.value)
                measured, names = self.level(definition.selection_set, condition)
                self.measured[name] = (measured + Measure(directives=len(definition.directives or ())), names)
        return self.measured[name]

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Measure:
        definition = None
        if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            definition = parent.fields.get(node.name.value)
        bulk = 1 if node.name.value in BULK_FIELDS and parent is self.schema.query_type else 0
        own = Measure(fields=1, aliases=1 if node.alias else 0, depth=1, cost=1, bulk=bulk)
        if node.selection_set is None:
            return own
        inner_type = get_named_type(definition.type) if definition is not None else None
        inner = self.selections(node.selection_set, inner_type)
        return own.nested(inner.scaled(self.items(node, definition)))

    def items(self, node: FieldNode, definition: Any) -> int:
        """How many items this field's list holds at most: its ``first`` argument, else 1."""
        for argument in node.arguments or ():
            if argument.name.value != PAGE_ARGUMENT:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(1, int(value.value))
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value, self.defaults.get(value.name.value))
                if isinstance(given, int) and not isinstance(given, bool):
                    return max(1, given)
                if given is not None:
                    return 1  # not a number: coercion refuses it
        if definition is not None and PAGE_ARGUMENT in definition.args:
            default = definition.args[PAGE_ARGUMENT].default_value
            if isinstance(default, int):
                return max(1, default)
        return 1


def measure(schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None = None) -> Measure:
    """Every operation of ``document`` added up (each fragment walked once, however often it is spread)."""
    measurer = Measurer(schema, document, variables)
    total = Measure()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total += measurer.operation(definition)
    return total


def over_limits(found: Measure, limits: Limits) -> list[GraphQLError]:
    checks = [
        ("fields (fragments expanded)", found.fields, limits.fields, "DOCSTORE_MAX_QUERY_FIELDS"),
        ("aliases (fragments expanded)", found.aliases, limits.aliases, "DOCSTORE_MAX_QUERY_ALIASES"),
        ("directives (fragments expanded)", found.directives, limits.directives, "DOCSTORE_MAX_QUERY_DIRECTIVES"),
        ("levels of nested fields", found.depth, limits.depth, "DOCSTORE_MAX_QUERY_DEPTH"),
        ("fields times list sizes", found.cost, limits.cost, "DOCSTORE_MAX_QUERY_COST"),
        (
            "fields under one response name in one selection",
            found.repeats,
            limits.repeats,
            "DOCSTORE_MAX_QUERY_REPEATS",
        ),
        ("compareChecksums fields", found.bulk, limits.compares, "DOCSTORE_MAX_COMPARES_PER_OPERATION"),
    ]
    return [LimitExceeded(what, value, limit, setting) for what, value, limit, setting in checks if value > limit]


def count_tokens(query: str, limit: int) -> int:
    """About how many tokens graphql-core's lexer finds in ``query`` (exactly, for a text it can
    parse), counting no further than ``limit + 1``."""
    count = 0
    for found in TOKEN.finditer(query):
        if not found.group().startswith("#"):
            count += 1
            if count > limit:
                break
    return count


def count_values(value: Any, limit: int) -> int:
    """How many values ``value`` holds (itself, list items and object entries, all the way down),
    counting no further than ``limit + 1``: a list or object longer than what is left of ``limit``
    is over it at once, however long."""
    count = 0
    pending = [value]
    while pending:
        item = pending.pop()
        count += 1
        if isinstance(item, (dict, list)):
            if count + len(item) + len(pending) > limit:
                return limit + 1
            pending.extend(item.values() if isinstance(item, dict) else item)
        elif count > limit:
            return count
    return count


def named_type(node: TypeNode) -> str:
    """The named type under a variable's list and non-null wrappers (``[ClientFile!]!``: ``ClientFile``)."""
    while isinstance(node, (ListTypeNode, NonNullTypeNode)):
        node = node.type
    return node.name.value if isinstance(node, NamedTypeNode) else ""


def over_variables(
    document: DocumentNode, operation_name: str | None, variables: Any, limits: Limits
) -> GraphQLError | None:
    """The refusal of variables holding more values than the operation asked for may hold."""
    if not variables:
        return None
    allowed, why = limits.variables_of(get_operation_ast(document, operation_name))
    if count_values(variables, allowed) > allowed:
        return LimitExceeded("values in its variables", None, allowed, VARIABLES, why)
    return None


class OperationCache:
    """Parsed documents of operations that passed the limits and validated, by query text, bounded
    in bytes (each charged for its text and its tokens, see ``charge``) and in entries."""

    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._documents: LRUCache[str, tuple[int, DocumentNode]] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda entry: entry[0]
        )

    @staticmethod
    def charge(query: str, tokens: int) -> int:
        """More than the bytes the text and its parsed document of ``tokens`` tokens hold (the
        text is kept whole, and string values are copied out of it twice)."""
        return 3 * sys.getsizeof(query) + tokens * BYTES_PER_TOKEN + BYTES_PER_DOCUMENT

    def get(self, query: str) -> DocumentNode | None:
        with self._lock:
            entry = self._documents.get(query)
        return None if entry is None else entry[1]

    def put(self, query: str, document: DocumentNode, tokens: int) -> None:
        charge = self.charge(query, tokens)
        with self._lock:
            if charge > self._documents.maxsize or self.max_entries == 0:
                return
            self._documents[query] = (charge, document)
            while len(self._documents) > self.max_entries:
                self._documents.popitem()

    @property
    def entries(self) -> int:
        return len(self._documents)

    @property
    def bytes(self) -> int:
        return int(self._documents.currsize)

    def clear(self) -> None:
        with self._lock:
            self._documents.clear()


_caches: dict[tuple[int, int], OperationCache] = {}


def cache_for(settings: Settings) -> OperationCache:
    """The process's cache for these settings' sizes, shared by every request."""
    key = (settings.query_cache_bytes, settings.query_cache_entries)
    if key not in _caches:
        _caches[key] = OperationCache(*key)
    return _caches[key]


class OperationLimits(SchemaExtension):
    """Parses with the cache and the token limit, refuses operations over a limit before graphql-core
    validates them, validates the rest in a worker thread, and caches those that pass.

    Takes its limits from the context's ``services.settings`` (the defaults without one). A refusal
    found while parsing is kept until validation, where Strawberry answers it as a GraphQL error
    over HTTP and WebSocket alike (an exception from ``on_parse`` would end a WebSocket operation
    with no message); the document in between is an empty stand-in that is never executed."""

    cached = False
    tokens = 0
    refusal: GraphQLError | None = None

    def settings(self) -> Settings:
        services = getattr(self.execution_context.context, "services", None)
        settings = getattr(services, "settings", None)
        return settings if isinstance(settings, Settings) else DEFAULT_SETTINGS

    def on_operation(self) -> Iterator[None]:
        # Strawberry parses again whatever on_parse leaves unparsed (to report a syntax error).
        self.execution_context.parse_options["max_tokens"] = self.settings().max_query_tokens
        yield

    async def on_parse(self) -> AsyncIterator[None]:
        execution = self.execution_context
        query = execution.query or ""
        if execution.graphql_document is None and query:
            settings = self.settings()
            self.refusal = self.refuse(query, Limits.of(settings))
            if self.refusal is not None:
                execution.graphql_document = stand_in(execution.operation_name)
            elif (document := cache_for(settings).get(query)) is not None:
                self.cached = True
                execution.graphql_document = document
            else:
                try:
                    execution.graphql_document, self.tokens = await asyncio.to_thread(
                        parse_counting, query, settings.max_query_tokens
                    )
                except GraphQLSyntaxError as error:
                    if error.message == SYNTAX_TOKENS.format(settings.max_query_tokens):
                        self.refusal = LimitExceeded(
                            "tokens", None, settings.max_query_tokens, "DOCSTORE_MAX_QUERY_TOKENS"
                        )
                        execution.graphql_document = stand_in(execution.operation_name)
                    # Any other syntax error: Strawberry parses it again and answers it.
        yield

    def refuse(self, query: str, limits: Limits) -> GraphQLError | None:
        size = len(query.encode())
        if size > limits.query_bytes:
            return LimitExceeded("bytes of query text", size, limits.query_bytes, "DOCSTORE_MAX_QUERY_BYTES")
        if count_tokens(query, limits.tokens) > limits.tokens:
            return LimitExceeded("tokens", None, limits.tokens, "DOCSTORE_MAX_QUERY_TOKENS")
        return None

    async def on_validate(self) -> AsyncIterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if self.refusal is not None:
            execution.pre_execution_errors = [self.refusal]
        elif document is not None and execution.pre_execution_errors is None:
            settings = self.settings()
            schema = execution.schema._schema
            limits = Limits.of(settings)
            refusal = over_variables(document, execution.operation_name, execution.variables, limits)
            errors = [refusal] if refusal else over_limits(measure(schema, document, execution.variables), limits)
            if not errors and not self.cached:
                rules = tuple(execution.validation_rules)
                errors = await asyncio.to_thread(validate_document, schema, document, rules)
                if not errors and execution.query:
                    cache_for(settings).put(execution.query, document, self.tokens)
            execution.pre_execution_errors = errors
        yield


#: What a request's JSON holds besides its variables: the object, its query and operationName, and
#: room for extensions.
ENVELOPE_VALUES = 100


def most_json_values(settings: Settings) -> int:
    """The most values a request's JSON can hold for any operation to take it: more is refused
    before it is decoded (``adapters.graphql_over_http.check_values``)."""
    limits = Limits.of(settings)
    return limits.variable_values + limits.compare_values + ENVELOPE_VALUES


def parse_counting(query: str, max_tokens: int) -> tuple[DocumentNode, int]:
    """``graphql.parse`` that also says how many tokens the text held.

    ``Parser`` raises a bare ``RecursionError`` past graphql-core's 200 levels of nesting, which
    only ``graphql.parse`` turns into a syntax error: a few hundred bytes of ``{ me { me {`` or
    ``[[[`` answered "An unknown error occurred." with a traceback in the log, and a WebSocket
    ``subscribe`` of it just ``complete``. Here it is the syntax error ``graphql.parse`` gives."""
    parser = Parser(query, max_tokens=max_tokens)
    try:
        document = parser.parse_document()
    except RecursionError:
        pass  # raised outside this block, as graphql.parse does: the error keeps no recursion's frames
    else:
        return document, parser._token_counter
    raise nested_too_deeply_error(parser)


def stand_in(operation_name: str | None) -> DocumentNode:
    """An empty query named as the refused one, so Strawberry finds the operation it was asked for."""
    name = NameNode(value=operation_name) if operation_name else None
    operation = OperationDefinitionNode(
        operation=OperationType.QUERY, name=name, selection_set=SelectionSetNode(selections=())
    )
    return DocumentNode(definitions=(operation,))


DEFAULT_SETTINGS = Settings()
