// Search with the query language; each hit shows its highlighted snippets.
import { useState } from "preact/hooks";
import { run } from "./client.js";
import { DocumentItem } from "./documents.jsx";
import { Search } from "./operations.js";

export function SearchView({ client, live }) {
  const [query, setQuery] = useState("");
  const [results, setResults] = useState(null);
  const [error, setError] = useState("");
  const [cursors, setCursors] = useState([null]);

  async function search(after, history) {
    setError("");
    try {
      const result = (await run(client, Search, { query, first: 20, after })).search;
      if (result.__typename !== "SearchConnection") {
        setResults(null);
        setError(result.message);
      } else {
        setResults(result);
        setCursors(history);
      }
    } catch (failure) {
      setError(failure.message);
    }
  }

  return (
    <section aria-labelledby="search-heading">
      <h2 id="search-heading">Search</h2>
      <form role="search" onSubmit={(event) => { event.preventDefault(); search(null, [null]); }}>
        <label>
          Search query
          <input type="search" required value={query} onInput={(event) => setQuery(event.currentTarget.value)} />
        </label>
        <button type="submit">Search</button>
        <p class="hint">
          Words match names, tags, descriptions and, on PREMIUM, the text inside. Narrow with <code>name:</code>,{" "}
          <code>tag:</code>, <code>description:</code>, <code>content:</code>; quote a phrase; <code>invoice*</code> for a prefix.
        </p>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      {results && results.edges.length === 0 && <p role="status">Nothing matches.</p>}
      {results && (
        <ul class="documents" aria-label="Search results">
          {results.edges.map(({ node }) => (
            <DocumentItem key={node.document.id} client={client} document={node.document} live={live[node.document.id]} onChanged={() => search(cursors[cursors.length - 1], cursors)}>
              <ul class="highlights" aria-label="Matches">
                {node.highlights.map((highlight, index) => (
                  <li key={index}>
                    <span class="field">{highlight.field}:</span>{" "}
                    {/* The server escapes the text and marks the words with <b>: see Highlight.snippet.
                        A form feed parts a PDF's pages in its text. */}
                    <span class="snippet" dangerouslySetInnerHTML={{ __html: highlight.snippet.replaceAll("\f", " … ") }} />
                  </li>
                ))}
              </ul>
            </DocumentItem>
          ))}
        </ul>
      )}
      {results && (
        <div class="row pager">
          <button type="button" class="secondary" disabled={cursors.length < 2} onClick={() => search(cursors[cursors.length - 2], cursors.slice(0, -1))}>Previous page</button>
          <button type="button" class="secondary" disabled={!results.pageInfo.hasNextPage} onClick={() => search(results.pageInfo.endCursor, [...cursors, results.pageInfo.endCursor])}>Next page</button>
        </div>
      )}
    </section>
  );
}
