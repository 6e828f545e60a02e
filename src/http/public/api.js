// Talking to the server: every request carries the bearer token when the
// operator has entered one (kept in sessionStorage, so it is forgotten when
// the tab closes): writes need it when the server has an auth token, reads
// when it has a read token.
export const MONITOR = '/api/v0/mcp/monitor/webrtc';
export const WEBRTC = '/api/v0/mcp/webrtc';
const TOKEN_KEY = 'webrtc-monitor.token';

export const getToken = () => sessionStorage.getItem(TOKEN_KEY) || '';
export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Headers with the token, when there is one. */
export function authorized(headers = {}) {
  const token = getToken();
  return token ? { ...headers, authorization: `Bearer ${token}` } : headers;
}

export async function getJson(path) {
  const res = await fetch(path, { headers: authorized({ accept: 'application/json' }) });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.detail || `${res.status} ${res.statusText}`);
  return body;
}

/** POSTs JSON; resolves with the status and parsed body whatever the status. */
export async function postJson(path, payload = {}) {
  const headers = authorized({ accept: 'application/json', 'content-type': 'application/json' });
  const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(payload) });
  const body = await res.json().catch(() => null);
  return { status: res.status, ok: res.ok, body };
}
