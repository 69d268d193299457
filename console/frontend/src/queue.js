// The case queue: GET /api/v1/cases with the filters of the form (search, day range, sort) and
// GET /api/v1/cases/counts beside it (counts per light of every matching case, not only the
// rows loaded), refreshed by polling without a page reload, and keyboard navigation of the
// rows (roving tabindex). A refresh keeps the rows loaded so far, the selected row, the
// keyboard focus and the scroll position.
import { api, el, t, when } from "./lib/page.js";

const form = document.getElementById("filters");
const table = document.getElementById("queue");
const tbody = table.querySelector("tbody");
const status = document.getElementById("status");
const more = document.getElementById("more");
const PAGE = 50;
const MAX_PAGE = 500; // the API's largest page: a refresh asks for what is loaded, up to this
const refreshSeconds = Number(status.dataset.refresh) || 30;
let rows = [];
let next = null; // how to ask for the next page: {cursor} or {offset}
let selected = null; // the number of the row holding the table's tab stop
let loading = false;
let loads = 0; // completed loads, shown as #queue[data-ready] for tests

function filters() {
  const params = {};
  for (const [k, v] of new FormData(form)) if (typeof v === "string" && v.trim() && k !== "sort") params[k] = v.trim();
  return params;
}

function sort() {
  return form.elements.sort.value;
}

function fromUrl() {
  const q = new URLSearchParams(location.search);
  for (const field of form.elements) if (field.name && q.has(field.name)) field.value = q.get(field.name);
}

function toUrl() {
  const q = new URLSearchParams(filters());
  if (sort() !== "newest") q.set("sort", sort());
  const keep = new URLSearchParams(location.search);
  for (const name of ["lang", "refresh"]) if (keep.has(name)) q.set(name, keep.get(name));
  history.replaceState(null, "", q.size ? `?${q}` : location.pathname);
}

// The list API is moving from offset to keyset (cursor) pages: follow whichever it answers.
function nextPage(data, asked) {
  const cursor = data.next_cursor ?? data.next ?? data.cursor?.next ?? null;
  if (cursor) return { cursor };
  const got = (data.cases || data.items || []).length;
  return got >= PAGE && !("next_cursor" in data) ? { offset: (asked.offset || 0) + got } : null;
}

async function fetchPage(page = {}, limit = PAGE) {
  const query = new URLSearchParams({ ...filters(), sort: sort(), limit: String(limit), ...page });
  const data = await api(`/api/v1/cases?${query}`);
  return { cases: data.cases || data.items || [], next: nextPage(data, page) };
}

async function fetchCounts() {
  return api(`/api/v1/cases/counts?${new URLSearchParams(filters())}`);
}

function light(c) {
  return c.clock?.light || "none";
}

