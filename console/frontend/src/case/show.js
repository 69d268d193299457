// The case page's read-only sections, drawn from the API's answers (text only, never HTML).
import { el, t } from "../lib/page.js";
import { timeEl } from "../lib/zoned.js";

const $ = (id) => document.getElementById(id);
const dash = "—";

function fill(id, ...children) {
  const items = children.flat().filter((x) => x !== undefined && x !== null && x !== "");
  $(id).replaceChildren(...(items.length ? items : [dash]));
}

export const caseLink = (number) =>
  el("a", { href: `/console/cases/${encodeURIComponent(number)}`, class: "case-link" }, number);

const capital = (words) => words.charAt(0).toUpperCase() + words.slice(1);
const roleWord = (role) => (role ? t(role === "citizen" || role === "system" ? `console_role_${role}` : `role_${role}`) : "");

function categoryText(code, setup) {
  if (!code) return "";
  const name = setup.category_names[code];
  return name ? `${name} (${code})` : code;
}

/** The grid as "name (code)" and its chain from the district down (GET /api/v1/grids/{code}). */
function gridText(c, grid) {
  if (!c.grid_code) return [];
  if (!grid) return [c.grid_code];
  const chain = (grid.properties.chain || []).map((g) => `${g.name} (${g.code})`);
  return [el("span", { class: "chain" }, chain.length ? chain.join(" › ") : `${grid.properties.name} (${c.grid_code})`)];
}

export function showFacts(c, setup, grid) {
  const light = c.clock?.light || "none";
  $("c-state-badge").textContent = c.state_name || t(`state_${c.state}`);
  const badge = $("c-light-badge");
  badge.className = `light light-${light}`;
  badge.textContent = t(`console_light_${light}`);
  fill("c-tracking", c.tracking_code);
  fill("c-state", c.state_name || t(`state_${c.state}`));
  fill("c-channel", c.channel && t(`console_channel_${c.channel}`));
  fill("c-category", categoryText(c.category_code, setup));
  fill("c-grid", gridText(c, grid));
  fill("c-department", c.department && `${c.department.name} (${c.department.code})`);
  fill("c-suggested", c.suggested_department && `${c.suggested_department.name} (${c.suggested_department.code})`);
  fill("c-title", c.title);
  fill("c-description", c.description && el("span", { class: "prose" }, c.description));
  fill("c-address", c.address);
  const point = c.lon != null && c.lat != null ? `${c.lon.toFixed(6)}, ${c.lat.toFixed(6)} (WGS-84)` : "";
  const original = c.original?.crs && c.original.crs !== "wgs84" && c.original.lon != null
    ? ` · ${c.original.lon.toFixed(6)}, ${c.original.lat.toFixed(6)} (${c.original.crs})` : "";
  fill("c-point", point && point + original);
  const r = c.reporter || {};
  fill("c-reporter", [r.name, r.phone, r.staff_id != null ? t("console_case_reporter_staff", { id: r.staff_id }) : ""]
    .filter(Boolean).join(" · "));
  fill("c-reported", c.reported_at && timeEl(el, c.reported_at));
  fill("c-closed", c.closed_at && timeEl(el, c.closed_at));
  fill("c-supervised", t(c.supervised ? "console_yes" : "console_no"));
  fill("c-rating", c.rating && t(`console_rating_${c.rating}`));
  fill("c-review", c.review_date);
  fill("c-merged", c.merged_into && caseLink(c.merged_into));
}

const FLAGGED = "console_photo_flag_";

export function showPhotos(c) {
  const list = $("c-photos");
  if (!c.photos?.length) {
    list.replaceChildren(el("li", { class: "empty" }, t("console_case_no_photos")));
    return;
  }
  list.replaceChildren(...c.photos.map((p, i) => {
    const what = [p.kind ? t(`console_photo_kind_${p.kind}`) : "", t(`console_photo_source_${p.source}`),
      p.verb ? t(`verb_${p.verb}`) : ""].filter(Boolean).join(" · ");
    const label = t("console_photo_open", { n: i + 1 });
    const img = el("img", { src: p.thumbnail_url, alt: `${label}: ${what}`, loading: "lazy", width: 160, height: 120 });
    // the thumbnail is made in the background: until it is there, the photo itself, else words
    img.addEventListener("error", () => {
      if (img.dataset.full) img.replaceWith(el("span", { class: "no-thumb" }, t("console_photo_no_thumbnail")));
      else { img.dataset.full = "1"; img.src = p.url; }
    });
    let flags;
    if (p.flags === null || p.flags === undefined) flags = [el("li", { class: "flag-none" }, t("console_photo_not_checked"))];
    else if (!p.flags.length) flags = [el("li", { class: "flag-ok" }, t("console_photo_ok"))];
    else flags = p.flags.map((f) => el("li", { class: "flag", dataset: { flag: f } }, t(FLAGGED + f)));
    return el("li", { class: "photo", dataset: { id: String(p.id) } },
      el("a", { href: p.url, target: "_blank", rel: "noopener" }, img),
      el("p", {}, what),
      p.captured_at ? el("p", { class: "hint" }, t("console_photo_captured"), " ", timeEl(el, p.captured_at)) : "",
      p.distance_m != null ? el("p", { class: "hint" }, t("console_photo_distance", { m: Math.round(p.distance_m) })) : "",
      el("ul", { class: "flags" }, flags));
  }));
}

