// The citizen's report: a Leaflet map whose base layer is the grid outlines (no tile server),
// a place from the browser's position or a tap, photos uploaded first for one-time tokens,
// then POST /api/v1/public/reports, which answers the tracking code.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { api, t } from "./lib/page.js";

const form = document.getElementById("report");
const status = document.getElementById("report-status");
const where = document.getElementById("location-status");
const lon = document.getElementById("lon");
const lat = document.getElementById("lat");
const idempotencyKey = crypto.randomUUID ? crypto.randomUUID() : `web-${Date.now()}-${Math.random().toString(36).slice(2)}`;

const map = L.map("map", { zoomControl: true, attributionControl: false, keyboard: true }).setView([31.22, 121.48], 13);
let pin = null;

function place(latlng, words) {
  lon.value = latlng.lng.toFixed(6);
  lat.value = latlng.lat.toFixed(6);
  if (pin) pin.setLatLng(latlng);
  else pin = L.circleMarker(latlng, { radius: 9, color: "#b3261e", weight: 3, fillOpacity: 0.6 }).addTo(map);
  where.textContent = `${words} (${lat.value}, ${lon.value})`;
}

api("/api/v1/public/grids").then((outlines) => {
  const layer = L.geoJSON(outlines, {
    style: { color: "#2f6f4e", weight: 1, fillColor: "#e8f1eb", fillOpacity: 0.5 },
    onEachFeature: (feature, l) => l.bindTooltip(feature.properties.name, { sticky: true }),
  }).addTo(map);
  if (layer.getLayers().length) map.fitBounds(layer.getBounds());
  document.getElementById("map").dataset.ready = String(layer.getLayers().length);
}).catch(() => { document.getElementById("map").dataset.ready = "0"; });

map.on("click", (event) => place(event.latlng, t("console_location_set")));

document.getElementById("locate").addEventListener("click", () => {
  if (!navigator.geolocation) { where.textContent = t("console_location_failed"); return; }
  where.textContent = t("console_locating");
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      const latlng = L.latLng(pos.coords.latitude, pos.coords.longitude);
      place(latlng, t("console_location_set"));
      map.setView(latlng, Math.max(map.getZoom(), 16));
    },
    () => { where.textContent = t("console_location_failed"); },
    { enableHighAccuracy: true, timeout: 15000 });
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const description = form.elements.description.value.trim();
  if (!description) {
    status.textContent = t("console_need_description");
    form.elements.description.setAttribute("aria-invalid", "true");
    form.elements.description.focus();
    return;
  }
  form.elements.description.removeAttribute("aria-invalid");
  const send = document.getElementById("send");
  send.disabled = true;
  try {
    const photos = [];
    const files = [...form.elements.photos.files];
    for (const [i, file] of files.entries()) {
      status.textContent = t("console_uploading_photo", { n: i + 1, total: files.length });
      const data = new FormData();
      data.append("file", file);
      photos.push((await api("/api/v1/public/photos", { method: "POST", form: data })).upload_token);
    }
    status.textContent = t("console_sending");
    const body = { description, photos };
    for (const name of ["category_code", "address", "name", "phone"]) {
      const value = form.elements[name].value.trim();
      if (value) body[name] = value;
    }
    if (lon.value && lat.value) Object.assign(body, { lon: Number(lon.value), lat: Number(lat.value), crs: "wgs84" });
    const receipt = await api("/api/v1/public/reports", { method: "POST", json: body, headers: { "Idempotency-Key": idempotencyKey } });
    form.hidden = true;
    const section = document.getElementById("receipt");
    document.getElementById("tracking-code").textContent = receipt.tracking_code;
    document.getElementById("track-it").href = `/citizen/track?code=${encodeURIComponent(receipt.tracking_code)}`;
    section.hidden = false;
    section.querySelector("h2").setAttribute("tabindex", "-1");
    section.querySelector("h2").focus();
  } catch (err) {
    status.textContent = `${t("console_send_failed")} ${err.message}`;
    send.disabled = false;
  }
});
