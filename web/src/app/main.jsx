// The DocStore web app: sign in, then the documents, search, plan and (for administrators) the
// dashboard, with the live events of the account's two subscriptions.
import "./style.css";
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { makeClient, run } from "./client.js";
import { Dashboard as DashboardQuery, DocumentEvents, Me, QuotaEvents, SignIn, SignOut, SignUp } from "./operations.js";
import { saveToken, savedToken } from "./session.js";
import { Documents } from "./documents.jsx";
import { SearchView } from "./search.jsx";
import { DashboardView, PlanView, QuotaMeter, QuotaWarning } from "./account.jsx";

function App() {
  const [token, setToken] = useState(savedToken());
  const session = useMemo(() => makeClient(token), [token]);
  useEffect(() => () => session.dispose(), [session]);
  const signedIn = (next) => {
    saveToken(next);
    setToken(next);
  };
  if (!token) return <Auth client={session.client} onSignedIn={signedIn} />;
  return <Home client={session.client} onSignedOut={() => signedIn(null)} />;
}

function Auth({ client, onSignedIn }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event) {
    event.preventDefault();
    const signingUp = event.submitter?.value === "up";
    setBusy(true);
    setError("");
    try {
      const input = { email, password };
      const data = await run(client, signingUp ? SignUp : SignIn, { input }, "mutation");
      const result = signingUp ? data.signUp : data.signIn;
      if (result.__typename === "AuthPayload") onSignedIn(result.token);
      else setError(result.message);
    } catch (failure) {
      setError(failure.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="auth">
      <h1>DocStore</h1>
      <p>Keep your documents, find them by their words.</p>
      <form onSubmit={submit} aria-label="Sign in or sign up">
        <label>
          Email
          <input type="email" name="email" autocomplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input type="password" name="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error && <p role="alert" class="error">{error}</p>}
        <div class="row">
          <button type="submit" value="in" disabled={busy}>Sign in</button>
          <button type="submit" value="up" disabled={busy} class="secondary">Sign up</button>
        </div>
      </form>
      <p class="hint">
        Developers: the API is at <a href="/graphql">/graphql</a> (GraphiQL in a browser).
      </p>
    </main>
  );
}

const TABS = ["Documents", "Search", "Plan", "Dashboard"];

function Home({ client, onSignedOut }) {
  const [me, setMe] = useState(null);
  const [error, setError] = useState("");
  const [tab, setTab] = useState("Documents");
  const [admin, setAdmin] = useState(false);
  const [live, setLive] = useState({}); // document id -> {status, page, pages, reason}
  const [warning, setWarning] = useState(null);
  const [changes, setChanges] = useState(0); // bumped when the list should be read again

  async function loadMe() {
    try {
      setMe((await run(client, Me)).me);
    } catch (failure) {
      setError(failure.message);
    }
  }

  useEffect(() => {
    loadMe();
    // The dashboard answers only administrators: its tab shows once it answers.
    client.query(DashboardQuery, {}).toPromise().then((result) => setAdmin(Boolean(result.data?.dashboard)));
    const documents = client.subscription(DocumentEvents, { documentId: null }).subscribe((result) => {
      const event = result.data?.documentEvents;
      if (!event) return;
      const next = {
        UploadStarted: { status: "PENDING_UPLOAD" },
        ProcessingStarted: { status: "PROCESSING" },
        ExtractionProgress: { status: "PROCESSING", page: event.page, pages: event.pages },
        DocumentReady: { status: "READY" },
        DocumentFailed: { status: "FAILED", reason: event.reason },
        DocumentDeleted: { status: "DELETED" },
      }[event.__typename];
      if (next) setLive((current) => ({ ...current, [event.documentId]: next }));
      // A delete, or a thumbnail to show: the list is read again.
      if (event.__typename === "DocumentDeleted" || event.hasThumbnail) setChanges((n) => n + 1);
    });
    const quota = client.subscription(QuotaEvents, {}).subscribe((result) => {
      const event = result.data?.quotaEvents;
      if (!event) return;
      if (event.usedBytes !== undefined) {
        setMe((current) => current && { ...current, usage: { ...current.usage, usedBytes: event.usedBytes, limitBytes: event.limitBytes } });
      }
      if (event.__typename === "QuotaWarning") setWarning(event.percent);
      if (event.__typename === "QuotaExceeded") setWarning(100);
    });
    return () => {
      documents.unsubscribe();
      quota.unsubscribe();
    };
  }, [client]);

  useEffect(() => {
    if (error === "Your session has ended. Please sign in again.") onSignedOut();
  }, [error]);

  async function signOut() {
    try {
      await run(client, SignOut, {}, "mutation");
    } catch {
      // Signed out here whatever the server said: the token is forgotten.
    }
    onSignedOut();
  }

  const tabs = TABS.filter((name) => name !== "Dashboard" || admin);
  return (
    <div class="app">
      <header>
        <h1>DocStore</h1>
        {me && (
          <p class="who">
            {me.email} · {me.plan} plan
          </p>
        )}
        <button type="button" class="secondary" onClick={signOut}>Sign out</button>
      </header>
      {me && <QuotaMeter usage={me.usage} />}
      {warning !== null && <QuotaWarning percent={warning} onDismiss={() => setWarning(null)} />}
      {error && <p role="alert" class="error">{error}</p>}
      <nav aria-label="Sections">
        {tabs.map((name) => (
          <button type="button" key={name} aria-current={tab === name ? "page" : undefined} onClick={() => setTab(name)}>
            {name}
          </button>
        ))}
      </nav>
      <main>
        {tab === "Documents" && (
          <Documents client={client} live={live} changes={changes} onChanged={() => { setChanges((n) => n + 1); loadMe(); }} />
        )}
        {tab === "Search" && <SearchView client={client} live={live} />}
        {tab === "Plan" && me && <PlanView client={client} me={me} onChanged={setMe} />}
        {tab === "Dashboard" && admin && <DashboardView client={client} />}
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app"));
