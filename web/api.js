// The gateway's HTTP endpoints (docs/protocol.md), as plain fetch calls.
//
// Every failure is an ApiError: an HTTP status with the gateway's problem document
// (application/problem+json), a network failure (status 0), or a malformed answer.

/** Why a request failed, and whether trying again can help. */
export class ApiError extends Error {
  /**
   * @param {string} message for people
   * @param {{status?: number, problem?: object|null, kind?: string, cause?: unknown}} [details]
   *   kind: "http" (the default when there is a status), "network", "protocol", "offline",
   *   "aborted"; 401 is "unauthorized" and 404 "not_found".
   */
  constructor(message, { status = 0, problem = null, kind, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
    this.kind =
      kind ?? (status === 401 ? "unauthorized" : status === 404 ? "not_found" : status ? "http" : "network");
  }

  /** Network trouble, a malformed message, 5xx, 408, 425 and 429 may pass; the rest will not. */
  get transient() {
    if (this.kind === "network" || this.kind === "protocol") return true;
    if (this.kind !== "http") return false;
    return this.status >= 500 || [408, 425, 429].includes(this.status);
  }
}

/** The text of a problem document, or a fallback. */
export function problemText(problem, fallback) {
  if (problem && typeof problem === "object") {
    return problem.detail || problem.title || fallback;
  }
  return fallback;
}

/** The gateway at `base` (an origin such as "http://127.0.0.1:8000"), acting for `token`. */
export class Gateway {
  /**
   * @param {string} base the gateway's origin, no trailing slash
   * @param {string|null} token the user's access token
   * @param {typeof fetch} [fetchImpl]
   */
  constructor(base, token, fetchImpl = globalThis.fetch.bind(globalThis)) {
    this.base = base.replace(/\/+$/, "");
    this.token = token;
    this.fetch = fetchImpl;
  }

  url(path) {
    return this.base + path;
  }

  /** The socket URL (ws: for http:, wss: for https:), with `?token=` and `&since=`. */
  socketUrl(taskId, since) {
    const url = new URL(this.url(`/ws/${encodeURIComponent(taskId)}`));
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.token ?? "");
    url.searchParams.set("since", String(since));
    return url.toString();
  }

  /**
   * One request. Resolves with the parsed JSON body (or null for an empty one); rejects with an
   * ApiError.
   */
  async request(method, path, { body, signal, auth = true } = {}) {
    const headers = { Accept: "application/json" };
    if (auth && this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await this.fetch(this.url(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw abortOrNetwork(error, signal, `${method} ${path}`);
    }
    let text;
    try {
      text = await response.text();
    } catch (error) {
      throw abortOrNetwork(error, signal, `reading the answer to ${method} ${path}`);
    }
    let json = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        if (response.ok) {
          throw new ApiError(`${method} ${path} answered something that is not JSON`, { kind: "protocol" });
        }
      }
    }
    if (!response.ok) {
      const fallback = `${method} ${path} failed with HTTP ${response.status}`;
      throw new ApiError(problemText(json, fallback), { status: response.status, problem: json });
    }
    return json;
  }

  /** POST /scrape/async: queue a video; resolves with the task's first update. */
  submit(url, language, { signal } = {}) {
    return this.request("POST", "/scrape/async", { body: { url, language }, signal });
  }

  /** GET /task/{id}?since=&wait=: the snapshot, as soon as there is something after `since`. */
  poll(taskId, since, waitSecs, signal) {
    const query = `?since=${encodeURIComponent(since)}&wait=${encodeURIComponent(waitSecs)}`;
    return this.request("GET", `/task/${encodeURIComponent(taskId)}${query}`, { signal });
  }

  /**
   * Why the socket handshake failed. Browsers hide the HTTP status of a refused WebSocket
   * handshake, so ask the same URL over plain HTTP: the gateway checks the token and the task
   * before it looks for the upgrade, so 401/404/429/503 are what the handshake got, and 400
   * ("needs a WebSocket upgrade") means it would have been accepted. Resolves with the status,
   * 0 when the gateway could not be reached.
   */
  async probeSocket(taskId, signal) {
    try {
      await this.request("GET", `/ws/${encodeURIComponent(taskId)}`, { signal });
      return { status: 200, problem: null };
    } catch (error) {
      if (error instanceof ApiError) return { status: error.status, problem: error.problem };
      return { status: 0, problem: null };
    }
  }

  /** DELETE /task/{id}: cancel; resolves with the FAILURE update. */
  cancel(taskId) {
    return this.request("DELETE", `/task/${encodeURIComponent(taskId)}`);
  }

  /** GET /recipes/{id}, optionally scaled to `servings` and converted to `units` ("metric", "us"). */
  recipe(recipeId, { servings, units } = {}) {
    const query = new URLSearchParams();
    if (servings) query.set("servings", String(servings));
    if (units) query.set("units", units);
    const suffix = query.size ? `?${query}` : "";
    return this.request("GET", `/recipes/${encodeURIComponent(recipeId)}${suffix}`);
  }

  /** GET /recipes: a page of the user's recipes, newest first. */
  recipes({ limit = 20, cursor } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    return this.request("GET", `/recipes?${query}`);
  }

  /** POST /dev/token (development gateways only): a short-lived token for a new user. */
  mintDevToken() {
    return this.request("POST", "/dev/token", { auth: false });
  }
}

function abortOrNetwork(error, signal, what) {
  if (error instanceof ApiError) return error;
  if (signal?.aborted) {
    const reason = signal.reason;
    return reason instanceof ApiError ? reason : new ApiError(`${what} was aborted`, { kind: "aborted" });
  }
  return new ApiError(`${what}: the gateway could not be reached`, { kind: "network", cause: error });
}

/** The claims of a JWT, unverified (for showing who is signed in), or null. */
export function tokenClaims(token) {
  try {
    const payload = token.split(".")[1];
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}
