// The demo page: sign-in, submission, the task card (the migration guide's TaskProgressWidget
// states: connecting, queued, processing, recipe ready, failed) and the user's recipes.
//
// The gateway is the page's own origin (the api serves this folder under /demo), or the one
// named by `?api=https://gateway.example` when the folder is served from somewhere else.
// `?poll` watches tasks by long-polling only. Everything is rendered with textContent: nothing
// the gateway or a video says is ever parsed as HTML.

import { Gateway, tokenClaims } from "./api.js";
import { TOTAL_STEPS, TaskWatch } from "./watch.js";

const TOKEN_KEY = "recipe-relay.token";
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const gateway = new Gateway(params.get("api") || location.origin, null);
const ui = {
  who: $("who"),
  signinTitle: $("signin-title"),
  signedIn: $("signed-in"),
  signedInText: $("signed-in-text"),
  tokenForm: $("token-form"),
  token: $("token"),
  mint: $("mint"),
  signout: $("signout"),
  signinMessage: $("signin-message"),
  submitForm: $("submit-form"),
  url: $("url"),
  language: $("language"),
  submit: $("submit"),
  submitMessage: $("submit-message"),
  task: $("task"),
  card: $("card"),
  title: $("card-title"),
  transport: $("transport"),
  bar: $("bar"),
  fill: $("bar-fill"),
  meta: $("meta"),
  statusMain: $("status-main"),
  statusDetails: $("status-details"),
  recipeSlot: $("recipe-slot"),
  cancel: $("cancel"),
  retry: $("retry"),
  refresh: $("refresh"),
  recipesMessage: $("recipes-message"),
  recipeList: $("recipe-list"),
  more: $("more"),
};

/** What the card is showing. */
const current = { watch: null, taskId: null, input: null, retry: null, recipesCursor: null };

// --- small DOM helpers --------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

function say(node, text, kind = "") {
  node.textContent = text || "";
  node.dataset.kind = kind;
}

function minutes(value) {
  if (!Number.isInteger(value) || value <= 0) return null;
  const h = Math.floor(value / 60);
  const m = value % 60;
  if (!h) return `${m} min`;
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** Only http(s) links become hrefs. */
function safeHref(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.toString() : null;
  } catch {
    return null;
  }
}

// --- sign-in ------------------------------------------------------------------------------------

function signIn(token, note) {
  const claims = tokenClaims(token);
  if (!claims || typeof claims.sub !== "string") {
    say(ui.signinMessage, "That does not look like an access token (a JWT with a sub claim).", "error");
    return false;
  }
  if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) {
    say(ui.signinMessage, "That token has expired; get a fresh one.", "error");
    return false;
  }
  gateway.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  ui.token.value = "";
  renderWho();
  say(ui.signinMessage, note || "", note ? "ok" : "");
  loadRecipes();
  return true;
}

function signOut(note) {
  current.watch?.stop();
  gateway.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  renderWho();
  say(ui.signinMessage, note || "", note ? "error" : "");
  ui.recipeList.replaceChildren();
  ui.more.hidden = true;
  say(ui.recipesMessage, "Sign in to see your recipes.");
}

function renderWho() {
  const claims = gateway.token ? tokenClaims(gateway.token) : null;
  const signedIn = Boolean(claims);
  document.body.dataset.signedIn = String(signedIn);
  ui.signedIn.hidden = !signedIn;
  ui.signinTitle.textContent = signedIn ? "Account" : "Sign in";
  ui.tokenForm.hidden = signedIn;
  if (!signedIn) {
    ui.who.textContent = "Not signed in";
    return;
  }
  const user = String(claims.sub);
  const until =
    typeof claims.exp === "number"
      ? new Date(claims.exp * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : null;
  ui.who.textContent = `User ${user.slice(0, 8)}…`;
  ui.who.title = user;
  ui.signedInText.textContent = until ? `Signed in until ${until}.` : "Signed in.";
  ui.signedInText.title = `User ${user}`;
}

ui.tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = ui.token.value.trim().replace(/^Bearer\s+/i, "");
  if (!token) {
    say(ui.signinMessage, "Paste an access token first.", "error");
    return;
  }
  signIn(token);
});

