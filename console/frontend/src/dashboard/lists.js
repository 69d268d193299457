// The red list: open cases whose running clock is red (overdue) and supervised cases, from
// GET /api/v1/cases with the list's own filters; each links to its case page.
import { api, el, t, when } from "../lib/page.js";

export const LIST_LIMIT = 20;

function item(c, fallback) {
  // a case of the red list without its clock in the answer is red all the same (the list's filter)
  const light = c.clock?.light || fallback;
  return el("li", { dataset: { number: c.number } },
    el("span", { class: `light light-${light}`, title: t(`console_light_${light}`) }, el("span", { class: "visually-hidden" }, t(`console_light_${light}`))),
    el("a", { href: `/console/cases/${encodeURIComponent(c.number)}` }, c.number), " ",
    el("span", { class: "title" }, c.title || c.category_code || ""), " ",
    el("small", {}, [c.state_name || c.state, c.grid_code, c.department?.name].filter(Boolean).join(" · ")),
    c.clock?.due_at ? el("small", { class: c.clock.late || light === "red" ? "late" : "" }, " ", t("dash_due", { when: when(c.clock.due_at) })) : "");
}

/** Fill `list` with the cases of `query` (a query string of GET /api/v1/cases). */
export async function fillList(list, query, fallback = "none") {
  list.dataset.ready = "";
  const data = await api(`/api/v1/cases?${query}&limit=${LIST_LIMIT}`);
  const cases = data.cases || [];
  const items = cases.length ? cases.map((c) => item(c, fallback)) : [el("li", { class: "empty" }, t("console_no_cases"))];
  if (data.next_cursor) items.push(el("li", { class: "more" }, t("dash_list_more", { count: LIST_LIMIT })));
  list.replaceChildren(...items);
  list.dataset.count = String(cases.length);
  list.dataset.ready = "1";
}
