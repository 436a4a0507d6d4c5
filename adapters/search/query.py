"""The user query language: a hand-written parser from text to a small tree, with positioned errors.

Pure Python, no index: ``tantivy_index`` turns the tree into index queries, analysing each word with
the analyzer of each field it searches. The language (docs/SEARCH.md has the user's version):

    query    := or_expr
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := unary (["AND"] unary)*          two terms side by side: both must match
    unary    := ("NOT" | "-" | "+")* primary     -word excludes, +word is the same as word
    primary  := word | word* | "phrase" | "phrase"* | ( or_expr ) | field:primary
    field    := name | tag | tags | description | content

NOT binds tighter than AND, AND tighter than OR. The keywords are upper case only; ``and`` is a word.
A backslash makes the next character an ordinary one (``\\(``, ``\\"``, ``\\:``, ``\\*``, ``\\-``).
A ``*`` that ends a word makes it a prefix, which needs ``MIN_PREFIX_CHARS`` letters or digits
before it; a ``*`` inside a word is punctuation. ``word:`` where the word is made of letters must be
a known field (``10:30`` is text). Positions in errors are 0-based offsets into the query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from adapters.search.base import (
    MAX_QUERY_CHARS,
    MAX_QUERY_CLAUSES,
    MAX_QUERY_DEPTH,
    MAX_QUERY_PREFIXES,
    MIN_PREFIX_CHARS,
    ContentSearchNotAllowed,
    QuerySyntaxError,
)

#: The fields users write, and the field each one means.
FIELD_NAMES = {"name": "name", "tag": "tags", "tags": "tags", "description": "description", "content": "content"}
METADATA_FIELDS = ("name", "tags", "description")
ALL_FIELDS = (*METADATA_FIELDS, "content")
_FIELD_LIST = "name:, tag:, description: or content:"

Kind = Literal["word", "phrase", "prefix"]


@dataclass(frozen=True)
class Term:
    """A word, a "phrase" or a prefix (``kind``), in one field or (``field`` None) the default ones."""

    text: str
    kind: Kind
    field: str | None
    position: int


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node
    position: int


Node = Term | And | Or | Not


# Lexer ------------------------------------------------------------------------------------------

_LPAREN, _RPAREN, _AND, _OR, _NOT, _MINUS, _PLUS, _FIELD, _WORD, _PHRASE = range(10)
_KEYWORDS = {"AND": _AND, "OR": _OR, "NOT": _NOT}
_DELIMITERS = frozenset('()"')


@dataclass(frozen=True)
class _Token:
    kind: int
    position: int
    text: str = ""
    prefix: bool = False


def _at(position: int) -> str:
    return f"at character {position + 1}"


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    boundary = True  # at the start, after whitespace or "(": where - and + are operators
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            boundary = True
            continue
        if ch == "(":
            tokens.append(_Token(_LPAREN, i))
            i += 1
            boundary = True
            continue
        if ch == ")":
            tokens.append(_Token(_RPAREN, i))
            i += 1
            boundary = False
            continue
        if ch in "-+" and boundary and i + 1 < n and not query[i + 1].isspace() and query[i + 1] != ")":
            tokens.append(_Token(_MINUS if ch == "-" else _PLUS, i))
            i += 1
            continue
        if ch == '"':
            start = i
            i += 1
            chars: list[str] = []
            while i < n and query[i] != '"':
                if query[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(query[i])
                i += 1
            if i >= n:
                raise QuerySyntaxError(f'The quote {_at(start)} is never closed: add the closing ".', start)
            i += 1
            prefix = False
            while i < n and query[i] == "*":
                prefix = True
                i += 1
            tokens.append(_Token(_PHRASE, start, "".join(chars), prefix))
            boundary = False
            continue
        i = _lex_word(query, i, tokens)
        boundary = False
    return tokens


def _lex_word(query: str, start: int, tokens: list[_Token]) -> int:
    """Read a word (or a ``field:``) starting at ``start``; append its token; return where it ends."""
    i, n = start, len(query)
    chars: list[str] = []
    escaped = False
    letters_only = True  # so far: a candidate field name
    trailing_stars = 0
    while i < n:
        ch = query[i]
        if ch.isspace() or ch in _DELIMITERS:
            break
        if ch == "\\" and i + 1 < n:
            escaped = True
            chars.append(query[i + 1])
            i += 2
            trailing_stars = 0
            continue
        if ch == ":" and chars and letters_only and not escaped:
            name = "".join(chars)
            field = FIELD_NAMES.get(name.casefold())
            if field is None:
                raise QuerySyntaxError(
                    f"Unknown field {name}: {_at(start)}. Search in {_FIELD_LIST}; "
                    "to search for a colon, put the words in quotes or write \\:.",
                    start,
                )
            after = i + 1
            if after >= n or query[after].isspace() or query[after] == ")":
                raise QuerySyntaxError(
                    f'{name}: {_at(start)} needs a word, a "phrase" or (…) right after the colon.', start
                )
            tokens.append(_Token(_FIELD, start, field))
            return after
        chars.append(ch)
        letters_only = letters_only and ch.isalpha()
        trailing_stars = trailing_stars + 1 if ch == "*" else 0
        i += 1
    text = "".join(chars)
    if not escaped and text in _KEYWORDS:
        tokens.append(_Token(_KEYWORDS[text], start, text))
    elif trailing_stars:
        tokens.append(_Token(_WORD, start, text[:-trailing_stars], prefix=True))
    else:
        tokens.append(_Token(_WORD, start, text))
    return i


# Parser -----------------------------------------------------------------------------------------

_STARTS_UNARY = frozenset({_NOT, _MINUS, _PLUS, _LPAREN, _FIELD, _WORD, _PHRASE})
_NAMES = {_AND: "AND", _OR: "OR", _NOT: "NOT", _RPAREN: ")"}


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.clauses = 0
        self.prefixes = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def parse(self) -> Node:
        node = self.or_expr(depth=0, field=None)
        token = self.peek()
        if token is not None:  # only a ")" stops or_expr early
            raise QuerySyntaxError(f"The ) {_at(token.position)} closes nothing: remove it or add a (.", token.position)
        return node

    def or_expr(self, depth: int, field: str | None) -> Node:
        children = [self.and_expr(depth, field)]
        while (token := self.peek()) is not None and token.kind == _OR:
            self.i += 1
            self.need_operand(token)
            children.append(self.and_expr(depth, field))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self, depth: int, field: str | None) -> Node:
        children = [self.unary(depth, field)]
        while (token := self.peek()) is not None and token.kind in (_AND, *_STARTS_UNARY):
            if token.kind == _AND:
                self.i += 1
                self.need_operand(token)
            children.append(self.unary(depth, field))
        return children[0] if len(children) == 1 else And(tuple(children))

    def need_operand(self, operator: _Token) -> None:
        token = self.peek()
        if token is None or token.kind not in _STARTS_UNARY:
            raise QuerySyntaxError(
                f"{operator.text} {_at(operator.position)} needs something to search for on both sides.",
                operator.position,
            )

    def unary(self, depth: int, field: str | None) -> Node:
        negations: list[_Token] = []
        token = self.peek()
        if token is None:
            raise QuerySyntaxError("The query ends where a word was expected.", None)
        if token.kind not in _STARTS_UNARY:
            if token.kind == _RPAREN:
                raise QuerySyntaxError(
                    f"The ) {_at(token.position)} closes nothing: remove it or add a (.", token.position
                )
            raise QuerySyntaxError(
                f"{token.text} {_at(token.position)} needs something to search for on both sides.", token.position
            )
        while token is not None and token.kind in (_NOT, _MINUS, _PLUS):
            if token.kind != _PLUS:
                negations.append(token)
            self.i += 1
            token = self.peek()
        if token is None or token.kind not in _STARTS_UNARY:
            last = self.tokens[self.i - 1]
            what = "NOT" if last.kind == _NOT else ("-" if last.kind == _MINUS else "+")
            raise QuerySyntaxError(
                f"{what} {_at(last.position)} needs a word, a phrase or (…) after it.", last.position
            )
        node = self.primary(depth, field)
        if len(negations) % 2:
            return Not(node, negations[0].position)
        return node

    def primary(self, depth: int, field: str | None) -> Node:
        token = self.tokens[self.i]
        self.i += 1
        if token.kind == _LPAREN:
            if depth >= MAX_QUERY_DEPTH:
                raise QuerySyntaxError(
                    f"Parentheses nest deeper than {MAX_QUERY_DEPTH} levels {_at(token.position)}.", token.position
                )
            inner = self.peek()
            if inner is None:
                raise QuerySyntaxError(f"The ( {_at(token.position)} is never closed: add a ).", token.position)
            if inner.kind == _RPAREN:
                raise QuerySyntaxError(f"Nothing between the ( {_at(token.position)} and its ).", token.position)
            node = self.or_expr(depth + 1, field)
            closing = self.peek()
            if closing is None or closing.kind != _RPAREN:
                raise QuerySyntaxError(f"The ( {_at(token.position)} is never closed: add a ).", token.position)
            self.i += 1
            return node
        if token.kind == _FIELD:
            if field is not None:
                raise QuerySyntaxError(
                    f"{token.text}: {_at(token.position)} is inside another field's (…): a term has one field.",
                    token.position,
                )
            following = self.peek()
            if following is None or following.kind not in (_LPAREN, _WORD, _PHRASE):
                raise QuerySyntaxError(
                    f'{token.text}: {_at(token.position)} needs a word, a "phrase" or (…) right after the colon.',
                    token.position,
                )
            return self.primary(depth, token.text)
        if token.kind in (_WORD, _PHRASE):
            return self.term(token, field)
        raise QuerySyntaxError(
            f"{_NAMES.get(token.kind, token.text)} {_at(token.position)} needs a word, a phrase or (…) before it.",
            token.position,
        )

    def term(self, token: _Token, field: str | None) -> Term:
        self.clauses += 1
        if self.clauses > MAX_QUERY_CLAUSES:
            raise QuerySyntaxError(
                f"The query has more than {MAX_QUERY_CLAUSES:,} words and phrases; the one {_at(token.position)} "
                "is past that.",
                token.position,
            )
        if not token.prefix:
            return Term(token.text, "phrase" if token.kind == _PHRASE else "word", field, token.position)
        self.prefixes += 1
        if self.prefixes > MAX_QUERY_PREFIXES:
            raise QuerySyntaxError(
                f"The query has more than {MAX_QUERY_PREFIXES} prefixes (word*); the one {_at(token.position)} "
                "is past that.",
                token.position,
            )
        if sum(ch.isalnum() for ch in token.text) < MIN_PREFIX_CHARS:
            raise QuerySyntaxError(
                f"The * {_at(token.position + len(token.text))} needs at least {MIN_PREFIX_CHARS} letters or "
                "digits before it (write \\* to search for a star).",
                token.position,
            )
        return Term(token.text, "prefix", field, token.position)


# Public -----------------------------------------------------------------------------------------


def parse(query: str) -> Node:
    """The tree of ``query``; ``QuerySyntaxError`` says what is wrong and where."""
    if len(query) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"A query may have at most {MAX_QUERY_CHARS:,} characters, not {len(query):,}.")
    for position, ch in enumerate(query):
        if "\ud800" <= ch <= "\udfff":
            raise QuerySyntaxError(f"The query has an invalid character {_at(position)}.", position)
    tokens = _lex(query)
    if not tokens:
        raise QuerySyntaxError("The query is empty.")
    node = _Parser(tokens).parse()
    if _only_excludes(node):
        raise QuerySyntaxError(
            "The query only excludes (NOT, -): say what to find, not only what to leave out.", _first_not(node)
        )
    return node


def check_fields(node: Node, *, content: bool) -> None:
    """Raise ``ContentSearchNotAllowed`` if ``node`` names ``content:`` and ``content`` is False."""
    if content:
        return
    for term in terms(node):
        if term.field == "content":
            raise ContentSearchNotAllowed(term.position)


def terms(node: Node) -> list[Term]:
    """Every term of ``node``, in query order."""
    found: list[Term] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Term):
            found.append(current)
        elif isinstance(current, Not):
            stack.append(current.child)
        else:
            stack.extend(reversed(current.children))
    return found


def positive_terms(node: Node, negated: bool = False) -> list[Term]:
    """The terms a matching document contains (those under an even number of NOTs)."""
    if isinstance(node, Term):
        return [] if negated else [node]
    if isinstance(node, Not):
        return positive_terms(node.child, not negated)
    return [term for child in node.children for term in positive_terms(child, negated)]


def _only_excludes(node: Node) -> bool:
    if isinstance(node, Not):
        return True
    if isinstance(node, Term):
        return False
    return all(_only_excludes(child) for child in node.children)


def _first_not(node: Node) -> int | None:
    if isinstance(node, Not):
        return node.position
    if isinstance(node, Term):
        return None
    for child in node.children:
        position = _first_not(child)
        if position is not None:
            return position
    return None