ui.mint.addEventListener("click", async () => {
  ui.mint.disabled = true;
  say(ui.signinMessage, "Minting a development token…");
  try {
    const minted = await new Gateway(gateway.base, null).mintDevToken();
    const mins = Math.round(minted.expires_in / 60);
    signIn(minted.access_token, `Development token for a new user, valid for ${mins} min.`);
  } catch (error) {
    const text =
      error.status === 404
        ? "This gateway does not mint tokens (api.dev_mode is off). Paste an access token instead."
        : `Could not mint a token: ${error.message}`;
    say(ui.signinMessage, text, "error");
  } finally {
    ui.mint.disabled = false;
  }
});

ui.signout.addEventListener("click", () => signOut());

// --- submission ---------------------------------------------------------------------------------

ui.submitForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!gateway.token) {
    say(ui.submitMessage, "Sign in first: paste a token or mint a development token.", "error");
    ui.token.focus();
    return;
  }
  submit({ url: ui.url.value.trim(), language: ui.language.value.trim() });
});

async function submit(input) {
  ui.submit.disabled = true;
  say(ui.submitMessage, "Submitting…");
  try {
    const first = await gateway.submit(input.url, input.language);
    say(ui.submitMessage, "");
    follow(first.task_id, input);
  } catch (error) {
    if (error.status === 401) {
      signOut(`The gateway refused the token: ${error.message}`);
    }
    const wait = error.status === 429 ? " Try again in a moment." : "";
    say(ui.submitMessage, `${error.message}${wait}`, "error");
  } finally {
    ui.submit.disabled = false;
  }
}

// --- the task card ------------------------------------------------------------------------------

const TRANSPORT_TEXT = {
  connecting: "Opening the live connection…",
  socket: "Live over a WebSocket",
  polling: "Following by HTTP long-polling",
};

