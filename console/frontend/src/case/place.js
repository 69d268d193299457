// The new place of a case (relocate): a point tapped on a small map whose base layer is the
// grid outlines (GET /api/v1/map/grids, as on the map page), sent as lon, lat in WGS-84; or a
// grid chosen from a list and an address typed in (the keyboard's way, and the way when the
// place has no point). One request for the outlines serves the map and the list.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { api, el, t } from "../lib/page.js";

let outlines = null;
function loadOutlines() {
  outlines ??= api("/api/v1/map/grids?level=grid&crs=wgs84").catch((err) => { outlines = null; throw err; });
  return outlines;
}

function drawMap(box, ctx, choose) {
  const c = ctx.case;
  const map = L.map(box, { attributionControl: false, zoomControl: false, keyboard: true, maxZoom: 19 });
  L.control.zoom({ zoomInTitle: t("console_case_zoom_in"), zoomOutTitle: t("console_case_zoom_out") }).addTo(map);
  const here = c.lat != null && c.lon != null ? [c.lat, c.lon] : [31.22, 121.48];
  map.setView(here, 16);
  const layer = L.geoJSON(null, {
    renderer: L.canvas(),
    style: { color: "#2f6f4e", weight: 1, fillColor: "#e8f1eb", fillOpacity: 0.5 },
    onEachFeature: (f, l) => l.bindTooltip(`${f.properties.name} (${f.properties.code})`, { sticky: true }),
  }).addTo(map);
  if (c.lat != null) {
    L.circleMarker(here, { radius: 6, color: "#1f5fa8", fillOpacity: 0.8, interactive: false }).addTo(map);
  }
  let marker = null;
  const pick = (latlng) => {
    if (marker) marker.setLatLng(latlng);
    else marker = L.circleMarker(latlng, { radius: 8, color: "#b3261e", fillOpacity: 0.9, interactive: false }).addTo(map);
    choose(latlng.lng, latlng.lat);
  };
  map.on("click", (e) => pick(e.latlng));
  // the keyboard: arrows move the map, Enter chooses its centre (marked by the cross-hair)
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); pick(map.getCenter()); }
  });
  loadOutlines().then((answer) => {
    layer.addData(answer);
    box.dataset.gridsReady = "1";
  }).catch(() => { box.dataset.gridsReady = "failed"; });
  return map;
}

export function placeField(verb, field, ctx, { id, error }) {
  const byPoint = `${id}-point`;
  const byGrid = `${id}-grid`;
  const mapHint = `${id}-map-hint`;
  const chosen = el("p", { class: "status", role: "status", "aria-live": "polite", id: `${id}-chosen` }, t("console_case_point_none"));
  const box = el("div", { class: "pick-map", id: `${id}-map`, role: "region", tabindex: "0",
    "aria-label": t("console_case_relocate_map"), "aria-describedby": mapHint });
  const gridSelect = el("select", { id: `${id}-grid-code`, name: "grid_code" }, el("option", { value: "" }, t("console_case_choose")));
  const address = el("input", { id: `${id}-address`, name: "address", type: "text", maxlength: 200 });
  const pointPart = el("div", { class: "place-point" }, el("p", { class: "hint", id: mapHint }, t("console_case_relocate_hint")), box, chosen);
  const gridPart = el("div", { class: "place-grid", hidden: true },
    el("label", { for: gridSelect.id }, t("console_col_grid")), gridSelect,
    el("label", { for: address.id }, t("console_case_address")), address);
  const radio = (rid, value, words, checked) => el("span", { class: "choice" },
    el("input", { type: "radio", name: `${id}-how`, id: rid, value, checked: checked ? true : undefined }),
    el("label", { for: rid }, words));
  const how = el("fieldset", { class: "choices", id, "aria-describedby": error.id },
    el("legend", {}, field.label, " ", el("small", { class: "req" }, t("console_case_required"))),
    radio(byPoint, "point", t("console_case_relocate_by_point"), true),
    radio(byGrid, "grid", t("console_case_relocate_by_grid"), false));
  let point = null;
  let map = null;
  how.addEventListener("change", () => {
    const grid = how.querySelector("input:checked").value === "grid";
    pointPart.hidden = grid;
    gridPart.hidden = !grid;
  });
  // the map is drawn once its box is on screen (the form is a closed disclosure at first)
  new ResizeObserver(() => {
    if (!box.offsetWidth) return;
    if (map) map.invalidateSize();
    else map = drawMap(box, ctx, (lon, lat) => {
      point = { lon: Number(lon.toFixed(6)), lat: Number(lat.toFixed(6)) };
      chosen.textContent = t("console_case_point_chosen", { lon: point.lon, lat: point.lat });
      box.dataset.lon = String(point.lon);
      box.dataset.lat = String(point.lat);
    });
  }).observe(box);
  if (ctx.setup.may.grids) {
    loadOutlines().then((answer) => {
      const grids = answer.features.map((f) => f.properties).sort((a, b) => a.code.localeCompare(b.code));
      for (const g of grids) gridSelect.append(el("option", { value: g.code, selected: g.code === ctx.case.grid_code ? true : undefined }, `${g.name} (${g.code})`));
    }).catch((err) => { chosen.textContent = `${t("console_case_grids_failed")} ${err.message}`; });
  }
  const value = () => {
    if (how.querySelector("input:checked").value === "grid") {
      const out = {};
      if (gridSelect.value) out.grid_code = gridSelect.value;
      if (address.value.trim()) out.address = address.value.trim();
      return out;
    }
    return point ? { ...point } : {};
  };
  return { node: el("div", { class: "field place" }, how, pointPart, gridPart, error), error, field: how, value,
    names: ["lon", "lat", "grid_code", "address", "place"] };
}
