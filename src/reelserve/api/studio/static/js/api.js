// The v3 API from the browser: the key from session storage in the Authorization header, envelopes unwrapped,
// every refusal an ApiError carrying the server's own words and the parameter at fault.

import { sentence } from "./format.js";

const STORAGE_KEY = "reelserve.studio.apiKey";

export const session = {
  get key() {
    return sessionStorage.getItem(STORAGE_KEY);
  },
  set(key) {
    sessionStorage.setItem(STORAGE_KEY, key);
  },
  clear() {
    sessionStorage.removeItem(STORAGE_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, type, message, param = null, retryAfter = null) {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
    this.retryAfter = retryAfter;
  }
}

let onSignedOut = () => {};
/** What happens when the server no longer takes the key (401): the page signs out, saying why. */
export function whenKeyRefused(callback) {
  onSignedOut = callback;
}

export function headers(key = session.key) {
  return { Authorization: `Bearer ${key ?? ""}` };
}

export async function api(path, { method = "GET", body, form, key, signal, quietAuth = false } = {}) {
  const sent = headers(key);
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    sent["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers: sent, body: payload, signal, credentials: "omit", cache: "no-store" });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network_error", "the server could not be reached; check that reelserve is running");
  }
  return unwrap(response, { quietAuth });
}

export async function unwrap(response, { quietAuth = false } = {}) {
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    envelope = null;
  }
  if (response.ok) return envelope?.data;
  const error = envelope?.error ?? {};
  const problem = new ApiError(
    response.status,
    error.type ?? (response.status >= 500 ? "server_error" : "invalid_request_error"),
    error.message ?? envelope?.message ?? `the server answered HTTP ${response.status}`,
    error.param ?? null,
    response.headers.get("Retry-After"),
  );
  if (response.status === 401 && !quietAuth) onSignedOut(problem);
  throw problem;
}

const LEADS = {
  authentication_error: "The API key was refused: ",
  permission_error: "Not allowed: ",
  insufficient_balance: "Not enough balance: ",
  rate_limit_exceeded: "Too many requests: ",
  not_found: "Not found: ",
  content_policy_violation: "Blocked by the content policy: ",
  server_error: "The server failed: ",
};

/** An error in words for a person: what kind of refusal, then the server's own message. */
export function describe(error) {
  if (!(error instanceof ApiError)) return sentence(error?.message ?? String(error));
  let text = (LEADS[error.type] ?? "") + sentence(error.message);
  if (error.type === "rate_limit_exceeded" && error.retryAfter) text += ` Try again in ${error.retryAfter} s.`;
  return text[0].toUpperCase() + text.slice(1);
}
