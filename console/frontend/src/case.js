// The case page: GET /api/v1/cases/{number} (fields, clock, events, photos, allowed_verbs),
// the grid's chain (GET /api/v1/grids/{code}), the routing explanation
// (GET /api/v1/matrix/explain), open cases nearby (GET /api/v1/map/cases, a small box around
// the point), and a form per allowed verb (POST .../actions/{verb} with expected_version).
// After an action the page redraws from the API's answer, without reloading.
import { api, el, t } from "./lib/page.js";
import { verbForm } from "./case/forms.js";
import { showClock, showDuplicates, showEvents, showFacts, showPhotos, showRouting } from "./case/show.js";

const setup = JSON.parse(document.getElementById("case-setup").textContent);
const number = setup.number;
const root = document.getElementById("case");
const status = document.getElementById("case-status");
const actionsStatus = document.getElementById("c-actions-status");
const actions = document.getElementById("c-actions");
const actionsHeading = document.getElementById("h-actions");
const path = `/api/v1/cases/${encodeURIComponent(number)}`;
const NEAR = 0.002; // about 200 m each way, in degrees

let current = null;

const quietly = (promise) => promise.catch(() => null);

function nearbyBox(c) {
  if (c.lon == null || c.lat == null) return null;
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  return [clamp(c.lon - NEAR, -180, 179.999), clamp(c.lat - NEAR, -90, 89.999),
    clamp(c.lon + NEAR, -179.999, 180), clamp(c.lat + NEAR, -89.999, 90)].map((v) => v.toFixed(6)).join(",");
}

/** The answers that depend on the case's category, grid and point. */
async function related(c) {
  const may = setup.may;
  const box = nearbyBox(c);
  const [grid, explain, nearby] = await Promise.all([
    c.grid_code && may.grid ? quietly(api(`/api/v1/grids/${encodeURIComponent(c.grid_code)}`)) : null,
    c.category_code && c.grid_code && may.explain
      ? quietly(api(`/api/v1/matrix/explain?category=${encodeURIComponent(c.category_code)}&grid=${encodeURIComponent(c.grid_code)}`))
      : null,
    box && may.nearby ? quietly(api(`/api/v1/map/cases?bbox=${box}&zoom=18&crs=wgs84`)) : null,
  ]);
  return { grid, explain, nearby: nearby ? nearby.pins : null };
}

function showActions(c, more) {
  const verbs = (c.allowed_verbs || []).filter((v) => setup.verbs[v]);
  actions.dataset.verbs = verbs.join(",");
  if (!verbs.length) {
    actions.replaceChildren(el("p", { class: "hint", id: "c-no-actions" }, t("console_case_no_actions")));
    return;
  }
  const ctx = { case: c, setup, grid: more.grid, submit, conflict, openFirst: false };
  actions.replaceChildren(...verbs.map((v, i) => verbForm(v, setup.verbs[v], { ...ctx, openFirst: i === 0 })));
}

function draw(c, more) {
  current = c;
  showFacts(c, setup, more.grid);
  showClock(c);
  showPhotos(c);
  showEvents(c, setup);
  showRouting(c, more.explain, setup.may.explain);
  showDuplicates(c, more.nearby);
  showActions(c, more);
  root.dataset.state = c.state;
  root.dataset.version = String(c.version);
}

async function load() {
  root.dataset.ready = "";
  status.textContent = t("console_loading");
  try {
    const c = await api(path);
    draw(c, await related(c));
    status.textContent = "";
  } catch (err) {
    status.textContent = `${t("console_load_failed")} ${err.message}`;
  } finally {
    root.dataset.ready = "1";
  }
}

function say(text, failed = false) {
  actionsStatus.textContent = text;
  actionsStatus.classList.toggle("error", failed);
}

async function submit(verb, body) {
  root.dataset.ready = "";
  say(t("console_case_working"));
  try {
    const c = await api(`${path}/actions/${encodeURIComponent(verb)}`, {
      method: "POST", json: { ...body, expected_version: current.version } });
    draw(c, await related(c));
    say(t("console_case_done", { verb: setup.verbs[verb].label, state: c.state_name }));
    actionsHeading.focus();
  } catch (err) {
    say("");
    throw err;
  } finally {
    root.dataset.ready = "1";
  }
}

/** Someone else changed the case (or its state no longer allows the verb): show the case as
 * it is now and say why nothing was done. */
async function conflict(err) {
  await load();
  say(`${t("console_case_failed")} ${err.message}`, true);
  actionsHeading.focus();
}

actionsHeading.setAttribute("tabindex", "-1");
load();
