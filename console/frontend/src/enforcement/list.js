// The list of referrals: GET /api/v1/enforcement with the form's filters (open ones by default,
// those waiting to be accepted first), the counts per stage (GET /api/v1/enforcement/counts;
// a count is a button that filters by its stage). A row's numbers are links (Tab, Enter); a
// click anywhere else on the row opens the referral too.
import { api, el, t } from "../lib/page.js";
import { API, category, categoryNames, deadline, enfLink, lightBadge, place, stageName, stageOrder } from "./common.js";

const PAGE = 100;

export function listPage() {
  const form = document.getElementById("enf-filters");
  const table = document.getElementById("enf-list");
  const tbody = table.querySelector("tbody");
  const status = document.getElementById("enf-status");
  const more = document.getElementById("enf-more");
  let rows = [];
  let offset = 0;
  let names = new Map();

  function query(extra = {}) {
    const q = new URLSearchParams();
    const f = form.elements;
    if (f.stage.value) q.set("stage", f.stage.value);
    else q.set("open", "true");
    if (f.light.value) q.set("light", f.light.value);
    if (f.group.value.trim()) q.set("group", f.group.value.trim());
    q.set("limit", String(PAGE));
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return q;
  }

  function fromUrl() {
    const q = new URLSearchParams(location.search);
    for (const name of ["stage", "light", "group"]) if (q.has(name)) form.elements[name].value = q.get(name);
  }

  function toUrl() {
    const q = query();
    q.delete("limit");
    q.delete("open");
    history.replaceState(null, "", q.size ? `?${q}` : location.pathname);
  }

  // Waiting referrals (accept) first, then each later stage; within a stage the soonest deadline first.
  function sorted(list) {
    const due = (e) => (e.stage_due_at ? Date.parse(e.stage_due_at) : Infinity);
    return [...list].sort((a, b) => stageOrder.indexOf(a.stage) - stageOrder.indexOf(b.stage) || due(a) - due(b));
  }

  function row(e) {
    const officers = e.officers.length ? e.officers.map((o) => o.name).join(document.documentElement.lang === "en" ? ", " : "、") : "";
    return el("tr", { dataset: { number: e.number, stage: e.stage } },
    el("td", {}, lightBadge(e.light)),
    el("td", {}, enfLink(e.number)),
    el("td", {}, stageName(e.stage)),
    el("td", {}, el("a", { href: `/console/cases/${encodeURIComponent(e.parent.number)}` }, e.parent.number),
      e.parent.title ? el("div", { class: "hint" }, e.parent.title) : ""),
    el("td", {}, category(names, e.parent.category_code)),
    el("td", {}, place(e.parent), e.group_id ? el("div", { class: "hint" }, t("console_enf_joint", { id: e.group_id })) : ""),
    el("td", {}, officers || el("span", { class: "hint" }, t("console_enf_no_officers"))),
    el("td", {}, deadline(e)));
  }

  function render() {
    const list = sorted(rows);
    tbody.replaceChildren(...(list.length ? list.map(row)
      : [el("tr", {}, el("td", { colspan: "8" }, t("console_enf_none")))]));
    const stage = form.elements.stage.value;
    for (const b of document.querySelectorAll("#stage-counts button")) b.setAttribute("aria-pressed", String(b.dataset.stage === stage));
  }

  async function counts() {
    const d = await api(`${API}/counts`);
    for (const b of document.querySelectorAll("#stage-counts [data-count]")) b.textContent = d.counts[b.dataset.count] ?? 0;
  }

  async function load() {
    status.textContent = t("console_loading");
    table.dataset.ready = "0";
    try {
      names = await categoryNames();
      const [d] = await Promise.all([api(`${API}?${query()}`), counts()]);
      rows = d.enforcement_cases;
      offset = rows.length;
      more.hidden = rows.length < PAGE;
      render();
      status.textContent = t("console_updated", { time: new Date().toLocaleTimeString() });
    } catch (err) {
      status.textContent = `${t("console_load_failed")} ${err.message}`;
    } finally {
      table.dataset.ready = "1";
    }
  }

  async function loadMore() {
    try {
      const d = await api(`${API}?${query({ offset: String(offset) })}`);
      rows = rows.concat(d.enforcement_cases);
      offset += d.enforcement_cases.length;
      more.hidden = d.enforcement_cases.length < PAGE;
      render();
    } catch (err) {
      status.textContent = `${t("console_load_failed")} ${err.message}`;
    }
  }

  tbody.addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-number]");
    if (tr && !event.target.closest("a")) location.assign(tr.querySelector("a").href);
  });
  for (const b of document.querySelectorAll("#stage-counts button")) {
    b.addEventListener("click", () => {
      form.elements.stage.value = b.dataset.stage === form.elements.stage.value ? "" : b.dataset.stage;
      toUrl();
      load();
    });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    toUrl();
    load();
  });
  form.addEventListener("reset", () => setTimeout(() => { toUrl(); load(); }));
  more.addEventListener("click", loadMore);
  fromUrl();
  return { ready: load(), reload: load };
}
