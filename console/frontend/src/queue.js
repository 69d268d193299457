// The case queue: GET /api/v1/cases with the filters of the form, counts per light, a refresh
// by polling (no page reload), and keyboard navigation of the rows (roving tabindex).
import { api, el, t, when } from "./lib/page.js";

const form = document.getElementById("filters");
const tbody = document.querySelector("#queue tbody");
const status = document.getElementById("status");
const more = document.getElementById("more");
const PAGE = 50;
const refreshSeconds = Number(status.dataset.refresh) || 30;
let rows = [];
let next = null; // how to ask for the next page: {cursor} or {offset}
let loading = false;

function filters() {
  const params = {};
  for (const [k, v] of new FormData(form)) if (v && k !== "sort") params[k] = v;
  return params;
}

function fromUrl() {
  const q = new URLSearchParams(location.search);
  for (const field of form.elements) if (field.name && q.has(field.name)) field.value = q.get(field.name);
}

function toUrl() {
  const q = new URLSearchParams(filters());
  if (form.elements.sort.value !== "newest") q.set("sort", form.elements.sort.value);
  history.replaceState(null, "", q.size ? `?${q}` : location.pathname);
}

// The list API is moving from offset to keyset (cursor) pages: follow whichever it answers.
function nextPage(data, asked) {
  const cursor = data.next_cursor ?? data.next ?? data.cursor?.next ?? null;
  if (cursor) return { cursor };
  const got = (data.cases || data.items || []).length;
  return got >= PAGE && !("next_cursor" in data) ? { offset: (asked.offset || 0) + got } : null;
}

async function fetchPage(page = {}) {
  const query = new URLSearchParams({ ...filters(), limit: String(PAGE), ...page });
  const data = await api(`/api/v1/cases?${query}`);
  return { cases: data.cases || data.items || [], next: nextPage(data, page) };
}

function light(c) {
  return c.clock?.light || "none";
}

function sorted(list) {
  if (form.elements.sort.value !== "deadline") return list;
  const due = (c) => (c.clock?.due_at && !c.clock.ended_at ? Date.parse(c.clock.due_at) : Infinity);
  return [...list].sort((a, b) => due(a) - due(b));
}

function row(c, index) {
  const l = light(c);
  const link = el("a", { href: `/console/cases/${encodeURIComponent(c.number)}`, tabindex: "-1" }, c.number);
  const deadline = c.clock?.due_at
    ? el("span", { class: c.clock.late ? "late" : "" }, when(c.clock.due_at), c.clock.late ? ` ${t("console_overdue")}` : "")
    : "";
  return el("tr", { tabindex: index === 0 ? "0" : "-1", dataset: { number: c.number }, "aria-label": `${c.number} ${c.state_name || c.state}` },
    el("td", {}, el("span", { class: `light light-${l}`, title: t(`console_light_${l}`) }, t(`console_light_${l}`))),
    el("td", {}, link),
    el("td", {}, c.state_name || c.state),
    el("td", {}, c.title || ""),
    el("td", {}, c.category_code || ""),
    el("td", {}, c.grid_code || ""),
    el("td", {}, c.department?.name || ""),
    el("td", {}, when(c.reported_at)),
    el("td", {}, deadline));
}

function render() {
  const focused = document.activeElement?.closest?.("tr")?.dataset.number;
  const list = sorted(rows);
  tbody.replaceChildren(...(list.length ? list.map(row) : [el("tr", {}, el("td", { colspan: "9" }, t("console_no_cases")))]));
  const counts = { green: 0, yellow: 0, red: 0, none: 0 };
  for (const c of rows) counts[light(c)] = (counts[light(c)] || 0) + 1;
  for (const b of document.querySelectorAll("#light-counts [data-light]")) b.textContent = counts[b.dataset.light] || 0;
  more.hidden = !next;
  if (focused) {
    const again = tbody.querySelector(`tr[data-number="${CSS.escape(focused)}"]`);
    if (again) focusRow(again);
  }
}

async function load({ quiet = false } = {}) {
  if (loading) return;
  loading = true;
  if (!quiet) status.textContent = t("console_loading");
  try {
    const page = await fetchPage();
    rows = page.cases;
    next = page.next;
    render();
    status.textContent = t("console_updated", { time: new Date().toLocaleTimeString() });
  } catch (err) {
    status.textContent = `${t("console_load_failed")} ${err.message}`;
  } finally {
    loading = false;
  }
}

async function loadMore() {
  if (!next || loading) return;
  loading = true;
  try {
    const page = await fetchPage(next);
    rows = rows.concat(page.cases);
    next = page.next;
    render();
  } catch (err) {
    status.textContent = `${t("console_load_failed")} ${err.message}`;
  } finally {
    loading = false;
  }
}

function focusRow(tr) {
  for (const other of tbody.querySelectorAll("tr[tabindex='0']")) other.tabIndex = -1;
  tr.tabIndex = 0;
  tr.focus();
}

tbody.addEventListener("keydown", (event) => {
  const tr = event.target.closest("tr[data-number]");
  if (!tr) return;
  const all = [...tbody.querySelectorAll("tr[data-number]")];
  const i = all.indexOf(tr);
  const go = { ArrowDown: i + 1, j: i + 1, ArrowUp: i - 1, k: i - 1, Home: 0, End: all.length - 1 }[event.key];
  if (go !== undefined) {
    event.preventDefault();
    if (all[go]) focusRow(all[go]);
  } else if (event.key === "Enter") {
    event.preventDefault();
    tr.querySelector("a").click();
  }
});
tbody.addEventListener("click", (event) => {
  const tr = event.target.closest("tr[data-number]");
  if (tr && event.target.tagName !== "A") focusRow(tr);
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  toUrl();
  load();
});
form.addEventListener("reset", () => setTimeout(() => { toUrl(); load(); }));
form.elements.sort.addEventListener("change", () => { toUrl(); render(); });
more.addEventListener("click", loadMore);

fromUrl();
load();
setInterval(() => { if (!document.hidden) load({ quiet: true }); }, refreshSeconds * 1000);
