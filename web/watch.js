// TaskWatch: one task followed to its end over the socket, long-polling while the socket is down.
//
// The same rules as the Rust client (crates/client/src/watch.rs):
//
// - The socket counts as connected only once it has opened (the `open` event), never when the
//   WebSocket object is merely created.
// - A socket that closes or fails before the terminal update is reopened after a delay drawn
//   from [0, min(20 s, 0.5 s * 2^n)] ("full jitter"), without an attempt limit; the counter is
//   reset once a socket delivers an update.
// - Every (re)connect resumes with `?since=<last seq>`, and polls ask `?since=<last seq>&wait=25`:
//   each seq is handed out once, in order, whichever transport brought it (SeqFilter).
// - Polls run only while the socket is down (never during the very first handshake), and an
//   in-flight poll is dropped the moment a socket opens.
// - After the terminal update (SUCCESS or FAILURE) everything stops: socket, polls, timers.
// - 401 ends the watch, and so does 404 once a poll confirms it (a gateway with sockets turned
//   off answers 404 on the socket too; a snapshot from the poll means "poll-only gateway", and
//   the socket is not tried again). Close code 4001 (token expired) ends the watch.
// - Without any contact with the gateway for `offlineLimitMs` (2 min) while the socket is down,
//   the watch ends with an "offline" error.
//
// Browser differences: the WebSocket API hides the HTTP status of a refused handshake, so after
// a failed handshake the watch asks the same URL over plain HTTP (Gateway.probeSocket) to learn
// it. Browsers answer the server's pings themselves and do not show them to scripts, so there is
// no silence detector; the text `ping` every 30 s keeps idle proxies from dropping the socket.

import { ApiError } from "./api.js";

export const TOTAL_STEPS = 5;
export const HEARTBEAT_MS = 30_000;
export const POLL_WAIT_SECS = 25;
export const MIN_POLL_SPACING_MS = 1_000;
export const CONNECT_TIMEOUT_MS = 10_000;
export const OFFLINE_LIMIT_MS = 120_000;
export const CLOSE_TOKEN_EXPIRED = 4001;
const STATES = ["PENDING", "PROGRESS", "SUCCESS", "FAILURE"];

/** Capped exponential backoff with full jitter (crates/client/src/backoff.rs). */
export class Backoff {
  constructor(baseMs = 500, capMs = 20_000, random = Math.random) {
    this.baseMs = baseMs;
    this.capMs = capMs;
    this.random = random;
    this.attempt = 0;
  }

  /** The ceiling of the next delay: min(cap, base * 2^attempt). */
  ceiling() {
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 40));
  }

  /** The next delay in ms, uniformly in [0, ceiling]. */
  next() {
    const ceiling = this.ceiling();
    this.attempt += 1;
    return this.random() * ceiling;
  }

  reset() {
    this.attempt = 0;
  }
}

/** Lets each seq through once, in increasing order, and nothing after a terminal update. */
export class SeqFilter {
  constructor(since = 0) {
    this.last = since;
    this.done = false;
  }

  accept(update) {
    if (this.done || update.seq <= this.last) return false;
    this.last = update.seq;
    this.done = isTerminal(update);
    return true;
  }
}

export function isTerminal(update) {
  return update.status === "SUCCESS" || update.status === "FAILURE";
}

/**
 * A socket message or snapshot as a task update; null for keep-alive texts (`ping`, `pong`).
 * Throws ApiError(kind "protocol") for anything else that is not an update.
 */
export function decodeUpdate(data) {
  let value = data;
  if (typeof data === "string") {
    const text = data.trim();
    if (/^(ping|pong)$/i.test(text)) return null;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ApiError(`a message that is not JSON: ${text.slice(0, 80)}`, { kind: "protocol" });
    }
  }
  if (!value || typeof value !== "object") {
    throw new ApiError("a message that is not a task update", { kind: "protocol" });
  }
  if (value.type === "ping" || value.type === "pong") return null;
  const ok =
    Number.isInteger(value.seq) &&
    value.seq > 0 &&
    typeof value.task_id === "string" &&
    STATES.includes(value.status) &&
    Number.isInteger(value.step);
  if (!ok) {
    throw new ApiError(`a message that is not a task update: ${JSON.stringify(value).slice(0, 120)}`, {
      kind: "protocol",
    });
  }
  return value;
}

/**
 * Follows one task. Callbacks:
 * - onUpdate(update): each new update, in seq order, the terminal one last;
 * - onTransport(name): "connecting", "socket", "polling" or "closed" when it changes;
 * - onProblem(error): a malformed message (the watch goes on);
 * - onEnd({update} | {error}): once, after the terminal update or with the error that ended it.
 */
