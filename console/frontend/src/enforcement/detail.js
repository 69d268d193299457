// One referral: GET /api/v1/enforcement/{number}; the stages as a stepper; its officers (the team
// leader names them: POST /officers); the step to the next stage, its form built from the
// lifecycle table (POST /advance); the records (POST /records); the group at the same place.
// Every change sends the version it was made on: someone else's change in between is a 409
// shown beside the form, never overwritten.
import { api, el, t, when } from "../lib/page.js";
import {
  API, caseLink, category, categoryNames, chosen, clearError, data, deadline, enfLink, life, lightBadge,
  officerChoices, place, stageName, submit, teamOfficers,
} from "./common.js";

const SEP = document.documentElement.lang === "en" ? ", " : "、";

export function detailPage() {
  const root = document.getElementById("enf-case");
  const number = root.dataset.number;
  const status = document.getElementById("enf-status");
  const officersForm = document.getElementById("officers-form");
  const recordForm = document.getElementById("record-form");
  const url = `${API}/${encodeURIComponent(number)}`;
  let enf = null;
  let names = new Map();
  let team = [];
  const people = new Map([[data.me, data.me_name]]);

  // A name the page knows (me, the team's officers), else the role the record names, else the id.
  function who(id, role) {
    return people.get(id) || (role ? t(`role_${role}`) : t("console_enf_actor", { id }));
  }

  function stepper() {
    const current = enf.stage;
    const at = life.stages.findIndex((s) => s.code === current);
    document.getElementById("enf-stepper").replaceChildren(...life.stages.map((s, i) => {
      const state = i < at ? "done" : i === at ? "current" : "todo";
      return el("li", { class: `step step-${state}`, dataset: { stage: s.code }, "aria-current": i === at ? "step" : null },
        el("span", { class: "step-name" }, s.name),
        el("span", { class: "visually-hidden" }, ` (${t(`console_enf_${state}`)})`));
    }));
  }

  function facts() {
    const p = enf.parent;
    const items = [
      ["console_enf_col_stage", stageName(enf.stage)],
      ["console_col_light", lightBadge(enf.light)],
      ["console_col_deadline", deadline(enf) || "—"],
      ["console_enf_limit", enf.limit ? t(`console_enf_unit_${enf.limit.unit}`, { amount: enf.limit.amount }) : "—"],
      ["console_enf_stage_since", when(enf.stage_started_at)],
      ["console_enf_col_source", [caseLink(p.number), ` ${p.state_name || p.state}`]],
      ["console_col_title", p.title || "—"],
      ["console_col_category", category(names, p.category_code) || "—"],
      ["console_enf_col_place", place(p)],
      ["console_enf_reason", enf.reason || "—"],
      ["console_enf_team", enf.team?.name || ""],
      ["console_enf_referred_at", when(enf.created_at)],
    ];
    if (enf.decision) items.push(["console_enf_decision", enf.decision]);
    if (enf.penalty_amount != null) items.push(["console_enf_field_penalty_amount", String(enf.penalty_amount)]);
    if (enf.outcome) items.push(["console_enf_outcome", enf.outcome]);
    if (enf.closed_at) items.push(["console_enf_closed_at", when(enf.closed_at)]);
    document.getElementById("enf-facts").replaceChildren(...items.flatMap(([key, value]) =>
      [el("dt", {}, t(key)), el("dd", { dataset: { fact: key } }, value)]));
  }

  function officersPanel() {
    document.getElementById("enf-officers").replaceChildren(...(enf.officers.length
      ? enf.officers.map((o) => el("li", { dataset: { officer: String(o.id) } }, o.name))
      : [el("li", { class: "hint" }, t("console_enf_no_officers"))]));
    const mayAssign = data.team_leader && enf.stage !== life.closed && team.length > 0;
    officersForm.hidden = !mayAssign;
    if (!mayAssign) return;
    officerChoices(document.getElementById("officer-choices"), team, enf.officers.map((o) => o.id));
    const whole = document.getElementById("whole-group");
    whole.closest("label").hidden = !enf.group?.members?.length;
    whole.checked = false;
  }

  function field(f) {
    const id = `advance-${f.name}`;
    const control = f.type === "number"
      ? el("input", { id, name: f.name, type: "number", min: "0", step: "0.01", inputmode: "decimal" })
      : el("textarea", { id, name: f.name, rows: "3", maxlength: "5000", required: f.required,
        "aria-required": f.required ? "true" : null });
    return [el("label", { for: id }, f.label, f.required ? el("span", { class: "req" }, ` ${t("console_enf_required")}`) : ""), control];
  }

  function advancePanel() {
    const box = document.getElementById("advance-box");
    const step = life.steps[enf.stage];
    if (!step) {
      box.replaceChildren(el("p", {}, t("console_enf_closed_note")));
      return;
    }
    const lead = el("p", {}, t("console_enf_who_advances", { to: stageName(step.to), roles: step.roles.join(SEP) }));
    if (!enf.next_stage?.you_may_advance) {
      box.replaceChildren(lead);
      return;
    }
    const form = el("form", { id: "advance-form", class: "stack", novalidate: true, dataset: { to: step.to } },
      ...step.fields.flatMap(field),
      step.officers_first && !enf.officers.length ? el("p", { class: "hint" }, t("console_enf_officers_first")) : "",
      el("p", { class: "error", id: "advance-error", "aria-live": "assertive" }),
      el("div", {}, el("button", { type: "submit" }, step.label)));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { to_stage: step.to, expected_version: enf.version };
      for (const f of step.fields) {
        const value = form.elements[f.name].value.trim();
        if (value === "") continue;
        body[f.name] = f.type === "number" ? Number(value) : value;
      }
      const result = await submit(form, status, () => api(`${url}/advance`, { method: "POST", json: body }),
        t("console_enf_advanced", { stage: stageName(step.to) }));
      if (result) {
        show(result);
        document.getElementById("stages-title").focus();
      }
    });
    box.replaceChildren(lead, form);
  }

  function recordItem(r) {
    const bits = [];
    if (r.from_stage && r.to_stage && r.from_stage !== r.to_stage) bits.push(`${stageName(r.from_stage)} → ${stageName(r.to_stage)}`);
    const d = r.data || {};
    if (d.penalty_amount != null) bits.push(`${t("console_enf_penalty")} ${d.penalty_amount}`);
    if (d.late) bits.push(t("console_enf_late"));
    if (d.added?.length) bits.push(`${t("console_enf_added")} ${d.added.map((id) => who(id)).join(SEP)}`);
    if (d.removed?.length) bits.push(`${t("console_enf_removed")} ${d.removed.map((id) => who(id)).join(SEP)}`);
    return el("li", { dataset: { kind: r.kind, record: String(r.id) } },
      el("div", { class: "record-head" }, el("b", {}, t(`console_enf_record_${r.kind}`)), " · ",
        el("time", { datetime: r.at }, when(r.at)), r.actor_id ? ` · ${who(r.actor_id, d.role)}` : ""),
      bits.length ? el("div", { class: "hint" }, bits.join(" · ")) : "",
      r.note ? el("p", { class: "record-note" }, r.note) : "");
  }

  function recordsPanel() {
    document.getElementById("enf-records").replaceChildren(...(enf.records.length ? enf.records.map(recordItem)
      : [el("li", { class: "hint" }, t("console_enf_no_records"))]));
    const kinds = life.records.filter((k) => k.stages.includes(enf.stage));
    const mine = data.team_leader || enf.officers.some((o) => o.id === data.me);
    recordForm.hidden = !(kinds.length && mine);
    const select = recordForm.elements.kind;
    const keep = select.value;
    select.replaceChildren(...kinds.map((k) => el("option", { value: k.kind }, k.label)));
    if (kinds.some((k) => k.kind === keep)) select.value = keep;
  }

  function groupPanel() {
    const section = document.getElementById("enf-group");
    const g = enf.group;
    section.hidden = !g?.members?.length;
    if (section.hidden) return;
    document.getElementById("enf-group-body").replaceChildren(
      el("p", {}, t("console_enf_same_place", { id: g.id, size: g.size, place: place(g) })),
      el("ul", {}, g.members.map((m) => el("li", {}, enfLink(m.number), ` ${stageName(m.stage)} · `, caseLink(m.parent.number)))),
      el("p", {}, el("a", { href: `/console/enforcement?group=${g.id}` }, t("console_enf_group_list"))));
  }

  function show(result) {
    enf = result;
    for (const o of enf.officers) people.set(o.id, o.name);
    root.dataset.stage = enf.stage;
    root.dataset.version = String(enf.version);
    stepper();
    facts();
    officersPanel();
    advancePanel();
    recordsPanel();
    groupPanel();
    root.dataset.ready = "1";
  }

  officersForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { staff_ids: chosen(officersForm), whole_group: officersForm.elements.whole_group.checked,
      expected_version: enf.version };
    const result = await submit(officersForm, status, () => api(`${url}/officers`, { method: "POST", json: body }),
      t("console_enf_assigned"));
    if (result) show(result);
  });
  recordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { kind: recordForm.elements.kind.value, note: recordForm.elements.note.value, expected_version: enf.version };
    const result = await submit(recordForm, status, () => api(`${url}/records`, { method: "POST", json: body }),
      t("console_enf_recorded"));
    if (result) {
      recordForm.elements.note.value = "";
      show(result);
    }
  });

  async function load() {
    status.textContent = t("console_loading");
    try {
      const [result, n, officers] = await Promise.all([api(url), categoryNames(), teamOfficers().catch(() => [])]);
      names = n;
      team = officers;
      for (const o of team) people.set(o.id, o.name);
      clearError(officersForm);
      clearError(recordForm);
      show(result);
      status.textContent = "";
    } catch (err) {
      status.textContent = `${t("console_load_failed")} ${err.message}`;
      root.dataset.ready = "error";
    }
  }
  return load();
}
