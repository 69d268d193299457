// The choropleth: the grids of one level (GET /api/v1/map/grids) filled by a count of the
// period per grid (GET /api/v1/kpi?by=grid&level=), five classes and a legend.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { api, el, t } from "../lib/page.js";

const PALETTE = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
const ZERO = "#f2f2f2";
const outlinesByLevel = new Map(); // outlines do not change with the period: asked once per level

/** Class limits: five equal steps of whole numbers from 1 to the largest count. */
export function classes(max) {
  if (max <= 0) return [];
  const step = Math.max(1, Math.ceil(max / PALETTE.length));
  const out = [];
  for (let lo = 1, i = 0; lo <= max && i < PALETTE.length; lo += step, i += 1) {
    out.push({ lo, hi: Math.min(lo + step - 1, max), color: PALETTE[i] });
  }
  return out;
}

function colorOf(value, limits) {
  if (!value) return ZERO;
  return (limits.find((c) => value <= c.hi) || limits[limits.length - 1]).color;
}

export class Choropleth {
  constructor(box, legend, table, status) {
    this.box = box;
    this.legend = legend;
    this.table = table;
    this.status = status;
    this.map = L.map(box, { attributionControl: false, keyboard: true, maxZoom: 19 }).setView([31.22, 121.48], 12);
    this.layer = L.geoJSON(null, { renderer: L.canvas() }).addTo(this.map);
    this.fitted = "";
  }

  async outlines(level) {
    if (!outlinesByLevel.has(level)) {
      outlinesByLevel.set(level, api(`/api/v1/map/grids?level=${encodeURIComponent(level)}`)
        .catch((err) => { outlinesByLevel.delete(level); throw err; }));
    }
    return outlinesByLevel.get(level);
  }

  /** Draw `level`'s grids coloured by `measure` of `rows` (KPI rows keyed by grid code). */
  async draw(level, rows, measure, measureName) {
    this.box.dataset.ready = "";
    const shapes = await this.outlines(level);
    const value = new Map(rows.filter((r) => r.key !== null).map((r) => [r.key, r[measure] || 0]));
    const max = Math.max(0, ...shapes.features.map((f) => value.get(f.properties.code) || 0));
    const limits = classes(max);
    this.layer.clearLayers();
    this.layer.options.style = (f) => ({ color: "#555", weight: 1, fillOpacity: 0.8,
      fillColor: colorOf(value.get(f.properties.code) || 0, limits) });
    this.layer.options.onEachFeature = (f, layer) => layer.bindTooltip(t("dash_map_tooltip",
      { name: f.properties.name, code: f.properties.code, measure: measureName, count: value.get(f.properties.code) || 0 }), { sticky: true });
    this.layer.addData(shapes);
    if (this.fitted !== level && this.layer.getLayers().length) {
      this.fitted = level;
      this.map.fitBounds(this.layer.getBounds(), { animate: false });
    }
    const entries = [el("li", {}, el("span", { class: "swatch", style: `background:${ZERO}`, "aria-hidden": "true" }), t("dash_legend_zero"))];
    for (const c of limits) {
      entries.push(el("li", { dataset: { lo: String(c.lo), hi: String(c.hi) } },
        el("span", { class: "swatch", style: `background:${c.color}`, "aria-hidden": "true" }),
        c.lo === c.hi ? String(c.lo) : t("dash_legend_range", { lo: c.lo, hi: c.hi })));
    }
    this.legend.replaceChildren(...entries);
    const drawn = shapes.features.map((f) => ({ code: f.properties.code, name: f.properties.name, n: value.get(f.properties.code) || 0 }))
      .sort((a, b) => b.n - a.n || a.code.localeCompare(b.code));
    this.table.querySelector("tbody").replaceChildren(...drawn.map((d) => el("tr", { dataset: { code: d.code } },
      el("td", {}, d.name), el("td", {}, d.code), el("td", {}, String(d.n)))));
    this.table.querySelector("#d-map-table-measure").textContent = measureName;
    const coloured = drawn.filter((d) => d.n > 0).length;
    this.status.textContent = t("dash_map_status", { grids: drawn.length, coloured, measure: measureName, max });
    Object.assign(this.box.dataset, { grids: String(drawn.length), coloured: String(coloured), max: String(max), level, ready: "1" });
  }
}
