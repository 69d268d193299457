// The leaders' dashboard: the indicators of a period (GET /api/v1/kpi) per department, grid
// (at a level), worker or category as a bar chart and a table, the choropleth of cases per
// grid, the red list and the XLSX export (POST /api/v1/kpi/exports, polled until done).
// Every change of period or grouping, and the refresh button, asks the API again: no figure
// is kept from an earlier answer (only the grid outlines, which do not depend on the period).
import { api, el, t } from "./lib/page.js";
import { presetRange } from "./dashboard/period.js";
import { drawChart } from "./dashboard/chart.js";
import { Choropleth } from "./dashboard/choropleth.js";
import { fillList } from "./dashboard/lists.js";

const form = document.getElementById("dash-form");
const zone = form.dataset.timezone || "Asia/Shanghai";
const $ = (id) => document.getElementById(id);
const period = $("d-period"), from = $("d-from"), to = $("d-to"), by = $("d-by"), level = $("d-level");
const status = $("d-status");
const table = $("d-table");
const showCounts = $("d-counts");
const mapLevel = $("d-map-level"), mapMeasure = $("d-map-measure");

// The indicators of the table: every ratio and the score; with "show counts" every count too.
const RATIOS = ["valid_report_rate", "miss_rate", "on_time_verify_rate", "on_time_check_rate", "on_time_open_rate",
  "accurate_open_rate", "on_time_dispatch_rate", "accurate_dispatch_rate", "handling_rate", "on_time_handling_rate",
  "closing_rate", "on_time_closing_rate", "rework_rate", "overdue_unhandled_rate", "extension_rate", "return_rate",
  "satisfaction_rate", "patrol_coverage_rate"];
const PARTS = { valid_report_rate: ["valid_reports", "reports"], miss_rate: ["missed", "miss_opened"],
  on_time_verify_rate: ["verify_on_time", "verify_due"], on_time_check_rate: ["check_on_time", "check_due"],
  on_time_open_rate: ["opened_on_time", "opened"], accurate_open_rate: ["opened_not_voided", "opened"],
  on_time_dispatch_rate: ["dispatch_on_time", "dispatch_due"], accurate_dispatch_rate: ["dispatched_not_returned", "dispatched"],
  handling_rate: ["handled", "due_handling"], on_time_handling_rate: ["handled_on_time", "due_handling"],
  closing_rate: ["closed", "due_closing"], on_time_closing_rate: ["closed_on_time", "due_closing"],
  rework_rate: ["reworked", "due_closing"], overdue_unhandled_rate: ["overdue_unhandled", "due_handling"],
  extension_rate: ["extended", "due_handling"], return_rate: ["returned", "dispatched"],
  satisfaction_rate: ["satisfied_or_basically", "rated"], patrol_coverage_rate: ["patrol_covered_m2", "patrol_area_m2"] };
const COUNTS = ["reports", "valid_reports", "opened", "opened_on_time", "voided", "opened_not_voided", "miss_opened",
  "missed", "verify_due", "verify_done", "verify_on_time", "dispatch_due", "dispatch_done", "dispatch_on_time",
  "dispatched", "returned", "return_accepted", "dispatched_not_returned", "check_due", "check_done", "check_on_time",
  "due_handling", "handled", "handled_on_time", "overdue_unhandled", "extended", "due_closing", "closed",
  "closed_on_time", "reworked", "rated", "satisfied", "basically_satisfied", "unsatisfied", "satisfied_or_basically",
  "patrol_seconds", "patrol_distance_m", "patrol_covered_m2", "patrol_area_m2"];

