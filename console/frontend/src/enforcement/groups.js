// Joint-visit groups (GET /api/v1/enforcement/groups): referrals of one team at one place within
// a window, which the API groups by itself. The team leader names the same officers for every
// open referral of a group at once (POST /{number}/officers with whole_group: one visit).
import { api, el, t, when } from "../lib/page.js";
import { API, caseLink, chosen, enfLink, officerChoices, place, stageName, submit, teamOfficers } from "./common.js";

const SEP = document.documentElement.lang === "en" ? ", " : "、";

function memberRow(m) {
  return el("tr", { dataset: { number: m.number } },
    el("td", {}, enfLink(m.number)),
    el("td", {}, stageName(m.stage)),
    el("td", {}, caseLink(m.parent.number)),
    el("td", {}, m.officers.map((o) => o.name).join(SEP) || el("span", { class: "hint" }, t("console_enf_no_officers"))));
}

function membersTable(group) {
  return el("table", { class: "queue enf-members" },
    el("caption", { class: "visually-hidden" }, t("console_enf_group_members", { id: group.id })),
    el("thead", {}, el("tr", {}, ...["console_enf_col_number", "console_enf_col_stage", "console_enf_col_source",
      "console_enf_col_officers"].map((k) => el("th", { scope: "col" }, t(k))))),
    el("tbody", {}, group.members.map(memberRow)));
}

function assignForm(group, officers, status, reload) {
  const open = group.members.filter((m) => m.stage !== "closed");
  if (!open.length) return null;
  const first = open[0];
  const choices = el("div", { class: "choices" });
  officerChoices(choices, officers, first.officers.map((o) => o.id), `g${group.id}-officer`);
  const errorId = `g${group.id}-error`;
  const form = el("form", { class: "stack enf-group-form", dataset: { group: String(group.id) }, novalidate: true },
    el("fieldset", { "aria-describedby": errorId },
      el("legend", {}, t("console_enf_assign_legend")), choices),
    el("p", { class: "error", id: errorId, "aria-live": "assertive" }),
    el("div", {}, el("button", { type: "submit" }, t("console_enf_group_assign", { count: open.length }))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ok = await submit(form, status, () => api(`${API}/${encodeURIComponent(first.number)}/officers`, {
      method: "POST", json: { staff_ids: chosen(form), whole_group: true } }), t("console_enf_group_assigned", { id: group.id }));
    if (ok) reload(t("console_enf_group_assigned", { id: group.id }));
  });
  return form;
}

function groupCard(group, officers, status, reload) {
  const heading = t("console_enf_group_title", { id: group.id, place: place(group) });
  return el("article", { class: "enf-group", dataset: { group: String(group.id) }, "aria-label": heading },
    el("h3", {}, heading),
    el("p", { class: "hint" }, t("console_enf_group_window", { from: when(group.opened_at), to: when(group.window_ends_at), size: group.size })),
    membersTable(group),
    el("p", {}, el("a", { href: `?group=${group.id}` }, t("console_enf_group_list"))),
    officers.length ? assignForm(group, officers, status, reload) : null);
}

/** Draw the groups; `reload` runs after a change (the list's officers change too). */
export async function groupsSection(reloadList) {
  const box = document.getElementById("group-list");
  const status = document.getElementById("groups-status");
  async function load(message = "") {
    box.dataset.ready = "0";
    status.textContent = t("console_loading");
    try {
      const [d, officers] = await Promise.all([api(`${API}/groups`), teamOfficers()]);
      const reload = (done) => { load(done); reloadList(); };
      box.replaceChildren(...(d.groups.length ? d.groups.map((g) => groupCard(g, officers, status, reload))
        : [el("p", { class: "hint" }, t("console_enf_no_groups"))]));
      status.textContent = message;
    } catch (err) {
      status.textContent = `${t("console_load_failed")} ${err.message}`;
    } finally {
      box.dataset.ready = "1";
    }
  }
  return load();
}
