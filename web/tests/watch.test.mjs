// Unit tests of web/watch.js, the browser client's transport rules, with a fake WebSocket and
// a fake gateway. No dependencies: `node --test web/tests/watch.test.mjs` (Node 20+).

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ApiError } from "../api.js";
import { Backoff, SeqFilter, TaskWatch, decodeUpdate } from "../watch.js";

const TASK = "0190f2a4-7c1e-7d2a-9b1e-3c4d5e6f7a8b";

function update(seq, status = "PROGRESS", step = seq - 1) {
  return { seq, type: "progress", task_id: TASK, status, step, total_steps: 5, timestamp: 1 };
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition, what, ms = 2000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

/** A WebSocket the test drives: open(), send a message, close from the server side. */
class FakeSocket {
  static all = [];

  constructor(url) {
    this.url = url;
    this.sent = [];
    this.closedWith = null;
    FakeSocket.all.push(this);
  }

  send(text) {
    this.sent.push(text);
  }

  close(code = 1005, reason = "") {
    this.closedWith = { code, reason };
  }

  serverOpen() {
    this.onopen?.({});
  }

  serverSend(value) {
    this.onmessage?.({ data: typeof value === "string" ? value : JSON.stringify(value) });
  }

  serverClose(code, reason = "") {
    this.onclose?.({ code, reason });
  }

  /** A refused handshake, as browsers report it: error, then close 1006. */
  refuse() {
    this.onerror?.({});
    this.onclose?.({ code: 1006, reason: "" });
  }
}

/** The gateway side: polls wait for the test to answer them; probes answer `probeStatus`. */
function fakeGateway({ probeStatus = 400 } = {}) {
  const gateway = {
    polls: [],
    probes: 0,
    probeStatus,
    socketUrl: (taskId, since) => `ws://gateway/ws/${taskId}?token=t&since=${since}`,
    poll(taskId, since, wait, signal) {
      return new Promise((resolve, reject) => {
        const entry = { since, wait, resolve, reject, aborted: false };
        signal.addEventListener("abort", () => {
          entry.aborted = true;
          reject(new ApiError("aborted", { kind: "aborted" }));
        });
        gateway.polls.push(entry);
      });
    },
    async probeSocket() {
      gateway.probes += 1;
      return { status: gateway.probeStatus, problem: null };
    },
  };
  return gateway;
}

function watch(gateway, options = {}) {
  FakeSocket.all = [];
  const seen = { updates: [], transports: [], problems: [], ends: [] };
  const task = new TaskWatch({
    gateway,
    taskId: TASK,
    WebSocketImpl: FakeSocket,
    random: () => 0, // every backoff delay is 0 ms
    onUpdate: (u) => seen.updates.push(u.seq),
    onTransport: (t) => seen.transports.push(t),
    onProblem: (e) => seen.problems.push(e),
    onEnd: (end) => seen.ends.push(end),
    ...options,
  });
  return { task: task.start(), seen };
}

describe("Backoff", () => {
  it("draws full-jitter delays under a ceiling that doubles from 0.5 s to 20 s", () => {
    const backoff = new Backoff(500, 20_000, () => 1);
    const delays = Array.from({ length: 8 }, () => backoff.next());
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16000, 20000, 20000]);
    backoff.reset();
    assert.equal(backoff.ceiling(), 500);
    const low = new Backoff(500, 20_000, () => 0);
    assert.equal(low.next(), 0, "the window starts at 0 (full jitter)");
  });
});

describe("SeqFilter", () => {
  it("lets each seq through once, in order, and nothing after the terminal update", () => {
    const filter = new SeqFilter(2);
    assert.equal(filter.accept(update(2)), false, "already seen");
    assert.equal(filter.accept(update(3)), true);
    assert.equal(filter.accept(update(3)), false, "duplicate");
    assert.equal(filter.accept(update(6)), true, "a gap (a poll skipped steps) is fine");
    assert.equal(filter.accept(update(5)), false, "older");
    assert.equal(filter.accept(update(7, "SUCCESS", 5)), true);
    assert.equal(filter.accept(update(8)), false, "after the end");
  });
});

describe("decodeUpdate", () => {
  it("skips keep-alive texts and refuses what is not an update", () => {
    assert.equal(decodeUpdate("pong"), null);
    assert.equal(decodeUpdate('{"type":"ping"}'), null);
    assert.equal(decodeUpdate(JSON.stringify(update(3))).seq, 3);
    for (const bad of ["{", "[]", '{"seq":0,"status":"PENDING"}', JSON.stringify({ ...update(2), status: "Scraping" })]) {
      assert.throws(() => decodeUpdate(bad), (e) => e instanceof ApiError && e.kind === "protocol", bad);
    }
  });
});