export class TaskWatch {
  constructor({
    gateway,
    taskId,
    since = 0,
    forcePolling = false,
    onUpdate = () => {},
    onTransport = () => {},
    onProblem = () => {},
    onEnd = () => {},
    WebSocketImpl = globalThis.WebSocket,
    random = Math.random,
    offlineLimitMs = OFFLINE_LIMIT_MS,
    connectTimeoutMs = CONNECT_TIMEOUT_MS,
    now = () => Date.now(),
  }) {
    Object.assign(this, { gateway, taskId, onUpdate, onTransport, onProblem, onEnd });
    this.WebSocketImpl = WebSocketImpl;
    this.forcePolling = forcePolling || !WebSocketImpl;
    this.offlineLimitMs = offlineLimitMs;
    this.connectTimeoutMs = connectTimeoutMs;
    this.now = now;
    this.filter = new SeqFilter(since);
    this.socketBackoff = new Backoff(500, 20_000, random);
    this.pollBackoff = new Backoff(500, 20_000, random);
    this.transport = "idle";
    this.finished = false;
    this.socket = null; // the open socket (after `open`), or null
    this.handshake = null; // the socket being opened, or null
    this.reconnectTimer = null;
    this.polling = false; // polls run: the socket is down
    this.poll = null; // AbortController of the in-flight poll
    this.pollPause = null;
    this.heartbeat = null;
    this.probe = null; // AbortController of the handshake probe
    this.handshakeTimer = null;
    this.watchdog = null;
    this.lastContact = now();
    this.lastFailure = null;
  }

  /** The highest seq handed out: what to resume from. */
  get lastSeq() {
    return this.filter.last;
  }

  start() {
    this.lastContact = this.now();
    this.watchdog = setInterval(() => this.#checkOffline(), 1000);
    if (this.forcePolling) {
      this.#startPolling();
    } else {
      this.#connect();
    }
    return this;
  }

  /** Stops everything without calling onEnd (the caller lost interest). */
  stop() {
    this.#finish();
  }

  #setTransport(name) {
    if (this.transport === name) return;
    this.transport = name;
    this.onTransport(name);
  }

