// A document's public share links: each one's URL, expiry and downloads, a form to make one
// (expiry in days, a password, a download limit), and buttons to renew (the form's expiry, from
// now) or revoke each.
import { useEffect, useState } from "preact/hooks";
import { run } from "./client.js";
import { when } from "./format.js";
import { CreateShareLink, DocumentShareLinks, RevokeShareLink, UpdateShareLink } from "./operations.js";

function linkState(link) {
  if (link.revokedAt) return "revoked";
  if (!link.active) return new Date(link.expiresAt) <= new Date() ? "expired" : "no downloads left";
  return "active";
}

export function ShareLinks({ client, document }) {
  const [links, setLinks] = useState(null);
  const [error, setError] = useState("");
  const [days, setDays] = useState("7");
  const [password, setPassword] = useState("");
  const [maxDownloads, setMaxDownloads] = useState("");
  const [loaded, setLoaded] = useState(0);

  useEffect(() => {
    run(client, DocumentShareLinks, { id: document.id })
      .then((data) => setLinks(data.document.shareLinks))
      .catch((failure) => setError(failure.message));
  }, [client, document.id, loaded]);

  async function create(event) {
    event.preventDefault();
    setError("");
    const input = { documentId: document.id, expiresInSeconds: Math.round(Number(days) * 86400) };
    if (password) input.password = password;
    if (maxDownloads) input.maxDownloads = Number(maxDownloads);
    try {
      const result = (await run(client, CreateShareLink, { input }, "mutation")).createShareLink;
      if (result.__typename !== "ShareLink") setError(result.message);
      else {
        setPassword("");
        setLoaded(loaded + 1);
      }
    } catch (failure) {
      setError(failure.message);
    }
  }

  async function renew(link) {
    setError("");
    const input = { id: link.id, expiresInSeconds: Math.round(Number(days) * 86400) };
    try {
      const result = (await run(client, UpdateShareLink, { input }, "mutation")).updateShareLink;
      if (result.__typename !== "ShareLink") setError(result.message);
      else setLoaded(loaded + 1);
    } catch (failure) {
      setError(failure.message);
    }
  }

  async function revoke(link) {
    setError("");
    try {
      const result = (await run(client, RevokeShareLink, { input: { id: link.id } }, "mutation")).revokeShareLink;
      if (result.__typename !== "ShareLink") setError(result.message);
      else setLoaded(loaded + 1);
    } catch (failure) {
      setError(failure.message);
    }
  }

  return (
    <section class="shares" aria-label={`Share links of ${document.name}`}>
      {links && links.length === 0 && <p class="hint">No share links yet.</p>}
      {links && links.length > 0 && (
        <ul class="share-links" aria-label="Share links">
          {links.map((link) => (
            <li key={link.id} class={`share-link ${link.active ? "active" : "ended"}`}>
              {link.url ? <input type="text" readOnly value={link.url} aria-label="Share link URL" onFocus={(e) => e.currentTarget.select()} /> : <span class="hint">URL no longer available (the server's secret changed)</span>}
              <span class="meta">
                {[
                  linkState(link),
                  `expires ${when(link.expiresAt)}`,
                  `${link.downloads}${link.maxDownloads ? ` of ${link.maxDownloads}` : ""} downloads`,
                  link.hasPassword ? "password" : null,
                  link.version ? `version ${link.version}` : null,
                ]
                  .filter(Boolean)
                  .join(" · ")}
              </span>
              {!link.revokedAt && (
                <>
                  <button type="button" class="secondary" onClick={() => renew(link)}>{`Renew for ${days} days`}</button>
                  <button type="button" class="secondary" onClick={() => revoke(link)}>Revoke</button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      <form class="share-new row" onSubmit={create} aria-label={`New share link for ${document.name}`}>
        <label>Expires in (days)<input type="number" min="0.01" step="any" required value={days} onInput={(e) => setDays(e.currentTarget.value)} /></label>
        <label>Password (optional)<input type="password" autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} /></label>
        <label>Most downloads (optional)<input type="number" min="1" value={maxDownloads} onInput={(e) => setMaxDownloads(e.currentTarget.value)} /></label>
        <button type="submit">Create share link</button>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
    </section>
  );
}