describe("TaskWatch over the socket", () => {
  it("is connected only after open, never polls during the first handshake, and stops at the terminal update", async () => {
    const gateway = fakeGateway();
    const { task, seen } = watch(gateway);

    assert.equal(FakeSocket.all.length, 1);
    assert.match(FakeSocket.all[0].url, /since=0$/);
    assert.deepEqual(seen.transports, ["connecting"]);
    await tick(20);
    assert.equal(gateway.polls.length, 0, "no poll while the first handshake runs");

    const socket = FakeSocket.all[0];
    socket.serverOpen();
    assert.deepEqual(seen.transports, ["connecting", "socket"]);
    for (const seq of [1, 2, 2, 3]) socket.serverSend(update(seq, seq === 1 ? "PENDING" : "PROGRESS"));
    socket.serverSend("not json");
    socket.serverSend(update(4, "SUCCESS", 5));
    socket.serverSend(update(5));

    assert.deepEqual(seen.updates, [1, 2, 3, 4], "each seq once, nothing after the end");
    assert.equal(seen.problems.length, 1, "the malformed message is reported, the watch goes on");
    assert.equal(seen.ends.length, 1);
    assert.equal(seen.ends[0].update.seq, 4);
    assert.deepEqual(socket.closedWith, { code: 1000, reason: "done" });
    await tick(20);
    assert.equal(FakeSocket.all.length, 1, "no reconnect after the end");
    assert.equal(gateway.polls.length, 0);
    assert.equal(task.transport, "closed");
  });

  it("polls while the socket is down and resumes by seq on both transports", async () => {
    const gateway = fakeGateway();
    const { seen } = watch(gateway);
    const first = FakeSocket.all[0];
    first.serverOpen();
    first.serverSend(update(1, "PENDING", 0));
    first.serverSend(update(2));

    first.serverClose(1012, "restart");
    assert.equal(seen.transports.at(-1), "polling");
    await until(() => gateway.polls.length === 1, "a poll");
    assert.equal(gateway.polls[0].since, 2, "the poll resumes after the last seq");
    assert.equal(gateway.polls[0].wait, 25);
    await until(() => FakeSocket.all.length === 2, "a reconnect");
    assert.match(FakeSocket.all[1].url, /since=2$/, "the socket resumes after the last seq");

    gateway.polls[0].resolve(update(3));
    await until(() => seen.updates.length === 3, "the polled update");
    await until(() => gateway.polls.length === 2, "the next poll");
    assert.equal(gateway.polls[1].since, 3);

    FakeSocket.all[1].serverOpen();
    assert.equal(gateway.polls[1].aborted, true, "an open socket drops the in-flight poll");
    assert.equal(seen.transports.at(-1), "socket");
    FakeSocket.all[1].serverSend(update(3)); // a duplicate across transports
    FakeSocket.all[1].serverSend(update(4, "FAILURE", 2));
    assert.deepEqual(seen.updates, [1, 2, 3, 4]);
    assert.equal(seen.ends.length, 1);
  });

  it("retries a failed handshake with backoff, polling meanwhile", async () => {
    const gateway = fakeGateway({ probeStatus: 400 });
    const { seen } = watch(gateway);
    FakeSocket.all[0].refuse();
    await until(() => gateway.polls.length === 1, "a poll after the failed handshake");
    await until(() => FakeSocket.all.length === 2, "a second handshake");
    assert.equal(gateway.probes, 1);
    gateway.polls[0].resolve(update(1, "SUCCESS", 5));
    await until(() => seen.ends.length === 1, "the end");
    assert.equal(FakeSocket.all[1].closedWith.code, 1000, "the pending handshake is abandoned");
  });
});

describe("TaskWatch refusals", () => {
  it("polls for good when the gateway has no sockets (404 confirmed by a snapshot)", async () => {
    const gateway = fakeGateway({ probeStatus: 404 });
    const { seen } = watch(gateway);
    FakeSocket.all[0].refuse();
    await until(() => gateway.polls.length === 1, "a poll");
    gateway.polls[0].resolve(update(2));
    await until(() => gateway.polls.length === 2, "the next poll");
    gateway.polls[1].resolve(update(6, "SUCCESS", 5));
    await until(() => seen.ends.length === 1, "the end");
    assert.deepEqual(seen.updates, [2, 6]);
    assert.equal(FakeSocket.all.length, 1, "the socket is not tried again");
    assert.deepEqual(seen.transports, ["connecting", "polling", "closed"]);
  });

  it("ends when the poll confirms the 404", async () => {
    const gateway = fakeGateway({ probeStatus: 404 });
    const { seen } = watch(gateway);
    FakeSocket.all[0].refuse();
    await until(() => gateway.polls.length === 1, "a poll");
    gateway.polls[0].reject(new ApiError("no such task", { status: 404 }));
    await until(() => seen.ends.length === 1, "the end");
    assert.equal(seen.ends[0].error.kind, "not_found");
  });

  it("ends on a refused token: 401 at the handshake, or close code 4001", async () => {
    const refused = fakeGateway({ probeStatus: 401 });
    const first = watch(refused);
    FakeSocket.all[0].refuse();
    await until(() => first.seen.ends.length === 1, "the end");
    assert.equal(first.seen.ends[0].error.kind, "unauthorized");
    assert.equal(refused.polls.length, 0);

    const expiring = fakeGateway();
    const second = watch(expiring);
    FakeSocket.all[0].serverOpen();
    FakeSocket.all[0].serverClose(4001, "the access token expired");
    assert.equal(second.seen.ends.length, 1);
    assert.equal(second.seen.ends[0].error.kind, "unauthorized");
    await tick(20);
    assert.equal(FakeSocket.all.length, 1, "no reconnect with an expired token");
  });

  it("gives up after the offline limit without any contact", async () => {
    const gateway = fakeGateway({ probeStatus: 0 });
    gateway.poll = () => Promise.reject(new ApiError("down", { kind: "network" }));
    const { seen } = watch(gateway, { offlineLimitMs: 150 });
    FakeSocket.all[0].refuse();
    await until(() => seen.ends.length === 1, "the offline end", 3000);
    assert.equal(seen.ends[0].error.kind, "offline");
  });
});

describe("forcePolling", () => {
  it("never opens a socket", async () => {
    const gateway = fakeGateway();
    const { seen } = watch(gateway, { forcePolling: true });
    await until(() => gateway.polls.length === 1, "a poll");
    assert.equal(gateway.polls[0].since, 0);
    gateway.polls[0].resolve(update(1, "FAILURE", 0));
    await until(() => seen.ends.length === 1, "the end");
    assert.equal(FakeSocket.all.length, 0);
  });
});