  #contact() {
    this.lastContact = this.now();
    this.lastFailure = null;
  }

  #connect() {
    if (this.finished) return;
    if (!this.polling) this.#setTransport("connecting");
    let ws;
    try {
      ws = new this.WebSocketImpl(this.gateway.socketUrl(this.taskId, this.filter.last));
    } catch (error) {
      this.lastFailure = new ApiError("the socket could not be created", { kind: "network", cause: error });
      this.#socketDown();
      return;
    }
    this.handshake = ws;
    let opened = false;
    clearTimeout(this.handshakeTimer);
    const giveUp = setTimeout(() => {
      if (opened || this.handshake !== ws) return;
      detach(ws);
      ws.close();
      this.handshake = null;
      this.lastFailure = new ApiError("the socket handshake timed out", { kind: "network" });
      this.#socketDown();
    }, this.connectTimeoutMs);
    this.handshakeTimer = giveUp;

    ws.onopen = () => {
      clearTimeout(giveUp);
      if (this.finished || this.handshake !== ws) {
        ws.close(1000, "not needed");
        return;
      }
      opened = true;
      this.handshake = null;
      this.socket = ws;
      this.#contact();
      // The socket replays everything after `since`: a poll now could only duplicate it.
      this.polling = false;
      this.#dropPoll();
      this.heartbeat = setInterval(() => {
        try {
          ws.send("ping");
        } catch {
          // A failing send is followed by a close event.
        }
      }, HEARTBEAT_MS);
      this.#setTransport("socket");
    };
    ws.onmessage = (event) => {
      if (this.socket !== ws || this.finished) return;
      this.#contact();
      let update;
      try {
        update = decodeUpdate(event.data);
      } catch (error) {
        this.onProblem(error);
        return;
      }
      if (update === null) return;
      this.socketBackoff.reset();
      this.#deliver(update);
    };
    ws.onerror = () => {
      // A close event always follows; it decides.
    };
    ws.onclose = (event) => {
      clearTimeout(giveUp);
      if (this.finished) return;
      if (!opened) {
        if (this.handshake !== ws) return;
        this.handshake = null;
        this.#handshakeFailed();
        return;
      }
      if (this.socket !== ws) return;
      clearInterval(this.heartbeat);
      this.heartbeat = null;
      this.socket = null;
      if (event.code === CLOSE_TOKEN_EXPIRED) {
        this.#fail(new ApiError(event.reason || "the access token expired", { status: 401 }));
        return;
      }
      // 1012 (restart), 1011, 4008 (slow reader), 4000 (idle), 1000 before the terminal
      // update, 1006 (connection lost): resume with `since` after a backoff, polling meanwhile.
      this.lastFailure = new ApiError(`the socket closed (${event.code})`, { kind: "network" });
      this.#socketDown();
    };
  }

  /** The handshake was refused or failed: learn why, then end, poll, or retry. */
  async #handshakeFailed() {
    const controller = new AbortController();
    this.probe = controller;
    const { status, problem } = await this.gateway.probeSocket(this.taskId, controller.signal);
    if (this.finished || this.probe !== controller) return;
    this.probe = null;
    const error = new ApiError(problem?.detail || `the socket handshake failed (HTTP ${status})`, {
      status,
      problem,
      kind: status === 0 ? "network" : undefined,
    });
    if (status === 404) {
      // Sockets off, or no such task: the poll tells which, and the socket is not tried again.
      this.lastFailure = error;
      this.#startPolling();
      return;
    }
    if (status !== 0 && status !== 400 && status !== 200 && !error.transient) {
      this.#fail(error);
      return;
    }
    // 400 ("needs an upgrade"): the gateway would have accepted it; the network failed.
    this.lastFailure = error;
    this.#socketDown();
  }

  /** The socket is gone: poll meanwhile, and try again after a backoff. */
  #socketDown() {
    this.socket = null;
    const delay = this.socketBackoff.next();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.#connect();
    }, delay);
    this.#startPolling();
  }

  #startPolling() {
    this.polling = true;
    this.#setTransport("polling");
    this.#ensurePoll();
  }

  #ensurePoll() {
    if (this.finished || !this.polling || this.poll || this.pollPause) return;
    this.#runPoll();
  }

  #dropPoll() {
    const poll = this.poll;
    this.poll = null;
    poll?.abort();
    clearTimeout(this.pollPause);
    this.pollPause = null;
  }

  #pause(ms) {
    this.pollPause = setTimeout(() => {
      this.pollPause = null;
      this.#ensurePoll();
    }, ms);
  }

  async #runPoll() {
    const controller = new AbortController();
    this.poll = controller;
    const started = this.now();
    const limit = setTimeout(
      () => controller.abort(new ApiError("the long-poll got no answer in time", { kind: "network" })),
      (POLL_WAIT_SECS + 10) * 1000,
    );
    let update = null;
    let error = null;
    try {
      update = decodeUpdate(await this.gateway.poll(this.taskId, this.filter.last, POLL_WAIT_SECS, controller.signal));
    } catch (caught) {
      error = caught instanceof ApiError ? caught : new ApiError(String(caught), { kind: "network" });
    } finally {
      clearTimeout(limit);
    }
    if (this.poll !== controller || this.finished) return; // dropped: a socket opened, or done
    this.poll = null;
    if (!error) {
      this.#contact();
      this.pollBackoff.reset();
      const fresh = this.#deliver(update);
      if (this.finished) return;
      const elapsed = this.now() - started;
      if (!fresh && elapsed < MIN_POLL_SPACING_MS) {
        this.#pause(MIN_POLL_SPACING_MS - elapsed);
      } else {
        this.#ensurePoll();
      }
      return;
    }
    if (!error.transient) {
      this.#fail(error);
      return;
    }
    if (error.kind === "protocol") {
      this.onProblem(error);
    } else {
      this.lastFailure = error;
    }
    this.#pause(this.pollBackoff.next());
  }

  /** Hands `update` out if it is new; ends the watch after a terminal one. */
  #deliver(update) {
    if (update.task_id !== this.taskId) {
      this.onProblem(
        new ApiError(`an update of task ${update.task_id} arrived while watching ${this.taskId}`, {
          kind: "protocol",
        }),
      );
      return false;
    }
    if (!this.filter.accept(update)) return false;
    const terminal = isTerminal(update);
    if (terminal) this.#finish();
    this.onUpdate(update);
    if (terminal) this.onEnd({ update });
    return true;
  }

  #checkOffline() {
    if (this.finished || this.socket) return;
    if (this.now() - this.lastContact < this.offlineLimitMs) return;
    const secs = Math.round(this.offlineLimitMs / 1000);
    const why = this.lastFailure ? `: ${this.lastFailure.message}` : "";
    this.#fail(new ApiError(`no answer from the gateway for ${secs} s${why}`, { kind: "offline" }));
  }

  /** Stops everything: no reconnect, no poll, no timer survives. */
  #finish() {
    if (this.finished) return;
    this.finished = true;
    this.polling = false;
    clearInterval(this.watchdog);
    clearInterval(this.heartbeat);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.handshakeTimer);
    this.#dropPoll();
    this.probe?.abort();
    this.probe = null;
    for (const ws of [this.handshake, this.socket]) {
      if (!ws) continue;
      detach(ws);
      try {
        ws.close(1000, "done");
      } catch {
        // Already closing.
      }
    }
    this.handshake = null;
    this.socket = null;
    this.#setTransport("closed");
  }

  #fail(error) {
    this.#finish();
    this.onEnd({ error });
  }
}

function detach(ws) {
  ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
}
