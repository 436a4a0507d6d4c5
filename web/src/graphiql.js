// GraphiQL from the project's own build. The token is entered once: the Headers tab starts with
// `Authorization: Bearer <token>` of the web app's session (if you are signed in there), and
// whatever the Headers tab holds goes with every HTTP request and, as the `connection_init`
// payload, with every subscription (the server reads `Authorization` in any letter case).
import "graphiql/setup-workers/vite";
import "graphiql/style.css";
import "@graphiql/plugin-explorer/style.css";
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { explorerPlugin } from "@graphiql/plugin-explorer";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { parse } from "graphql";
import { TOKEN_KEY } from "./app/session.js";

const url = new URL("/graphql", window.location.href);
const subscriptionUrl = new URL(url);
subscriptionUrl.protocol = url.protocol === "https:" ? "wss:" : "ws:";

const toolkit = createGraphiQLFetcher({ url: url.toString(), subscriptionUrl: subscriptionUrl.toString() });
// The toolkit picks WebSocket or HTTP from the document GraphiQL parsed last, which lags behind an
// edit run at once (Ctrl-Enter right after typing): parse what is sent instead.
function fetcher(params, options) {
  let documentAST = options?.documentAST;
  try {
    documentAST = parse(params.query);
  } catch {
    // Not a document: the server says why.
  }
  return toolkit(params, { ...options, documentAST });
}
const token = window.localStorage.getItem(TOKEN_KEY);
const defaultHeaders = JSON.stringify({ Authorization: token ? `Bearer ${token}` : "Bearer <token from signUp or signIn>" }, null, 2);

createRoot(document.getElementById("graphiql")).render(
  createElement(GraphiQL, {
    fetcher,
    defaultHeaders,
    defaultEditorToolsVisibility: "headers",
    plugins: [explorerPlugin()],
  }),
);
