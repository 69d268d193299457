// Track a report by its code (GET /api/v1/public/reports/{code}): the state in plain words,
// the expected completion date (the handling deadline), the public answers; rate it once.
import { api, el, t, when } from "./lib/page.js";

const form = document.getElementById("track");
const status = document.getElementById("track-status");
const section = document.getElementById("progress");
const rate = document.getElementById("rate");
let code = "";

function show(report) {
  document.getElementById("p-number").textContent = report.number;
  document.getElementById("p-state").textContent = report.state_name;
  document.getElementById("p-expected").textContent =
    report.closed_at ? "—" : report.expected_by ? when(report.expected_by, { date: true }) : t("console_not_yet");
  document.getElementById("p-department").textContent = report.department?.name || t("console_not_yet");
  document.getElementById("p-description").textContent = report.description;
  const answers = report.events.map((e) =>
    el("li", {}, el("time", { datetime: e.at }, when(e.at)), " ", t(`verb_${e.verb}`), e.note ? el("p", { class: "answer" }, e.note) : ""));
  document.getElementById("p-answers").replaceChildren(...answers);
  const rated = document.getElementById("p-rating");
  rate.hidden = !(report.state === "closed" && !report.rating);
  rated.hidden = !report.rating;
  rated.textContent = report.rating ? `${t("console_rated")} ${t(`console_rating_${report.rating}`)}` : "";
  section.hidden = false;
}

async function find() {
  code = form.elements.code.value.trim().toUpperCase();
  if (!code) return;
  history.replaceState(null, "", `?code=${encodeURIComponent(code)}`);
  status.textContent = "";
  try {
    show(await api(`/api/v1/public/reports/${encodeURIComponent(code)}`));
  } catch (err) {
    section.hidden = true;
    status.textContent = err.status === 404 ? t("console_track_none") : err.message;
  }
}

form.addEventListener("submit", (event) => { event.preventDefault(); find(); });
rate.addEventListener("submit", async (event) => {
  event.preventDefault();
  const rating = rate.elements.rating.value;
  if (!rating) return;
  const body = { rating };
  if (rate.elements.note.value.trim()) body.note = rate.elements.note.value.trim();
  try {
    show(await api(`/api/v1/public/reports/${encodeURIComponent(code)}/rating`, { method: "POST", json: body }));
  } catch (err) {
    status.textContent = err.message;
  }
});
if (form.elements.code.value) find();
