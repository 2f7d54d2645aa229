// The admin console: asks for the admin token (kept in sessionStorage, this tab only), then
// polls the admin API every few seconds. Everything shown is set with textContent, never as
// HTML: task data comes from users.

import { drawChart } from "/admin/chart.js";

const API = "/admin/api";
const TOKEN_KEY = "relay-admin-token";
const REFRESH_MS = 5000;

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  filters: new URLSearchParams(),
  cursor: null,
  shown: null,
  timer: null,
  minutes: [],
};

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, method = "GET") {
  const response = await fetch(`${API}${path}`, {
    method,
    headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" },
    cache: "no-store",
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function badge(status) {
  return el("span", { class: `badge ${status}` }, status);
}

function when(seconds) {
  if (!seconds) return "–";
  return new Date(seconds * 1000).toLocaleString();
}

function ago(seconds, now) {
  const s = Math.max(0, Math.round(now - seconds));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

// Task ids are UUIDv7: their head is the time, so the tail tells them apart.
function short(id) {
  return id ? `…${id.slice(-8)}` : "";
}

function say(text) {
  $("console-message").textContent = text || "";
}

function fail(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    signOut(error.message);
    return;
  }
  say(error.message);
}

// ---- sign in ----

function signIn(token) {
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("signin").hidden = true;
  $("console").hidden = false;
  $("signout").hidden = false;
  $("who").textContent = "Operator";
  refresh();
  loadTasks(true);
  clearInterval(state.timer);
  state.timer = setInterval(refresh, REFRESH_MS);
}

function signOut(reason) {
  clearInterval(state.timer);
  state.token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  $("console").hidden = true;
  $("signin").hidden = false;
  $("signout").hidden = true;
  $("who").textContent = "Not signed in";
  $("signin-message").textContent = reason || "";
}

// ---- overview, workers, dead letters, chart ----

async function refresh() {
  try {
    const [overview, dead, throughput] = await Promise.all([
      api("/overview"),
      api("/dead-letters"),
      api("/throughput"),
    ]);
    renderOverview(overview);
    renderDead(dead.dead_letters);
    state.minutes = throughput.minutes;
    renderChart();
    $("refreshed").textContent = `Updated ${new Date().toLocaleTimeString()}`;
    say("");
    if (state.shown) showTask(state.shown, false);
  } catch (error) {
    fail(error);
  }
}

function renderOverview(o) {
  $("stat-queued").textContent = o.queued;
  $("stat-delayed").textContent = o.delayed;
  $("stat-dead").textContent = o.dead;
  $("stat-dead").parentElement.classList.toggle("has", o.dead > 0);
  $("stat-workers").textContent = o.workers.length;
  const list = $("workers");
  list.replaceChildren(
    ...o.workers.map((w) =>
      el(
        "li",
        {},
        el("span", { class: "main mono" }, w.id),
        el("span", { class: "hint" }, `heartbeat ${ago(w.last_heartbeat, o.now)}`),
        el(
          "span",
          { class: "sub" },
          w.in_flight.length ? `${w.in_flight.length} in flight: ` : "idle",
          ...w.in_flight.flatMap((id) => [taskLink(id), " "]),
        ),
      ),
    ),
  );
  $("workers-empty").hidden = o.workers.length > 0;
}

function taskLink(id) {
  return el("button", { type: "button", class: "link mono", onclick: () => showTask(id, true) }, short(id));
}

function renderDead(dead) {
  $("dead").replaceChildren(
    ...dead.map((d) => {
      const task = d.task || {};
      return el(
        "li",
        { "data-task": d.task_id },
        el("span", { class: "main" }, taskLink(d.task_id), " ", el("code", {}, task.error || "unknown_task")),
        el("button", { type: "button", class: "small requeue", onclick: () => requeue(d.task_id) }, "Requeue"),
        el("span", { class: "sub" }, task.message || "No task row", task.url ? ` · ${task.url}` : ""),
      );
    }),
  );
  $("dead-empty").hidden = dead.length > 0;
  $("requeue-all").disabled = dead.length === 0;
}

function renderChart() {
  drawChart($("chart"), state.minutes);
  const sum = (key) => state.minutes.reduce((n, m) => n + m[key], 0);
  const ok = sum("succeeded");
  const bad = sum("failed");
  const rate = ok + bad ? Math.round((bad / (ok + bad)) * 100) : 0;
  $("chart-summary").textContent =
    `${ok} succeeded, ${bad} failed, ${sum("cancelled")} cancelled in the last hour (error rate ${rate} %).`;
}

// ---- actions ----

async function requeue(id) {
  try {
    await api(`/dead-letters/${id}/requeue`, "POST");
    await refresh();
    loadTasks(true);
    say(`Task ${short(id)} queued again.`);
  } catch (error) {
    fail(error);
  }
}

async function requeueAll() {
  try {
    const result = await api("/dead-letters/requeue", "POST");
    await refresh();
    loadTasks(true);
    say(`${result.requeued.length} queued again` + (result.skipped.length ? `, ${result.skipped.length} skipped.` : "."));
  } catch (error) {
    fail(error);
  }
}

async function cancelTask(id) {
  try {
    await api(`/tasks/${id}/cancel`, "POST");
    await showTask(id, false);
    loadTasks(true);
    refresh();
  } catch (error) {
    fail(error);
  }
}

// ---- tasks ----

function readFilters() {
  const form = new FormData($("filters"));
  const params = new URLSearchParams();
  for (const key of ["state", "error", "user"]) {
    const value = String(form.get(key) || "").trim();
    if (value) params.set(key, value);
  }
  for (const key of ["since", "until"]) {
    const value = String(form.get(key) || "");
    if (value) params.set(key, String(Math.floor(new Date(value).getTime() / 1000)));
  }
  return params;
}

async function loadTasks(fresh) {
  const params = new URLSearchParams(state.filters);
  params.set("limit", "25");
  if (!fresh && state.cursor) params.set("cursor", state.cursor);
  try {
    const page = await api(`/tasks?${params}`);
    const rows = page.tasks.map((t) =>
      el(
        "li",
        { "data-task": t.task_id, onclick: () => showTask(t.task_id, true) },
        el("span", { class: "main" }, badge(t.status), " ", el("span", { class: "mono" }, short(t.task_id)), " ", t.recipe_name || t.error || t.message || ""),
        el("span", { class: "hint" }, when(t.created_at)),
        el("span", { class: "sub" }, `user ${short(t.owner)} · ${t.url} · ${t.language} · attempts ${t.attempts}`),
      ),
    );
    if (fresh) $("tasks").replaceChildren(...rows);
    else $("tasks").append(...rows);
    state.cursor = page.next_cursor;
    $("more").hidden = !page.next_cursor;
    $("tasks-empty").hidden = $("tasks").children.length > 0;
  } catch (error) {
    fail(error);
  }
}

async function showTask(id, scroll) {
  let detail;
  try {
    detail = await api(`/tasks/${id}`);
  } catch (error) {
    fail(error);
    return;
  }
  state.shown = id;
  const t = detail.task;
  $("detail").hidden = false;
  $("detail-title").replaceChildren("Task ", el("span", { class: "mono" }, t.task_id), " ", badge(t.status));
  const facts = [
    ["User", t.owner],
    ["Link", t.url],
    ["Language", t.language],
    ["Step", `${t.step} of 5`],
    ["Message", t.message || "–"],
    ["Error", t.error || "–"],
    ["Recipe", t.recipe_name ? `${t.recipe_name} (${t.recipe_id})` : "–"],
    ["Created", when(t.created_at)],
    ["Updated", when(t.updated_at)],
    ["Dead letter", detail.dead_letter ? "yes" : "no"],
  ];
  $("detail-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const job = detail.job;
  const attempts = [
    ["Claims (Postgres)", t.attempts],
    ["Claim token", t.claim_token || "–"],
    ["Job in Redis", job ? `attempt ${job.attempts} of this run` : "none (finished or not queued)"],
    ["Worker", (job && job.worker) || "–"],
    ["Lease until", job && job.lease_until ? when(job.lease_until) : "–"],
    ["Retry at", job && job.retry_at ? when(job.retry_at) : "–"],
  ];
  $("detail-attempts").replaceChildren(...attempts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("detail-source").textContent =
    detail.events_source === "redis" ? "(from Redis)" : "(Redis has expired the log: Postgres' last event)";
  $("detail-log").replaceChildren(
    ...detail.events.map((e) =>
      el(
        "li",
        {},
        el("span", { class: "seq" }, `#${e.seq}`),
        badge(e.status),
        el(
          "span",
          { class: "text" },
          [e.current_status || e.message, e.details, e.error && `(${e.error})`].filter(Boolean).join(" · "),
          " ",
          el("span", { class: "hint" }, when(e.timestamp)),
        ),
      ),
    ),
  );
  const finished = t.status === "SUCCESS" || t.status === "FAILURE";
  $("detail-cancel").hidden = finished;
  $("detail-cancel").onclick = () => cancelTask(t.task_id);
  $("detail-requeue").hidden = !detail.dead_letter;
  $("detail-requeue").onclick = () => requeue(t.task_id).then(() => showTask(t.task_id, false));
  if (scroll) $("detail").scrollIntoView({ behavior: "smooth", block: "start" });
}

// ---- wiring ----

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  $("token").value = "";
  if (token) signIn(token);
});
$("signout").addEventListener("click", () => signOut(""));
$("requeue-all").addEventListener("click", requeueAll);
$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  state.filters = readFilters();
  loadTasks(true);
});
$("filters").addEventListener("reset", () => {
  state.filters = new URLSearchParams();
  setTimeout(() => loadTasks(true), 0);
});
$("more").addEventListener("click", () => loadTasks(false));
$("detail-close").addEventListener("click", () => {
  state.shown = null;
  $("detail").hidden = true;
});
window.addEventListener("resize", () => renderChart());

if (state.token) signIn(state.token);
