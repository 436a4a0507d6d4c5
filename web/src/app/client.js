// The GraphQL client: urql over HTTP for queries and mutations, graphql-ws (graphql-transport-ws)
// for subscriptions, both carrying the session's token. One client per session: signing in or
// out builds a new one, so a socket never outlives the token it was opened with.
import { Client, fetchExchange, subscriptionExchange } from "@urql/core";
import { createClient as createWsClient } from "graphql-ws";

const httpUrl = new URL("/graphql", window.location.href);
const wsUrl = new URL(httpUrl);
wsUrl.protocol = httpUrl.protocol === "https:" ? "wss:" : "ws:";

export function makeClient(token) {
  const authorization = token ? `Bearer ${token}` : null;
  const ws = token
    ? createWsClient({ url: wsUrl.toString(), connectionParams: { authorization }, lazy: true, retryAttempts: 5 })
    : null;
  const exchanges = [fetchExchange];
  if (ws) {
    exchanges.push(
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query || "" }, sink) }),
        }),
      }),
    );
  }
  const client = new Client({
    url: httpUrl.toString(),
    exchanges,
    requestPolicy: "network-only",
    fetchOptions: () => ({ headers: authorization ? { authorization } : {} }),
  });
  return { client, dispose: () => ws?.dispose() };
}

/** Run a query or mutation; its data, or throws an Error whose message is a sentence. */
export async function run(client, document, variables = {}, kind = "query") {
  const result = await (kind === "mutation" ? client.mutation(document, variables) : client.query(document, variables)).toPromise();
  if (result.error) throw new Error(sentence(result.error));
  return result.data;
}

const CODES = {
  UNAUTHENTICATED: "Your session has ended. Please sign in again.",
  FORBIDDEN: "Only administrators can see this.",
  NOT_FOUND: "That document no longer exists.",
  RATE_LIMITED: "Too many requests. Please wait a moment and try again.",
  CONFLICT: "Something changed at the same time. Please try again.",
};

/** A sentence a person can read, for an urql CombinedError. */
export function sentence(error) {
  if (error.networkError && !error.graphQLErrors?.length) {
    return "DocStore could not be reached. Check your connection and try again.";
  }
  const first = error.graphQLErrors?.[0];
  const code = first?.extensions?.code;
  if (code && CODES[code]) return CODES[code];
  return first?.message || "Something went wrong. Please try again.";
}
