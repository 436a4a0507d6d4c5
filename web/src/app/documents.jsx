// The documents screen: the uploader (drop zone and file picker) and the list with its filters,
// sorting, cursor paging and each document's actions.
import { useEffect, useRef, useState } from "preact/hooks";
import { run } from "./client.js";
import { bytes, statusText, when } from "./format.js";
import { DeleteDocument, Document, Documents as DocumentsQuery, UpdateDocument } from "./operations.js";
import { ShareLinks } from "./shares.jsx";
import { uploadFile } from "./upload.js";

export function Documents({ client, live, changes, onChanged }) {
  return (
    <>
      <Uploader client={client} live={live} onUploaded={onChanged} />
      <DocumentList client={client} live={live} changes={changes} onChanged={onChanged} />
    </>
  );
}

function splitTags(text) {
  return text.split(",").map((tag) => tag.trim()).filter(Boolean);
}

function Uploader({ client, live, onUploaded }) {
  const [uploads, setUploads] = useState([]);
  const [tags, setTags] = useState("");
  const [makePublic, setMakePublic] = useState(false);
  const [over, setOver] = useState(false);
  const next = useRef(0);

  function update(key, change) {
    setUploads((current) => current.map((upload) => (upload.key === key ? { ...upload, ...change } : upload)));
  }

  function start(files) {
    const chosen = [...files].map((file) => ({ key: (next.current += 1), file, progress: 0, error: "", documentId: null }));
    setUploads((current) => [...chosen, ...current]);
    for (const upload of chosen) {
      uploadFile(client, upload.file, splitTags(tags), (progress) => update(upload.key, { progress }), makePublic)
        .then((document) => {
          update(upload.key, { documentId: document.id, status: document.status });
          onUploaded();
        })
        .catch((failure) => update(upload.key, { error: failure.message }));
    }
  }

  return (
    <section aria-labelledby="upload-heading">
      <h2 id="upload-heading">Upload</h2>
      <div
        class={over ? "drop over" : "drop"}
        data-testid="drop-zone"
        role="group"
        aria-label="Drop files here to upload them"
        onDragOver={(event) => {
          event.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(event) => {
          event.preventDefault();
          setOver(false);
          start(event.dataTransfer.files);
        }}
      >
        <p>Drop files here, or</p>
        {/* The file input itself takes the focus and the keys (Enter or Space open the picker);
            its label is what shows, styled as a button. */}
        <label class="button">
          Choose files
          <input type="file" multiple class="visually-hidden" onChange={(event) => { start(event.currentTarget.files); event.currentTarget.value = ""; }} />
        </label>
        <label>
          Tags for new uploads (comma separated)
          <input type="text" value={tags} onInput={(event) => setTags(event.currentTarget.value)} />
        </label>
        <label class="check">
          <input type="checkbox" checked={makePublic} onChange={(event) => setMakePublic(event.currentTarget.checked)} />
          Make public (a share link for each new upload: see Share on the document)
        </label>
      </div>
      {uploads.length > 0 && (
        <ul class="uploads" aria-label="Uploads">
          {uploads.map((upload) => (
            <li key={upload.key}>
              <span class="name">{upload.file.name}</span>
              <progress max="1" value={upload.progress} aria-label={`Upload of ${upload.file.name}`} />
              {upload.error ? (
                <span role="alert" class="error">{upload.error}</span>
              ) : (
                <span class="status" aria-live="polite">
                  {upload.documentId ? statusText(upload.status, live[upload.documentId]) : `${Math.round(upload.progress * 100)} % sent`}
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const EMPTY_FILTER = { name: "", tags: "", contentType: "", createdAfter: "", createdBefore: "", status: "" };
const TYPES = [
  ["", "Any type"],
  ["application/pdf", "PDF"],
  ["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word"],
  ["text/plain", "Text"],
  ["image/png", "PNG image"],
  ["image/jpeg", "JPEG image"],
];

function filterInput(filter) {
  const input = {};
  if (filter.name) input.nameContains = filter.name;
  if (filter.tags) input.tags = splitTags(filter.tags);
  if (filter.contentType) input.contentType = filter.contentType;
  if (filter.createdAfter) input.createdAfter = new Date(`${filter.createdAfter}T00:00:00`).toISOString();
  if (filter.createdBefore) input.createdBefore = new Date(`${filter.createdBefore}T23:59:59.999`).toISOString();
  if (filter.status) input.status = filter.status;
  return input;
}

function DocumentList({ client, live, changes, onChanged }) {
  const [draft, setDraft] = useState(EMPTY_FILTER);
  const [filter, setFilter] = useState(EMPTY_FILTER);
  const [order, setOrder] = useState("CREATED_AT DESC");
  const [cursors, setCursors] = useState([null]); // the cursor of each page read so far
  const [page, setPage] = useState(null);
  const [error, setError] = useState("");

  const after = cursors[cursors.length - 1];
  useEffect(() => {
    const [field, direction] = order.split(" ");
    run(client, DocumentsQuery, { first: 20, after, filter: filterInput(filter), orderBy: { field, direction } })
      .then((data) => {
        setPage(data.documents);
        setError("");
      })
      .catch((failure) => setError(failure.message));
  }, [client, filter, order, after, changes]);

  const set = (name) => (event) => setDraft({ ...draft, [name]: event.currentTarget.value });
  return (
    <section aria-labelledby="documents-heading">
      <h2 id="documents-heading">Your documents</h2>
      <form
        class="filters"
        aria-label="Filter documents"
        onSubmit={(event) => {
          event.preventDefault();
          setCursors([null]);
          setFilter(draft);
        }}
      >
        <label>Name contains<input type="search" value={draft.name} onInput={set("name")} /></label>
        <label>Tags<input type="text" value={draft.tags} onInput={set("tags")} /></label>
        <label>
          Type
          <select value={draft.contentType} onChange={set("contentType")}>
            {TYPES.map(([value, label]) => <option value={value} key={value}>{label}</option>)}
          </select>
        </label>
        <label>
          Status
          <select value={draft.status} onChange={set("status")}>
            <option value="">Stored (any)</option>
            <option value="PROCESSING">Processing</option>
            <option value="READY">Ready</option>
            <option value="FAILED">Failed</option>
            <option value="REJECTED">Refused</option>
          </select>
        </label>
        <label>Created from<input type="date" value={draft.createdAfter} onInput={set("createdAfter")} /></label>
        <label>Created until<input type="date" value={draft.createdBefore} onInput={set("createdBefore")} /></label>
        <label>
          Sort by
          <select value={order} onChange={(event) => { setCursors([null]); setOrder(event.currentTarget.value); }}>
            <option value="CREATED_AT DESC">Newest first</option>
            <option value="CREATED_AT ASC">Oldest first</option>
            <option value="UPDATED_AT DESC">Recently changed</option>
            <option value="NAME ASC">Name, A to Z</option>
            <option value="NAME DESC">Name, Z to A</option>
          </select>
        </label>
        <div class="row">
          <button type="submit">Apply filters</button>
          <button type="button" class="secondary" onClick={() => { setDraft(EMPTY_FILTER); setCursors([null]); setFilter(EMPTY_FILTER); }}>Clear</button>
        </div>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      {page && page.edges.length === 0 && (
        <p role="status">{Object.keys(filterInput(filter)).length ? "No documents match these filters." : "No documents here yet."}</p>
      )}
      {page && (
        <ul class="documents" aria-label="Documents">
          {page.edges.map(({ node }) => (
            <DocumentItem key={node.id} client={client} document={node} live={live[node.id]} onChanged={onChanged} />
          ))}
        </ul>
      )}
      <div class="row pager">
        <button type="button" class="secondary" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>Previous page</button>
        <button type="button" class="secondary" disabled={!page?.pageInfo.hasNextPage} onClick={() => setCursors([...cursors, page.pageInfo.endCursor])}>Next page</button>
      </div>
    </section>
  );
}

export function DocumentItem({ client, document, live, onChanged, children }) {
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [sharing, setSharing] = useState(false);
  const [error, setError] = useState("");
  const [shown, setShown] = useState(document);
  const [preview, setPreview] = useState(null); // the document as read for its view: its large thumbnail
  useEffect(() => setShown(document), [document]);
  if (live?.status === "DELETED") return null;

  async function view() {
    setError("");
    if (preview) return setPreview(null);
    try {
      const found = (await run(client, Document, { id: document.id })).document;
      if (!found?.thumbnailUrl) setError("This document has no preview.");
      else setPreview(found);
    } catch (failure) {
      setError(failure.message);
    }
  }

  async function download() {
    setError("");
    try {
      const found = (await run(client, Document, { id: document.id })).document;
      if (!found?.downloadUrl) setError("This document cannot be downloaded until it is stored.");
      else window.location.assign(found.downloadUrl);
    } catch (failure) {
      setError(failure.message);
    }
  }

  async function remove() {
    setError("");
    try {
      const result = (await run(client, DeleteDocument, { input: { id: document.id } }, "mutation")).deleteDocument;
      if (result.__typename !== "DeleteDocumentPayload") setError(result.message);
      else {
        setConfirming(false);
        onChanged();
      }
    } catch (failure) {
      setError(failure.message);
    }
  }

  const label = shown.name;
  return (
    <li class="document" aria-label={label}>
      <div class="head">
        {shown.thumbnailUrl && <img class="thumbnail" src={shown.thumbnailUrl} alt="" width="64" height="64" loading="lazy" />}
        <strong class="name">{shown.name}</strong>
        <span class={`status ${(live?.status || shown.status).toLowerCase()}`} aria-live="polite">{statusText(shown.status, live, shown.failureReason)}</span>
      </div>
      <p class="meta">
        {[shown.path, shown.contentType, shown.size === undefined ? null : bytes(shown.size), `added ${when(shown.createdAt)}`]
          .filter(Boolean)
          .join(" · ")}
      </p>
      {shown.tags?.length > 0 && <p class="tags">{shown.tags.map((tag) => <span class="tag" key={tag}>{tag}</span>)}</p>}
      {shown.description && <p class="description">{shown.description}</p>}
      {preview && <img class="preview" src={preview.thumbnailUrl} alt={`Preview of ${label}`} />}
      {children}
      {error && <p role="alert" class="error">{error}</p>}
      {editing ? (
        <EditForm client={client} document={shown} onDone={(changed) => { setEditing(false); if (changed) setShown({ ...shown, ...changed }); }} />
      ) : confirming ? (
        <div role="alertdialog" aria-label={`Delete ${label}?`} class="confirm">
          <p>Delete {label}? This cannot be undone.</p>
          <div class="row">
            <button type="button" class="danger" onClick={remove} ref={(button) => button?.focus()}>Delete for good</button>
            <button type="button" class="secondary" onClick={() => setConfirming(false)}>Keep it</button>
          </div>
        </div>
      ) : (live?.status || shown.status) === "REJECTED" ? null : (
        <div class="row actions">
          <button type="button" aria-label={`Download ${label}`} onClick={download}>Download</button>
          {shown.thumbnailUrl && (
            <button type="button" class="secondary" aria-label={`${preview ? "Hide the preview of" : "Preview"} ${label}`} aria-expanded={preview ? "true" : "false"} onClick={view}>
              {preview ? "Hide preview" : "Preview"}
            </button>
          )}
          <button type="button" class="secondary" aria-label={`Edit ${label}`} onClick={() => setEditing(true)}>Edit</button>
          <button type="button" class="secondary" aria-label={`Delete ${label}`} onClick={() => setConfirming(true)}>Delete</button>
          <button type="button" class="secondary" aria-expanded={sharing} aria-label={`Share ${label}`} onClick={() => setSharing(!sharing)}>Share</button>
        </div>
      )}
      {sharing && <ShareLinks client={client} document={shown} />}
    </li>
  );
}

function EditForm({ client, document, onDone }) {
  const [name, setName] = useState(document.name);
  const [tags, setTags] = useState((document.tags || []).join(", "));
  const [description, setDescription] = useState(document.description || "");
  const [error, setError] = useState("");

  async function save(event) {
    event.preventDefault();
    setError("");
    try {
      const input = { id: document.id, name, tags: splitTags(tags), description };
      const result = (await run(client, UpdateDocument, { input }, "mutation")).updateDocument;
      if (result.__typename !== "Document") setError(result.message);
      else onDone(result);
    } catch (failure) {
      setError(failure.message);
    }
  }

  return (
    <form class="edit" onSubmit={save} aria-label={`Edit ${document.name}`}>
      <label>Name<input type="text" required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
      <label>Tags (comma separated)<input type="text" value={tags} onInput={(e) => setTags(e.currentTarget.value)} /></label>
      <label>Description<textarea value={description} onInput={(e) => setDescription(e.currentTarget.value)} /></label>
      {error && <p role="alert" class="error">{error}</p>}
      <div class="row">
        <button type="submit">Save</button>
        <button type="button" class="secondary" onClick={() => onDone(null)}>Cancel</button>
      </div>
    </form>
  );
}
