// The console's map: grid outlines of the chosen level as the base map (or the configured
// tiles underneath), open cases from GET /api/v1/map/cases for the current view: pins coloured
// by light (a popup links to the case) and the server's clusters when dense (a click zooms in).
// Every coordinate comes from the API in the map's system (data-crs: the tiles' one).
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { api, el, t } from "./lib/page.js";

const LIGHTS = ["red", "yellow", "green", "none"];
const box = document.getElementById("map");
const crs = box.dataset.crs || "wgs84";
const status = document.getElementById("map-status");
const level = document.getElementById("m-level");

const map = L.map(box, { attributionControl: Boolean(box.dataset.tileUrl), keyboard: true, maxZoom: 19 })
  .setView([31.22, 121.48], 12);
if (box.dataset.tileUrl) {
  L.tileLayer(box.dataset.tileUrl, { maxZoom: 19, subdomains: box.dataset.tileSubdomains || "abc",
    attribution: box.dataset.tileAttribution || "" }).addTo(map);
}
const outlines = L.geoJSON(null, {
  renderer: L.canvas(),
  style: { color: "#2f6f4e", weight: 1, fillColor: "#e8f1eb", fillOpacity: box.dataset.tileUrl ? 0.1 : 0.5 },
  onEachFeature: (feature, layer) => layer.bindTooltip(`${feature.properties.name} (${feature.properties.code})`, { sticky: true }),
}).addTo(map);
const cases = L.layerGroup().addTo(map);
let fitted = false;

async function loadOutlines() {
  box.dataset.gridsReady = "";
  const answer = await api(`/api/v1/map/grids?level=${encodeURIComponent(level.value)}&crs=${crs}`);
  outlines.clearLayers();
  outlines.addData(answer);
  if (!fitted && outlines.getLayers().length) {
    fitted = true;
    map.fitBounds(outlines.getBounds(), { animate: false });
  }
  box.dataset.grids = String(outlines.getLayers().length);
  box.dataset.gridsReady = "1";
}

function worst(counts) {
  return LIGHTS.find((x) => counts[x] > 0) || "none";
}

function pinOf(pin) {
  const name = `${pin.number} · ${t(`console_light_${pin.light}`)}`;
  const icon = L.divIcon({ className: `map-pin light-${pin.light}`, iconSize: [16, 16], html: "" });
  const marker = L.marker([pin.lat, pin.lon], { icon, title: name, alt: name, keyboard: true });
  marker.bindPopup(() => el("div", { class: "map-popup" },
    el("a", { href: `/console/cases/${encodeURIComponent(pin.number)}`, class: "map-case-link" }, pin.number),
    el("div", { class: `light light-${pin.light}` }, t(`console_light_${pin.light}`)),
    el("div", {}, t("console_casemap_open_case"))));
  marker.on("add", () => { marker.getElement().dataset.number = pin.number; });
  return marker;
}

function clusterOf(cluster) {
  const label = t("console_casemap_cluster", { count: cluster.count });
  const size = cluster.count < 100 ? 30 : cluster.count < 1000 ? 38 : 46;
  const icon = L.divIcon({ className: `map-cluster light-${worst(cluster)}`, iconSize: [size, size],
    html: `<span>${Number(cluster.count)}</span>` });
  const marker = L.marker([cluster.lat, cluster.lon], { icon, title: label, alt: label, keyboard: true });
  const [w, s, e, n] = cluster.bbox;
  marker.on("click", () => map.fitBounds([[s, w], [n, e]]));
  marker.on("add", () => { marker.getElement().dataset.count = String(cluster.count); });
  return marker;
}

let asked = 0;
async function loadCases() {
  const mine = ++asked;
  const b = map.getBounds();
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const bbox = [clamp(b.getWest(), -180, 179.999), clamp(b.getSouth(), -90, 89.999),
    clamp(b.getEast(), -179.999, 180), clamp(b.getNorth(), -89.999, 90)].map((v) => v.toFixed(6)).join(",");
  status.textContent = t("console_loading");
  try {
    const answer = await api(`/api/v1/map/cases?bbox=${bbox}&zoom=${Math.round(map.getZoom())}&crs=${crs}`);
    if (mine !== asked) return; // a newer view was asked for meanwhile
    cases.clearLayers();
    const counts = { red: 0, yellow: 0, green: 0, none: 0 };
    for (const pin of answer.pins) { cases.addLayer(pinOf(pin)); counts[pin.light] += 1; }
    for (const cluster of answer.clusters) {
      cases.addLayer(clusterOf(cluster));
      for (const x of LIGHTS) counts[x] += cluster[x];
    }
    for (const x of LIGHTS) {
      const cell = document.querySelector(`#map-counts [data-light="${x}"]`);
      if (cell) cell.textContent = String(counts[x]);
    }
    status.textContent = t("console_casemap_status", { total: answer.total, pins: answer.pins.length, clusters: answer.clusters.length });
    box.dataset.pins = String(answer.pins.length);
    box.dataset.clusters = String(answer.clusters.length);
    box.dataset.zoom = String(map.getZoom());
    box.dataset.pinsReady = "1";
  } catch (err) {
    if (mine === asked) status.textContent = `${t("console_load_failed")} ${err.message}`;
  }
}

// Every change of view ends in one request for the final view (a pan or a zoom animation
// fires many events; the answer to an older view is dropped).
let timer = null;
function schedule() {
  box.dataset.pinsReady = "";
  clearTimeout(timer);
  timer = setTimeout(loadCases, 150);
}
map.on("moveend", schedule);
level.addEventListener("change", () => loadOutlines().catch((err) => { status.textContent = `${t("console_load_failed")} ${err.message}`; }));

loadOutlines()
  .catch((err) => { status.textContent = `${t("console_load_failed")} ${err.message}`; })
  .finally(schedule);