/** A ratio as the table shows it (the browser test formats the API's numbers the same way). */
export function percent(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`;
}

function groupLabel(row) {
  if (row.key === null) return t("dash_unattributed");
  if (row.by === "department" || row.by === "worker") return row.name || String(row.code ?? row.key);
  return row.name ? `${row.name} (${row.code ?? row.key})` : String(row.code ?? row.key);
}

function selectedText(select) {
  return select.options[select.selectedIndex]?.textContent || select.value;
}

function groupName() {
  return by.value === "grid" ? selectedText(level) : selectedText(by);
}

function query(params) {
  return new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "")).toString();
}

function tableQuery() {
  return { from: from.value, to: to.value, by: by.value, level: by.value === "grid" ? level.value : null };
}

// --- the table -------------------------------------------------------------------------------

let lastRows = [];

function renderTable(rows) {
  const cols = [...RATIOS, "score", ...(showCounts.checked ? COUNTS : [])];
  const head = el("tr", {}, el("th", { scope: "col" }, groupName()),
    ...cols.map((c) => el("th", { scope: "col", dataset: { col: c } }, t(`kpi_column_${c}`))));
  table.tHead.replaceChildren(head);
  const body = rows.map((row) => el("tr", { dataset: { key: row.key === null ? "" : String(row.key) } },
    el("th", { scope: "row" }, groupLabel(row)),
    ...cols.map((c) => {
      if (c in PARTS) {
        const [num, den] = PARTS[c];
        return el("td", { dataset: { col: c } }, el("span", { class: "v" }, percent(row[c])),
          row[den] ? el("small", { title: t("dash_ratio_of", { num: row[num], den: row[den] }) }, ` ${row[num]}/${row[den]}`) : "");
      }
      if (c === "score") return el("td", { dataset: { col: c } }, el("span", { class: "v" }, row.score === null ? "—" : row.score.toFixed(1)));
      return el("td", { dataset: { col: c } }, el("span", { class: "v" }, String(row[c])));
    })));
  table.tBodies[0].replaceChildren(...(body.length ? body : [el("tr", {}, el("td", { colspan: String(cols.length + 1) }, t("dash_no_rows")))]));
  $("d-caption").textContent = t("dash_table_caption", { group: groupName(), from: from.value, to: to.value });
}

// --- loading ------------------------------------------------------------------------------------

const choropleth = new Choropleth($("d-map"), $("d-map-legend"), $("d-map-table"), $("d-map-status"));
let asked = 0;

async function kpi(params) {
  return api(`/api/v1/kpi?${query(params)}`);
}

async function load() {
  const mine = ++asked;
  if (!from.value || !to.value || from.value > to.value) {
    status.textContent = t("dash_bad_period");
    return;
  }
  table.dataset.ready = "";
  status.textContent = t("console_loading");
  const tq = tableQuery();
  // the map needs counts of cases only: no patrol figures (computed per worker-day from the tracks)
  const mq = { from: from.value, to: to.value, by: "grid", level: mapLevel.value, patrols: "false" };
  const same = tq.by === "grid" && tq.level === mq.level;
  try {
    const [answer, mapAnswer] = await Promise.all([kpi(tq), same ? null : kpi(mq)]);
    if (mine !== asked) return; // a newer question was asked meanwhile
    lastRows = answer.rows;
    renderTable(answer.rows);
    const shown = drawChart($("d-chart"), answer.rows.map((row) => ({ label: groupLabel(row), row })), groupName());
    $("d-chart-note").textContent = answer.rows.length ? t("dash_chart_note", { shown, total: answer.rows.length }) : t("dash_chart_empty");
    status.textContent = t("dash_status", { from: answer.period.from, to: answer.period.to, rows: answer.rows.length, group: groupName() });
    Object.assign(table.dataset, { from: answer.period.from, to: answer.period.to, by: answer.by, level: answer.level || "", ready: "1" });
    const measure = mapMeasure.value;
    await choropleth.draw(mq.level, (mapAnswer || answer).rows, measure, selectedText(mapMeasure));
  } catch (err) {
    if (mine === asked) status.textContent = `${t("console_load_failed")} ${err.message}`;
  }
}

function loadLists() {
  for (const [id, q, light] of [["d-red", "light=red&sort=deadline", "red"], ["d-supervised", "supervised=true", "none"]]) {
    fillList($(id), q, light).catch((err) => { $(id).replaceChildren(el("li", {}, `${t("console_load_failed")} ${err.message}`)); });
  }
}

function applyPreset() {
  const range = presetRange(period.value, zone);
  if (range) [from.value, to.value] = range;
}

// --- the export -----------------------------------------------------------------------------------

const exportButton = $("d-export"), bar = $("d-export-progress"), exportStatus = $("d-export-status"), link = $("d-export-link");

function showExport(s) {
  bar.hidden = false;
  bar.value = Math.round((s.progress || 0) * 100);
  exportStatus.textContent = t(`dash_export_${s.state}`, { done: s.done ?? 0, total: s.total ?? 0, rows: s.rows ?? 0, error: s.error || "" });
}

async function startExport() {
  exportButton.disabled = true;
  link.hidden = true;
  link.removeAttribute("href");
  try {
    let s = await api(`/api/v1/kpi/exports?${query({ ...tableQuery(), format: "xlsx", header: "labels" })}`, { method: "POST" });
    showExport(s);
    while (s.state === "queued" || s.state === "running") {
      await new Promise((resolve) => { setTimeout(resolve, 700); });
      s = await api(`/api/v1/kpi/exports/${encodeURIComponent(s.id)}`);
      showExport(s);
    }
    if (s.state === "done") {
      link.href = s.file_url;
      link.setAttribute("download", s.filename || "");
      link.textContent = `${t("dash_export_done", { rows: s.rows ?? 0 })} ${s.filename || ""}`;
      link.hidden = false;
      link.focus();
    }
  } catch (err) {
    exportStatus.textContent = `${t("console_load_failed")} ${err.message}`;
  } finally {
    exportButton.disabled = false;
  }
}

// --- wiring ---------------------------------------------------------------------------------------

period.addEventListener("change", () => { applyPreset(); load(); });
for (const input of [from, to]) {
  input.addEventListener("change", () => { period.value = "custom"; load(); });
}
by.addEventListener("change", () => { level.disabled = by.value !== "grid"; load(); });
level.addEventListener("change", load);
mapLevel.addEventListener("change", load);
mapMeasure.addEventListener("change", load);
showCounts.addEventListener("change", () => renderTable(lastRows));
form.addEventListener("submit", (event) => { event.preventDefault(); load(); loadLists(); });
exportButton.addEventListener("click", startExport);

applyPreset();
level.disabled = by.value !== "grid";
load();
loadLists();
