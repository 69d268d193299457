// One case, read-only: GET /api/v1/cases/{number}. (Actions come with the full case page.)
import { api, el, t, when } from "./lib/page.js";

const number = document.getElementById("case-number").dataset.number;
const status = document.getElementById("case-status");
const set = (id, text) => { document.getElementById(id).textContent = text || "—"; };

async function show() {
  try {
  status.textContent = t("console_loading");
  const c = await api(`/api/v1/cases/${encodeURIComponent(number)}`);
  const light = c.clock?.light || "none";
  set("c-state", c.state_name || c.state);
  set("c-light", t(`console_light_${light}`));
  set("c-deadline", c.clock?.due_at ? `${when(c.clock.due_at)}${c.clock.late ? ` ${t("console_overdue")}` : ""}` : "");
  set("c-category", c.category_code);
  set("c-grid", c.grid_code);
  set("c-department", c.department?.name);
  set("c-description", c.description);
  set("c-reported", when(c.reported_at));
  document.getElementById("c-events").replaceChildren(...c.events.map((e) =>
    el("li", {}, el("time", { datetime: e.at }, when(e.at)), " ", e.verb, e.actor ? ` · ${e.actor.name}` : "",
      e.note ? el("p", { class: "answer" }, e.note) : "")));
  status.textContent = "";
  } catch (err) {
    status.textContent = `${t("console_load_failed")} ${err.message}`;
  }
}

show();