function row(c) {
  const l = light(c);
  const link = el("a", { href: `/console/cases/${encodeURIComponent(c.number)}`, tabindex: "-1" }, c.number);
  const deadline = c.clock?.due_at
    ? el("span", { class: c.clock.late ? "late" : "" }, when(c.clock.due_at), c.clock.late ? ` ${t("console_overdue")}` : "")
    : "";
  return el("tr", { tabindex: c.number === selected ? "0" : "-1", dataset: { number: c.number }, "aria-label": `${c.number} ${c.state_name || c.state}` },
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
  const focused = tbody.contains(document.activeElement) ? document.activeElement.closest("tr")?.dataset.number : null;
  const scroll = [window.scrollX, window.scrollY];
  if (!rows.some((c) => c.number === selected)) selected = rows[0]?.number ?? null;
  tbody.replaceChildren(...(rows.length ? rows.map(row) : [el("tr", {}, el("td", { colspan: "9" }, t("console_no_cases")))]));
  more.hidden = !next;
  if (focused) {
    const again = tbody.querySelector(`tr[data-number="${CSS.escape(focused)}"]`) || tbody.querySelector(`tr[tabindex="0"]`);
    if (again) select(again, { preventScroll: true });
  }
  window.scrollTo(...scroll); // rows replaced in place: the page does not jump
}

// a number that stopped at the server's cap (counts.capped names them) is shown as "10000+";
// one the server did not count (null: "none" when the total is over the cap) as "—"
function countText(counts, name, n) {
  if (n === null) return "—";
  return `${n ?? 0}${(counts.capped || []).includes(name) ? "+" : ""}`;
}

function showCounts(counts) {
  for (const b of document.querySelectorAll("#light-counts [data-light]")) {
    b.textContent = countText(counts, b.dataset.light, counts.lights?.[b.dataset.light]);
  }
  document.getElementById("count-total").textContent = countText(counts, "total", counts.total);
}

function showError(err) {
  // a 422 names the fields: say which, and mark them
  const fields = err.body?.fields || {};
  for (const field of form.elements) if (field.name) field.toggleAttribute("aria-invalid", field.name in fields);
  const said = Object.entries(fields).map(([name, msgs]) => {
    const label = form.elements[name]?.labels?.[0]?.textContent || name;
    return `${label}: ${[].concat(msgs).join(" ")}`;
  });
  status.textContent = `${t("console_load_failed")} ${said.length ? said.join("; ") : err.message}`;
}

// A load asked for while another runs (a search typed during a refresh) is not dropped: it
// runs when the first ends, and the first's answer, already stale, is not drawn.
let pending = null;

async function load({ quiet = false } = {}) {
  if (loading) {
    pending = { quiet: quiet && (pending?.quiet ?? true) };
    return;
  }
  loading = true;
  table.setAttribute("aria-busy", "true");
  if (!quiet) status.textContent = t("console_loading");
  try {
    // a refresh asks again for every row loaded so far (one request, up to MAX_PAGE)
    const limit = quiet ? Math.min(MAX_PAGE, Math.max(PAGE, rows.length)) : PAGE;
    const [page, counts] = await Promise.all([fetchPage({}, limit), fetchCounts()]);
    if (pending) return;
    rows = page.cases;
    next = page.next;
    render();
    showCounts(counts);
    for (const field of form.elements) field.removeAttribute?.("aria-invalid");
    status.textContent = `${t("console_updated", { time: new Date().toLocaleTimeString() })} ${t("console_shown", { shown: rows.length, total: counts.total })}`;
  } catch (err) {
    if (!pending) showError(err);
  } finally {
    loading = false;
    if (pending) {
      const again = pending;
      pending = null;
      load(again);
    } else {
      table.setAttribute("aria-busy", "false");
      table.dataset.ready = String(++loads);
    }
  }
}

async function loadMore() {
  if (!next || loading) return;
  loading = true;
  try {
    const page = await fetchPage(next);
    const known = new Set(rows.map((c) => c.number));
    rows = rows.concat(page.cases.filter((c) => !known.has(c.number)));
    next = page.next;
    render();
  } catch (err) {
    showError(err);
  } finally {
    loading = false;
    table.dataset.ready = String(++loads);
    if (pending) {
      const again = pending;
      pending = null;
      load(again);
    }
  }
}

function select(tr, options = {}) {
  for (const other of tbody.querySelectorAll("tr[tabindex='0']")) other.tabIndex = -1;
  tr.tabIndex = 0;
  selected = tr.dataset.number;
  tr.focus(options);
}

tbody.addEventListener("keydown", (event) => {
  const tr = event.target.closest("tr[data-number]");
  if (!tr) return;
  const all = [...tbody.querySelectorAll("tr[data-number]")];
  const i = all.indexOf(tr);
  const go = { ArrowDown: i + 1, j: i + 1, ArrowUp: i - 1, k: i - 1, Home: 0, End: all.length - 1 }[event.key];
  if (go !== undefined) {
    event.preventDefault();
    if (all[go]) select(all[go]);
  } else if (event.key === "Enter") {
    event.preventDefault();
    tr.querySelector("a").click();
  }
});
tbody.addEventListener("click", (event) => {
  const tr = event.target.closest("tr[data-number]");
  if (tr && event.target.tagName !== "A") select(tr);
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  toUrl();
  load();
});
form.addEventListener("reset", () => setTimeout(() => { toUrl(); load(); }));
form.elements.sort.addEventListener("change", () => { toUrl(); load(); });
more.addEventListener("click", loadMore);

fromUrl();
load();
// Polling, not server-sent events: the API runs on gunicorn's sync workers, where each open
// event stream would hold a worker, and proxies buffer or cut long responses (docs/console.md).
setInterval(() => { if (!document.hidden) load({ quiet: true }); }, refreshSeconds * 1000);