/** Starts following `taskId` (from seq `since`), replacing whatever the card showed. */
function follow(taskId, input, since = 0) {
  current.watch?.stop();
  current.taskId = taskId;
  current.input = input;
  ui.task.hidden = false;
  ui.card.dataset.taskId = taskId;
  ui.card.dataset.transports = "";
  ui.card.dataset.transport = "";
  ui.recipeSlot.replaceChildren();
  if (since === 0) showConnecting();
  current.watch = new TaskWatch({
    gateway,
    taskId,
    since,
    forcePolling: params.has("poll"),
    onUpdate: render,
    onTransport: showTransport,
    onProblem: (error) => console.warn("recipe-relay:", error.message),
    onEnd: ({ error }) => {
      if (error) showWatchError(error);
    },
  }).start();
  ui.task.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function showTransport(name) {
  if (name === "closed") return; // keep saying how the last update came
  ui.card.dataset.transport = name;
  const seen = ui.card.dataset.transports ? ui.card.dataset.transports.split(" ") : [];
  if (seen[seen.length - 1] !== name) seen.push(name);
  ui.card.dataset.transports = seen.join(" ");
  ui.transport.textContent = TRANSPORT_TEXT[name] || "";
}

function setState(state, title) {
  ui.card.dataset.state = state;
  ui.title.textContent = title;
  ui.cancel.hidden = !(state === "queued" || state === "processing");
  ui.retry.hidden = state !== "failed";
}

/** The bar: a share of TOTAL_STEPS, or indeterminate (no aria-valuenow) when null. */
function setBar(step, total = TOTAL_STEPS, text = "") {
  if (step === null) {
    ui.bar.removeAttribute("aria-valuenow");
    ui.bar.setAttribute("aria-valuetext", text || "Waiting");
    ui.bar.dataset.indeterminate = "true";
    ui.fill.style.width = "";
    ui.meta.textContent = text;
    return;
  }
  const safeTotal = total > 0 ? total : TOTAL_STEPS;
  const clamped = Math.max(0, Math.min(step, safeTotal));
  const percent = Math.round((clamped / safeTotal) * 100);
  ui.bar.dataset.indeterminate = "false";
  ui.bar.setAttribute("aria-valuenow", String(percent));
  const label = `Step ${clamped} of ${safeTotal} · ${percent}%`;
  ui.bar.setAttribute("aria-valuetext", text ? `${label}: ${text}` : label);
  ui.bar.dataset.step = String(clamped);
  ui.fill.style.width = `${percent}%`;
  ui.meta.textContent = label;
}

function setStatus(main, details = "") {
  ui.statusMain.textContent = main || "";
  ui.statusDetails.textContent = details || "";
  ui.statusDetails.hidden = !details;
}

function showConnecting() {
  setState("connecting", "Connecting…");
  setBar(null, TOTAL_STEPS, "Connecting");
  ui.meta.textContent = "";
  setStatus("Connecting to the gateway…");
  ui.transport.textContent = "";
}

function render(update) {
  const total = update.total_steps || TOTAL_STEPS;
  switch (update.status) {
    case "PENDING":
      setState("queued", "Task queued");
      setBar(null, total, "Waiting for a worker");
      setStatus(update.message || "Task is waiting to be processed", update.details);
      break;
    case "PROGRESS": {
      setState("processing", "Processing recipe");
      const text = update.current_status || update.message || "Processing…";
      setBar(update.step, total, text);
      setStatus(text, update.details);
      break;
    }
    case "SUCCESS":
      setState("ready", "Recipe ready!");
      setBar(total, total, "Done");
      // The recipe card below carries the title; until it loads, the name stands in for it.
      setStatus(update.message || "Recipe extracted", update.recipe_name);
      if (update.recipe_id) showRecipe(update.recipe_id);
      loadRecipes();
      break;
    case "FAILURE": {
      const cancelled = update.error === "cancelled";
      setState("failed", cancelled ? "Cancelled" : "Processing failed");
      setBar(update.step, total, "Failed");
      setStatus(update.message || "Task failed", update.error ? `Error: ${update.error}` : "");
      current.retry = () => submit(current.input);
      ui.retry.textContent = "Try again";
      break;
    }
    default:
      break;
  }
}

/** The watch ended without a terminal update: say why and offer the way forward. */
function showWatchError(error) {
  if (error.kind === "unauthorized") {
    setState("failed", "Not signed in");
    setStatus("The gateway refused the access token.", error.message);
    current.retry = null;
    ui.retry.hidden = true;
    signOut("The gateway refused the token; sign in again to go on.");
    return;
  }
  if (error.kind === "not_found") {
    setState("failed", "Task not found");
    setStatus("The gateway does not know this task (or it belongs to someone else).", error.message);
    current.retry = () => submit(current.input);
    ui.retry.textContent = "Submit again";
    return;
  }
  setState("failed", "Connection lost");
  setStatus("The progress could not be followed.", error.message);
  const { taskId, input, watch } = current;
  const since = watch ? watch.lastSeq : 0;
  current.retry = () => follow(taskId, input, since);
  ui.retry.textContent = "Reconnect";
}

ui.retry.addEventListener("click", () => current.retry?.());

ui.cancel.addEventListener("click", async () => {
  if (!current.taskId) return;
  ui.cancel.disabled = true;
  try {
    await gateway.cancel(current.taskId);
    // The FAILURE update ("cancelled") arrives through the watch like any other.
  } catch (error) {
    say(ui.submitMessage, `Could not cancel: ${error.message}`, "error");
  } finally {
    ui.cancel.disabled = false;
  }
});

async function showRecipe(recipeId) {
  const taskId = current.taskId;
  try {
    const recipe = await gateway.recipe(recipeId);
    if (current.taskId !== taskId) return;
    ui.recipeSlot.replaceChildren(adaptableRecipe(recipe));
    ui.statusDetails.hidden = true;
  } catch (error) {
    if (current.taskId !== taskId) return;
    ui.recipeSlot.replaceChildren(
      el("p", { class: "message", "data-kind": "error", text: `The recipe could not be loaded: ${error.message}` }),
    );
  }
}

/** Most servings the stepper offers (the gateway accepts up to 100). */
const SERVINGS_MAX = 100;

/**
 * The recipe card with its own controls: a servings stepper (when the recipe names its servings)
 * and a units toggle. Each change asks the gateway for the adapted recipe (it scales, rounds and
 * converts) and redraws the card in place; the view so far stays if that fails.
 */
function adaptableRecipe(recipe, headingLevel = 3) {
  const holder = el("div", { class: "recipe-holder" });
  const base = Number.isInteger(recipe.servings) ? recipe.servings : null;
  const view = { servings: base, units: "" };
  let shown = recipe;
  const draw = (problem) => {
    holder.replaceChildren(recipeView(shown, headingLevel, controls(problem)));
  };
  const change = async (next) => {
    const wanted = { ...view, ...next };
    try {
      shown = await gateway.recipe(recipe.id, {
        servings: wanted.servings !== base ? wanted.servings : undefined,
        units: wanted.units || undefined,
      });
      Object.assign(view, wanted);
      draw();
    } catch (error) {
      draw(`Could not adapt the recipe: ${error.message}`);
    }
  };
  const controls = (problem) => {
    const stepper = base
      ? el("div", { class: "stepper", role: "group", "aria-label": "Servings" },
          el("button", {
            type: "button", class: "step-button", "aria-label": "Fewer servings", text: "−",
            disabled: view.servings <= 1 ? "" : null,
            onclick: () => change({ servings: view.servings - 1 }),
          }),
          el("output", { class: "servings-count", "aria-live": "polite", text: `${view.servings} servings` }),
          el("button", {
            type: "button", class: "step-button", "aria-label": "More servings", text: "+",
            disabled: view.servings >= SERVINGS_MAX ? "" : null,
            onclick: () => change({ servings: view.servings + 1 }),
          }),
        )
      : null;
    const units = el("div", { class: "units-toggle", role: "radiogroup", "aria-label": "Units" },
      [["", "As written"], ["metric", "Metric"], ["us", "US"]].map(([value, label]) =>
        el("button", {
          type: "button", role: "radio", class: "unit-choice", "data-units": value || "written",
          "aria-checked": String(view.units === value), text: label,
          onclick: () => view.units !== value && change({ units: value }),
        })),
    );
    return el("div", { class: "recipe-controls" }, stepper, units,
      problem ? el("p", { class: "message", "data-kind": "error", text: problem }) : null);
  };
  draw();
  return holder;
}

/** The recipe card: title, servings, times, controls, ingredients, steps and the source video. */
function recipeView(recipe, headingLevel = 3, controls = null) {
  const id = `recipe-${recipe.id || Math.random().toString(36).slice(2)}`;
  const facts = [
    ["Servings", Number.isInteger(recipe.servings) ? String(recipe.servings) : null],
    ["Prep", minutes(recipe.prep_minutes)],
    ["Cook", minutes(recipe.cook_minutes)],
    ["Total", minutes(recipe.total_minutes)],
  ].filter(([, value]) => value);
  const ingredients = Array.isArray(recipe.ingredients) ? recipe.ingredients : [];
  const steps = Array.isArray(recipe.steps) ? recipe.steps : [];
  const source = recipe.source || {};
  const href = safeHref(source.url);
  const heading = `h${headingLevel}`;
  const sub = `h${headingLevel + 1}`;
  return el(
    "article",
    { class: "recipe", "aria-labelledby": id },
    el(heading, { id, class: "recipe-title", text: recipe.title || "Untitled recipe" }),
    recipe.description ? el("p", { class: "description", text: recipe.description }) : null,
    facts.length
      ? el(
          "dl",
          { class: "facts" },
          facts.map(([name, value]) => el("div", {}, el("dt", { text: name }), el("dd", { text: value }))),
        )
      : null,
    controls,
    el("div", { class: "recipe-columns" },
      el("div", {},
        el(sub, { text: "Ingredients" }),
        ingredients.length
          ? el("ul", { class: "ingredients" }, ingredients.map((item) => el("li", { text: item.raw || item.name || "" })))
          : el("p", { class: "hint", text: "No ingredients were found." }),
      ),
      el("div", {},
        el(sub, { text: "Steps" }),
        steps.length
          ? el("ol", { class: "steps" }, steps.map((step) => el("li", { text: String(step) })))
          : el("p", { class: "hint", text: "No steps were found." }),
      ),
    ),
    href
      ? el(
          "p",
          { class: "source" },
          el("a", { href, target: "_blank", rel: "noopener noreferrer", text: "Watch the source video on TikTok" }),
          source.author ? ` by @${String(source.author).replace(/^@/, "")}` : "",
        )
      : null,
  );
}

// --- the recipe list ----------------------------------------------------------------------------

async function loadRecipes({ more = false } = {}) {
  if (!gateway.token) {
    say(ui.recipesMessage, "Sign in to see your recipes.");
    return;
  }
  ui.refresh.disabled = true;
  ui.more.disabled = true;
  try {
    const page = await gateway.recipes({ limit: 20, cursor: more ? current.recipesCursor : undefined });
    const items = Array.isArray(page?.items) ? page.items : [];
    if (!more) ui.recipeList.replaceChildren();
    ui.recipeList.append(...items.map(recipeItem));
    current.recipesCursor = page?.next_cursor || null;
    ui.more.hidden = !current.recipesCursor;
    const count = ui.recipeList.children.length;
    say(ui.recipesMessage, count ? "" : "No recipes yet. Submit a TikTok link to make the first one.");
  } catch (error) {
    if (error.status === 401) signOut(`The gateway refused the token: ${error.message}`);
    else say(ui.recipesMessage, `Could not load your recipes: ${error.message}`, "error");
  } finally {
    ui.refresh.disabled = false;
    ui.more.disabled = false;
  }
}

function recipeItem(recipe) {
  const created = recipe.created_at ? new Date(recipe.created_at) : null;
  const when = created && !Number.isNaN(created.getTime())
    ? created.toLocaleString([], { dateStyle: "medium", timeStyle: "short" })
    : "";
  const meta = [when, recipe.language, minutes(recipe.total_minutes)].filter(Boolean).join(" · ");
  const body = el("div", { class: "recipe-body" });
  const details = el(
    "details",
    {},
    el("summary", {}, el("span", { class: "item-title", text: recipe.title || "Untitled recipe" }), el("span", { class: "item-meta", text: meta })),
    body,
  );
  details.addEventListener("toggle", () => {
    if (details.open && !body.firstChild) body.append(adaptableRecipe(recipe, 4));
  });
  return el("li", { "data-recipe-id": recipe.id }, details);
}

ui.refresh.addEventListener("click", () => loadRecipes());
ui.more.addEventListener("click", () => loadRecipes({ more: true }));

// --- start --------------------------------------------------------------------------------------

const footerLink = document.querySelector(".footer a");
if (footerLink) footerLink.href = gateway.url("/openapi.json");
const saved = sessionStorage.getItem(TOKEN_KEY);
if (!saved || !signIn(saved)) {
  sessionStorage.removeItem(TOKEN_KEY);
  renderWho();
  say(ui.recipesMessage, "Sign in to see your recipes.");
}
document.body.dataset.ready = "true";
