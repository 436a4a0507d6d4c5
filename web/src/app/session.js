// The signed-in session, kept in the browser's localStorage so a reload (and GraphiQL) finds it.
export const TOKEN_KEY = "docstore.token";

export function savedToken() {
  return window.localStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  if (token) window.localStorage.setItem(TOKEN_KEY, token);
  else window.localStorage.removeItem(TOKEN_KEY);
}