function eventData(e, setup) {
  const d = e.data || {};
  const parts = [];
  if (d.outcome) parts.push(t(`console_outcome_${d.outcome}`));
  if (d.department_code) {
    const dept = setup.departments.find((x) => x.code === d.department_code);
    parts.push(dept ? `${dept.name} (${d.department_code})` : d.department_code);
  }
  if (d.review_date) parts.push(d.review_date);
  if (d.amount != null) parts.push(`+${d.amount} ${d.unit ? t(`console_unit_${d.unit}`) : ""}`.trim());
  if (d.rating) parts.push(t(`console_rating_${d.rating}`));
  if (d.category_code) parts.push(categoryText(d.category_code, setup));
  if (d.grid_code) parts.push(`${t("console_col_grid")} ${d.grid_code}`);
  const links = [d.into, d.with, d.from].filter(Boolean).map(caseLink);
  return [parts.join(" · "), ...links];
}

export function showEvents(c, setup) {
  $("c-events").replaceChildren(...c.events.map((e) => {
    const change = e.from && e.to && e.from !== e.to
      ? t("console_case_state_change", { from: t(`state_${e.from}`), to: t(`state_${e.to}`) }) : "";
    const who = [e.actor?.name, roleWord(e.role)].filter(Boolean).join(" · ");
    const data = eventData(e, setup).filter(Boolean);
    return el("li", { class: "event", dataset: { verb: e.verb } },
      el("div", { class: "event-head" }, timeEl(el, e.at), " ", el("strong", {}, capital(t(`verb_${e.verb}`))),
        who ? el("span", { class: "who" }, who) : "", change ? el("span", { class: "change" }, change) : ""),
      data.length ? el("p", { class: "event-data" }, ...data.flatMap((x, i) => (i ? [" ", x] : [x]))) : "",
      e.note ? el("p", { class: "answer" }, e.note) : "");
  }));
}

export function showClock(c) {
  const k = c.clock;
  if (!k) {
    $("c-clock").replaceChildren(el("dt", {}, t("console_case_no_clock")), el("dd", {}, dash));
    return;
  }
  const light = k.light || "none";
  const rows = [
    ["console_case_stage", t(`console_stage_${k.stage}`)],
    ["console_case_limit", t("console_case_limit_value", { amount: k.amount, unit: t(`console_unit_${k.unit}`) })],
    ["console_case_extended", k.extended ? `+${k.extended} ${t(`console_unit_${k.unit}`)}` : dash],
    ["console_case_started", timeEl(el, k.started_at)],
    ["console_case_warn", k.warn_at ? timeEl(el, k.warn_at) : dash],
    ["console_case_due", k.due_at ? [timeEl(el, k.due_at), k.late || light === "red" ? ` ${t("console_overdue")}` : ""] : dash],
    ["console_case_paused", t(k.paused ? "console_yes" : "console_no")],
    ["console_case_light", el("span", { class: `light light-${light}` }, t(`console_light_${light}`))],
  ];
  if (k.ended_at) rows.push(["console_case_ended", timeEl(el, k.ended_at)]);
  $("c-clock").replaceChildren(...rows.flatMap(([key, value]) =>
    [el("dt", {}, t(key)), el("dd", { dataset: { clock: key.replace("console_case_", "") } }, value)]));
}

/** The routing explanation: GET /api/v1/matrix/explain when the person may ask it, else the
 * reason stored with the case when it was reported. */
export function showRouting(c, explain, may) {
  const list = $("c-routing");
  if (explain) {
    $("c-routing-reason").textContent = explain.reason || "";
    list.replaceChildren(...explain.checked.map((row) => {
      const where = row.grid_code === "*" ? t("scope_everywhere") : `${row.grid_name || ""} (${row.grid_code})`.trim();
      const dept = row.department_code
        ? `${row.department_code}${row.chosen ? ` · ${t("console_case_routing_chosen")}` : ""}` : t("console_case_routing_no_rule");
      return el("li", { class: row.chosen ? "chosen" : "" }, `${where}: ${dept}`);
    }));
    return;
  }
  $("c-routing-reason").textContent = c.suggestion_reason || t("console_case_routing_none");
  list.replaceChildren(...(may ? [] : [el("li", { class: "hint" }, t("console_case_routing_hidden"))]));
}

export function showDuplicates(c, nearby) {
  fill("c-dup-of", c.possible_duplicate_of && [t("console_case_duplicate_of"), " ", caseLink(c.possible_duplicate_of)]);
  const others = (nearby || []).filter((p) => p.number !== c.number);
  $("c-nearby").replaceChildren(...(others.length
    ? others.map((p) => el("li", {}, el("span", { class: `light light-${p.light}` }, t(`console_light_${p.light}`)), " ", caseLink(p.number)))
    : [el("li", { class: "empty" }, t(nearby ? "console_case_nearby_none" : "console_case_nearby_unavailable"))]));
}
