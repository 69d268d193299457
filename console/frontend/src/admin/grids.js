// Grids: the list by level; a GeoJSON import run as a background job (POST
// /api/v1/grids/imports) whose progress is polled until it is done or failed (then every bad
// feature is listed); the topology check (GET /api/v1/grids/check): overlaps, gaps and
// children leaving their parent, listed and drawn over the grid outlines of a level
// (GET /api/v1/map/grids, as on the console's map).
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { api, el, t } from "../lib/page.js";
import { makeForm, optionsOf, renderTable, reporting } from "./ui.js";

const POLL_MS = 500;

export default function grids() {
  const admin = document.getElementById("admin");
  const levels = admin.dataset.levels.split(",");
  const crsChoices = admin.dataset.crs.split(",");

  // --- the map: outlines of a level, problems on top
  const box = document.getElementById("admin-map");
  const map = L.map(box, { attributionControl: false, keyboard: true, maxZoom: 19 }).setView([31.22, 121.48], 11);
  const outlines = L.geoJSON(null, {
    renderer: L.canvas(),
    style: { color: "#2f6f4e", weight: 1, fillColor: "#e8f1eb", fillOpacity: 0.4 },
    onEachFeature: (f, layer) => layer.bindTooltip(`${f.properties.name} (${f.properties.code})`, { sticky: true }),
  }).addTo(map);
  const problems = L.featureGroup().addTo(map);

  // --- the list by level
  const listBox = document.getElementById("grids-table");
  const filter = document.getElementById("grids-filter");
  const level = el("select", { id: "grids-level" }, optionsOf(levels, "console_level_").map(([v, label]) => el("option", { value: v }, label)));
  level.value = "district";
  filter.append(el("div", { class: "filters" }, el("div", {}, el("label", { for: "grids-level" }, t("console_admin_level")), level)));
  const topoStatus = document.getElementById("topology-status");

  async function loadOutlines() {
    box.dataset.gridsReady = "";
    const answer = await api(`/api/v1/map/grids?level=${encodeURIComponent(level.value)}&crs=wgs84`);
    outlines.clearLayers();
    outlines.addData(answer);
    box.dataset.grids = String(outlines.getLayers().length);
    box.dataset.gridsReady = "1";
    if (!problems.getLayers().length && outlines.getLayers().length) map.fitBounds(outlines.getBounds(), { animate: false });
  }

  async function loadList() {
    listBox.dataset.ready = "";
    const answer = await reporting(topoStatus, () => api(`/api/v1/grids?level=${encodeURIComponent(level.value)}&geometry=false`));
    renderTable(listBox, {
      caption: t(`console_level_${level.value}`), rows: answer.features.map((f) => f.properties), rowId: (g) => g.code,
      columns: [
        { label: t("console_admin_grid_code"), value: (g) => g.code },
        { label: t("console_admin_grid_name"), value: (g) => g.name },
        { label: t("console_admin_grid_parent"), value: (g) => g.parent_code || "" },
        { label: t("console_admin_grid_area"), value: (g) => (g.area_m2 == null ? "" : Math.round(g.area_m2).toLocaleString()) },
      ],
    });
  }

  const refresh = () => Promise.all([loadList(), loadOutlines().catch((err) => { topoStatus.textContent = `${t("console_load_failed")} ${err.message}`; })]);
  level.addEventListener("change", refresh);

  // --- topology
  const topoList = document.getElementById("topology-list");
  const topoForm = makeForm(document.getElementById("topology-form"), {
    id: "topology-check", legend: t("console_admin_topology"), submit: t("console_admin_check"),
    fields: [{ name: "min_area_m2", label: t("console_admin_min_area"), type: "number", min: "0", step: "any", omitEmpty: true }],
    onSubmit: (values) => check(values.min_area_m2),
  });
  topoForm.set({ min_area_m2: 1 });

  function describe(kind, p) {
    const area = Math.round(p.area_m2).toLocaleString();
    if (kind === "overlap") return t("console_admin_overlap", { a: p.code_a, b: p.code_b, area });
    if (kind === "gap") return t("console_admin_gap", { parent: p.parent_code || "", area });
    return t("console_admin_escape", { code: p.code, parent: p.parent_code || "", area });
  }

  async function check(minArea) {
    topoList.dataset.ready = "";
    topoStatus.textContent = t("console_loading");
    const query = minArea == null ? "" : `?min_area_m2=${encodeURIComponent(minArea)}`;
    const report = await api(`/api/v1/grids/check${query}`);
    problems.clearLayers();
    const items = [];
    for (const [kind, list] of [["overlap", report.overlaps], ["gap", report.gaps], ["escape", report.escapes]]) {
      for (const p of list) {
        const text = describe(kind, p);
        const layer = p.geometry ? L.geoJSON(p.geometry, { style: { color: "#b3261e", weight: 2, fillColor: "#b3261e", fillOpacity: 0.45 } })
          .bindTooltip(text).addTo(problems) : null;
        const show = el("button", { type: "button", class: "secondary small", "aria-label": `${t("console_admin_show_on_map")}: ${text}` },
          t("console_admin_show_on_map"));
        show.disabled = !layer;
        show.addEventListener("click", () => { map.fitBounds(layer.getBounds(), { maxZoom: 17 }); box.focus(); });
        items.push(el("li", { class: `problem problem-${kind}`, dataset: { kind, codes: [p.code_a, p.code_b, p.code, p.parent_code].filter(Boolean).join(" ") } },
          el("span", {}, text), " ", show));
      }
    }
    topoList.replaceChildren(...items);
    topoStatus.textContent = report.ok ? t("console_admin_topology_ok")
      : t("console_admin_topology_count", { overlaps: report.overlaps.length, gaps: report.gaps.length, escapes: report.escapes.length });
    box.dataset.problems = String(problems.getLayers().length);
    if (problems.getLayers().length) map.fitBounds(problems.getBounds(), { animate: false, maxZoom: 16 });
    topoList.dataset.ready = "1";
  }

  // --- the import
  const progressBox = document.getElementById("import-progress-box");
  const bar = document.getElementById("import-progress");
  const importStatus = document.getElementById("import-status");
  const importProblems = document.getElementById("import-problems");
  const form = makeForm(document.getElementById("import-form"), {
    id: "import", legend: t("console_admin_import"), submit: t("console_admin_import_go"),
    fields: [
      { name: "file", label: t("console_admin_choose_file"), type: "file", accept: ".geojson,.json,application/geo+json,application/json",
        required: true, hint: t("console_admin_import_formats") },
      { name: "crs", label: t("console_admin_crs"), type: "select", options: crsChoices.map((c) => [c, t(`console_admin_crs_${c}`)]) },
      { name: "level", label: t("console_admin_default_level"), type: "select", omitEmpty: true,
        options: [["", t("console_admin_from_file")], ...optionsOf(levels, "console_level_")] },
      { name: "parent", label: t("console_admin_default_parent"), omitEmpty: true },
      { name: "fix", label: t("console_admin_fix"), type: "checkbox" },
      { name: "skip_invalid", label: t("console_admin_skip_invalid"), type: "checkbox" },
    ],
    onSubmit: async (values) => {
      const { file, ...options } = values;
      const body = new FormData();
      if (file) body.append("file", file);
      const query = new URLSearchParams(Object.entries(options).map(([k, v]) => [k, String(v)]));
      importProblems.replaceChildren();
      const job = await api(`/api/v1/grids/imports?${query}`, { method: "POST", form: body });
      await follow(job);
    },
  });

  function show(job) {
    progressBox.hidden = false;
    progressBox.dataset.state = job.state;
    bar.max = Math.max(job.total || 0, 1);
    bar.value = job.done || 0;
    if (job.state === "queued") importStatus.textContent = t("console_admin_import_queued", job);
    else if (job.state === "running") {
      importStatus.textContent = t(job.step === "writing" ? "console_admin_import_writing" : "console_admin_import_validating", job);
    } else if (job.state === "done") {
      importStatus.textContent = t("console_admin_import_done", { ...job.result, total: job.total });
      for (const f of job.result.fixes) importProblems.append(el("li", {}, t("console_admin_import_fixed", { index: f.index + 1, code: f.code || "", what: f.what })));
      for (const p of job.result.skipped_features) importProblems.append(el("li", {}, problemText(p)));
    } else {
      importStatus.textContent = `${t("console_admin_import_failed")} ${job.error?.message || ""}`;
      for (const p of Array.isArray(job.error?.details) ? job.error.details : []) importProblems.append(el("li", { class: "error" }, problemText(p)));
    }
  }

  const problemText = (p) => t("console_admin_import_feature", { index: p.index + 1, code: p.code || "", reason: p.reason_text || p.reason,
    detail: p.detail || "" });

  async function follow(job) {
    show(job);
    while (job.state === "queued" || job.state === "running") {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await api(`/api/v1/grids/imports/${encodeURIComponent(job.id)}`);
      show(job);
    }
    if (job.state === "done") {
      await refresh();
      await check(null);
    }
    importStatus.focus();
  }
  importStatus.tabIndex = -1;
  void form;

  return refresh();
}
