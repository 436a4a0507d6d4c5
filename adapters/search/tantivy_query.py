"""Running a parsed query on a tantivy searcher: the query for one owner, the page, the snippets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import tantivy

from adapters.search import query as lang
from adapters.search.base import Highlight, Hit, SearchPage
from adapters.search.tantivy_schema import (
    ANALYZER_OF,
    ANALYZERS,
    BOOST,
    INDEX_FIELD,
    SCHEMA,
    clean,
    fold,
    key_of,
    micros,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from adapters.search.base import SearchFilter

#: Characters of text around the matched words in a content snippet; names and descriptions
#: come whole.
CONTENT_SNIPPET_CHARS = 150
WHOLE_SNIPPET_CHARS = 4_000
#: Indexed words a prefix is expanded to, for highlighting only (a lone prefix matches every word).
HIGHLIGHT_PREFIX_EXPANSIONS = 50
#: The owner's words a phrase ending in a prefix (``"march inv"*``) tries, in alphabetical order.
PHRASE_PREFIX_EXPANSIONS = 100


def run(
    searcher: tantivy.Searcher,
    owner_id: str,
    tree: lang.Node,
    *,
    content: bool,
    flt: SearchFilter,
    offset: int,
    limit: int,
    own: bool = True,
    shared: Sequence[tuple[str, str]] = (),
) -> SearchPage:
    """One page of ``owner_id``'s documents (``own``) and of the ``shared`` (owner, document)
    pairs matching ``tree`` and ``flt``: see ``SearchBackend.search``."""
    owner = _selected(owner_id, own=own, shared=shared)
    if owner is None:
        return SearchPage(hits=[], has_more=False)
    fields = lang.ALL_FIELDS if content else lang.METADATA_FIELDS
    compiled = _Compiler(fields, searcher, owner).node(tree)
    if compiled is None:
        return SearchPage(hits=[], has_more=False)
    # The owner and the filters select; only the user's words score.
    selects = [tantivy.Query.const_score_query(part, 0.0) for part in (owner, *_filters(flt))]
    clauses = [(tantivy.Occur.Must, query) for query in (*selects, compiled)]
    found = searcher.search(tantivy.Query.boolean_query(clauses), limit=limit + 1, offset=offset, count=False)
    page = found.hits[:limit]
    if not page:
        return SearchPage(hits=[], has_more=len(found.hits) > limit)
    highlighter = _Highlighter(searcher, owner, tree, fields)
    hits = []
    for score, address in page:
        document = searcher.doc(address)
        hits.append(
            Hit(
                document_id=str(document.get_first("id")),
                score=float(score),
                highlights=highlighter.highlights(document),
            )
        )
    return SearchPage(hits=hits, has_more=len(found.hits) > limit)


def _selected(owner_id: str, *, own: bool, shared: Sequence[tuple[str, str]]) -> tantivy.Query | None:
    """The documents a search may find: the owner's, and the shared ones by key; None: none."""
    parts = []
    if own:
        parts.append(tantivy.Query.term_query(SCHEMA, "owner", clean(owner_id)))
    if shared:
        keys = [key_of(holder, document_id) for holder, document_id in shared]
        parts.append(tantivy.Query.term_set_query(SCHEMA, "key", keys))
    if len(parts) < 2:
        return parts[0] if parts else None
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, part) for part in parts])


def _filters(flt: SearchFilter) -> Iterable[tantivy.Query]:
    if flt.name_contains:
        yield _prefix_query("name_suffixes", fold(clean(flt.name_contains)))
    for tag in flt.tags:
        yield tantivy.Query.term_query(SCHEMA, "tag", clean(tag))
    if flt.content_type is not None:
        yield tantivy.Query.term_query(SCHEMA, "content_type", clean(flt.content_type))
    for field, after, before in (
        ("created_us", flt.created_after, flt.created_before),
        ("updated_us", flt.updated_after, flt.updated_before),
    ):
        if after is not None or before is not None:
            yield tantivy.Query.range_query(
                SCHEMA,
                field,
                tantivy.FieldType.Integer,
                lower_bound=micros(after) if after is not None else None,
                upper_bound=micros(before) if before is not None else None,
                include_lower=after is None,  # tantivy: an unbounded side is inclusive
                include_upper=before is None,
            )


def _prefix_query(field: str, prefix: str) -> tantivy.Query:
    """Every indexed term of ``field`` that starts with ``prefix``: an automaton of its length, no limit."""
    return tantivy.Query.fuzzy_term_query(SCHEMA, field, prefix, distance=0, prefix=True)


def _tokens(field: str, text: str) -> list[str]:
    return ANALYZERS[ANALYZER_OF[field]].analyze(text)


