// What the enforcement pages share: the lifecycle table the server passed, stage names, the
// deadline light, category names (GET /api/v1/categories), the team's officers
// (GET /api/v1/enforcement/officers) and errors shown beside the form that caused them.
import { api, el, lang, t, when } from "../lib/page.js";

export const API = "/api/v1/enforcement";
export const data = JSON.parse(document.getElementById("enf-data")?.textContent || "{}");
export const life = data.lifecycle || { stages: [], steps: {}, records: [], open: [], closed: "closed" };
export const stageOrder = life.stages.map((s) => s.code);

export function stageName(code) {
  return life.stages.find((s) => s.code === code)?.name || code;
}

export function lightBadge(light) {
  const l = light || "none";
  return el("span", { class: `light light-${l}` }, t(`console_light_${l}`));
}

export function deadline(enf) {
  if (!enf.stage_due_at) return "";
  const late = enf.light === "red";
  return el("span", { class: late ? "late" : "" }, when(enf.stage_due_at), late ? ` ${t("console_overdue")}` : "");
}

export function place(parent) {
  if (parent?.address) return parent.address;
  if (parent?.lon != null && parent?.lat != null) return `${parent.lon.toFixed(5)}, ${parent.lat.toFixed(5)}`;
  return t("console_enf_place_none");
}

export function caseLink(number) {
  return el("a", { href: `/console/cases/${encodeURIComponent(number)}` }, number);
}

export function enfLink(number, attrs = {}) {
  return el("a", { href: `/console/enforcement/${encodeURIComponent(number)}`, ...attrs }, number);
}

let categories = null;

/** Category code -> name in the page's language (the catalog API; codes alone if it fails). */
export async function categoryNames() {
  if (!categories) {
    categories = api("/api/v1/categories").then(
      (rows) => new Map(rows.map((c) => [c.code, (lang === "en" && c.name_en) || c.name_zh])),
      () => new Map());
  }
  return categories;
}

export function category(names, code) {
  if (!code) return "";
  const name = names.get(code);
  return name ? `${code} ${name}` : code;
}

let officers = null;

/** The officers the team leader may name; [] for anyone else (the page is read-only for them). */
export async function teamOfficers() {
  if (!data.team_leader) return [];
  if (!officers) officers = api(`${API}/officers`).then((d) => d.officers || []);
  return officers;
}

/** A fieldset of one labelled checkbox per officer; `checked`: the ids already named. */
export function officerChoices(container, list, checked = [], prefix = "officer") {
  const ids = new Set(checked);
  container.replaceChildren(...(list.length ? list.map((o) => {
    const id = `${prefix}-${o.id}`;
    return el("div", { class: "choice" },
      el("input", { type: "checkbox", id, name: "staff_ids", value: String(o.id), checked: ids.has(o.id) }),
      el("label", { for: id }, o.name));
  }) : [el("p", { class: "hint" }, t("console_enf_no_officers"))]));
}

export function chosen(form) {
  return [...form.querySelectorAll('input[name="staff_ids"]:checked')].map((i) => Number(i.value));
}

/** Clear a form's error line and its fields' aria-invalid. */
export function clearError(form) {
  form.querySelector(".error").textContent = "";
  for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
}

/** The API's error beside the form: its message, then each named field's messages; the
 * fields it names are marked invalid and the first one is focused. */
export function showError(form, err) {
  const line = form.querySelector(".error");
  const parts = [err.message];
  const fields = err.body?.fields || {};
  let first = null;
  for (const [name, messages] of Object.entries(fields)) {
    parts.push(`${name}: ${[].concat(messages).join(" ")}`);
    const field = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (field) {
      field.setAttribute("aria-invalid", "true");
      first = first || field;
    }
  }
  line.textContent = parts.join(" · ");
  (first || line).focus?.();
}

/** Send a form's change: disable its buttons meanwhile, say so in the status line, show errors beside it. */
export async function submit(form, status, call, done) {
  clearError(form);
  const buttons = [...form.querySelectorAll("button")];
  buttons.forEach((b) => { b.disabled = true; });
  status.textContent = t("console_enf_saving");
  try {
    const result = await call();
    status.textContent = done;
    return result;
  } catch (err) {
    showError(form, err);
    status.textContent = `${t("console_load_failed")} ${err.message}`;
    return null;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}