class _Compiler:
    """Turns the query tree into a tantivy query over ``fields`` (None where nothing is left)."""

    def __init__(self, fields: tuple[str, ...], searcher: tantivy.Searcher, owner: tantivy.Query) -> None:
        self.fields = fields
        self.searcher = searcher
        self.owner = owner

    def node(self, node: lang.Node) -> tantivy.Query | None:
        if isinstance(node, lang.Term):
            return self.term(node)
        if isinstance(node, lang.Not):
            inner = self.node(node.child)
            return None if inner is None else _everything_but(inner)
        if isinstance(node, lang.Or):
            options = [query for query in map(self.node, node.children) if query is not None]
            if not options:
                return None
            return tantivy.Query.boolean_query([(tantivy.Occur.Should, query) for query in options])
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for child in node.children:
            if isinstance(child, lang.Not):
                excluded = self.node(child.child)
                if excluded is not None:
                    clauses.append((tantivy.Occur.MustNot, excluded))
            else:
                required = self.node(child)
                if required is not None:
                    clauses.append((tantivy.Occur.Must, required))
        if not clauses:
            return None
        if all(occur == tantivy.Occur.MustNot for occur, _ in clauses):
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        return tantivy.Query.boolean_query(clauses)

    def term(self, term: lang.Term) -> tantivy.Query | None:
        fields = (term.field,) if term.field is not None else self.fields
        per_field = []
        for field in fields:
            query = self.field_query(field, term)
            if query is not None:
                per_field.append(tantivy.Query.boost_query(query, BOOST[field]))
        if not per_field:
            return None
        if len(per_field) == 1:
            return per_field[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, query) for query in per_field])

    def field_query(self, field: str, term: lang.Term) -> tantivy.Query | None:
        index_field = INDEX_FIELD[field]
        tokens = _tokens(field, term.text)
        if not tokens:
            return None
        if term.kind == "prefix" and len(tokens) == 1:
            # Every indexed word with the prefix (tantivy's phrase prefix would stop at 50).
            return _prefix_query(index_field, tokens[0])
        if term.kind == "prefix":
            # A phrase ending in a prefix: the phrase with each of the owner's words that start with it,
            # so that other accounts' words never crowd out this one's.
            words = self.searcher.terms_with_prefix(
                index_field, tokens[-1], filter_query=self.owner, limit=PHRASE_PREFIX_EXPANSIONS
            )
            if not words:
                return tantivy.Query.empty_query()
            return tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Should, tantivy.Query.phrase_query(SCHEMA, index_field, [*tokens[:-1], word]))
                    for word, _ in words
                ]
            )
        if len(tokens) == 1:
            return tantivy.Query.term_query(SCHEMA, index_field, tokens[0])
        return tantivy.Query.phrase_query(SCHEMA, index_field, list(tokens))


def _everything_but(query: tantivy.Query) -> tantivy.Query:
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, tantivy.Query.all_query()), (tantivy.Occur.MustNot, query)]
    )


class _Highlighter:
    """Snippets of the fields a search looked in, marking the words a hit matched."""

    def __init__(
        self, searcher: tantivy.Searcher, owner: tantivy.Query, tree: lang.Node, fields: tuple[str, ...]
    ) -> None:
        words: dict[str, set[str]] = {field: set() for field in fields}
        for term in lang.positive_terms(tree):
            for field in (term.field,) if term.field is not None else fields:
                tokens = _tokens(field, term.text)
                if not tokens:
                    continue
                words[field].update(tokens)
                if term.kind == "prefix":
                    expansions = searcher.terms_with_prefix(
                        INDEX_FIELD[field], tokens[-1], filter_query=owner, limit=HIGHLIGHT_PREFIX_EXPANSIONS
                    )
                    words[field].update(word for word, _ in expansions)
        self.generators: list[tuple[str, tantivy.SnippetGenerator]] = []
        for field in fields:
            if not words[field]:
                continue
            index_field = INDEX_FIELD[field]
            marked = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Should, tantivy.Query.term_query(SCHEMA, index_field, word))
                    for word in sorted(words[field])
                ]
            )
            generator = tantivy.SnippetGenerator.create(searcher, marked, SCHEMA, index_field)
            generator.set_max_num_chars(CONTENT_SNIPPET_CHARS if field == "content" else WHOLE_SNIPPET_CHARS)
            self.generators.append((field, generator))

    def highlights(self, document: tantivy.Document) -> tuple[Highlight, ...]:
        found = []
        for field, generator in self.generators:
            snippet = generator.snippet_from_doc(document)
            if snippet.highlighted():
                found.append(Highlight(field=field, snippet=snippet.to_html()))
        return tuple(found)
