// The responsibility matrix: its rules (filter by category, add or change one, remove one),
// the explain tool (a category and a grid: which department and why, every level checked),
// and CSV import / export.
import { api, el, lang, t } from "../lib/page.js";
import { makeForm, panel, renderTable, reporting, statusLine } from "./ui.js";

export default async function matrix(root) {
  const explainBox = panel(root, t("console_admin_explain"));
  const ruleBox = panel(root, t("console_admin_rule_form"));
  const listBox = panel(root, t("console_admin_rules_list"));
  const csvBox = panel(root, t("console_admin_matrix_csv"));
  const status = statusLine(listBox);
  const [categories, departments] = await reporting(status, () => Promise.all([
    api("/api/v1/categories"), api("/api/v1/departments")]));
  const small = categories.filter((c) => c.parent_code);
  const catName = (c) => (lang === "en" ? c.name_en || c.name_zh : c.name_zh);
  const catOptions = small.map((c) => [c.code, `${catName(c)} (${c.code})`]);

  // --- explain
  const answer = el("div", { id: "explain-answer", class: "explain", "aria-live": "polite" });
  const explain = makeForm(explainBox, {
    id: "explain-form", legend: t("console_admin_explain"), submit: t("console_admin_explain_go"),
    fields: [
      { name: "category", label: t("console_admin_category"), type: "select", options: catOptions },
      { name: "grid", label: t("console_admin_grid_code"), required: true },
    ],
    onSubmit: async (values) => {
      answer.dataset.ready = "";
      const query = new URLSearchParams(values);
      const e = await api(`/api/v1/matrix/explain?${query}`);
      const dept = e.department ? `${e.department.name} (${e.department.code})` : t("console_admin_explain_none");
      const levels = el("div", { class: "table-box" });
      answer.replaceChildren(
        el("p", { id: "explain-department" }, el("b", {}, t("console_admin_explain_department")), " ", dept),
        el("p", { id: "explain-reason" }, e.reason), levels);
      renderTable(levels, {
        caption: t("console_admin_checked_levels"), rows: e.checked,
        columns: [
          { label: t("console_admin_grid_code"), value: (c) => (c.grid_code === "*" ? t("console_admin_everywhere") : c.grid_code) },
          { label: t("console_admin_grid_name"), value: (c) => c.grid_name || "" },
          { label: t("console_admin_level"), value: (c) => (c.level ? t(`console_level_${c.level}`) : "") },
          { label: t("console_admin_department"), value: (c) => c.department_code || "" },
          { label: t("console_admin_chosen"), value: (c) => (c.chosen ? "✔" : "") },
        ],
      });
      answer.dataset.ready = "1";
    },
  });
  explainBox.append(answer);

  // --- rules
  const filter = el("select", { id: "rules-category" }, el("option", { value: "" }, t("console_admin_all")),
    catOptions.map(([v, label]) => el("option", { value: v }, label)));
  listBox.append(el("div", { class: "filters" }, el("div", {}, el("label", { for: "rules-category" }, t("console_admin_category")), filter)));
  const table = el("div", { id: "rules-table", class: "table-box" });
  listBox.append(table);
  filter.addEventListener("change", () => load());

  makeForm(ruleBox, {
    id: "rule-form", legend: t("console_admin_rule_form"), submit: t("console_admin_save"),
    fields: [
      { name: "category_code", label: t("console_admin_category"), type: "select", options: catOptions },
      { name: "grid_code", label: t("console_admin_grid_code"), required: true, hint: t("console_admin_everywhere_hint") },
      { name: "department_code", label: t("console_admin_department"), type: "select",
        options: departments.map((d) => [d.code, `${d.name} (${d.code})`]) },
      { name: "note", label: t("console_admin_note"), optional: true },
    ],
    onSubmit: async (values) => {
      await api("/api/v1/matrix", { method: "POST", json: values });
      status.textContent = t("console_admin_saved");
      filter.value = values.category_code;
      await load();
    },
  });

  async function load() {
    const query = filter.value ? `?category=${encodeURIComponent(filter.value)}` : "";
    const rows = await reporting(status, () => api(`/api/v1/matrix${query}`));
    renderTable(table, {
      caption: t("console_admin_rules_list"), rows, rowId: (r) => `${r.category_code} ${r.grid_code}`,
      columns: [
        { label: t("console_admin_category"), value: (r) => r.category_code },
        { label: t("console_admin_grid_code"), value: (r) => (r.grid_code === "*" ? t("console_admin_everywhere") : r.grid_code) },
        { label: t("console_admin_department"), value: (r) => `${r.department_name} (${r.department_code})` },
        { label: t("console_admin_note"), value: (r) => r.note || "" },
      ],
      actions: [{ label: () => t("console_admin_delete"), run: async (r) => {
        await reporting(status, () => api(`/api/v1/matrix/${r.id}`, { method: "DELETE" }));
        await load();
      } }],
    });
  }

  // --- CSV
  const csvStatus = statusLine(csvBox);
  csvBox.append(el("p", {}, el("a", { href: "/api/v1/matrix/export", id: "matrix-export", download: "matrix.csv" }, t("console_admin_matrix_export"))));
  makeForm(csvBox, {
    id: "matrix-import", legend: t("console_admin_matrix_import"), submit: t("console_admin_import_go"),
    fields: [
      { name: "file", label: t("console_admin_choose_file"), type: "file", accept: ".csv,text/csv", required: true },
      { name: "replace", label: t("console_admin_matrix_replace"), type: "checkbox" },
    ],
    onSubmit: async (values) => {
      const form = new FormData();
      if (values.file) form.append("file", values.file);
      const r = await api(`/api/v1/matrix/import?replace=${values.replace}`, { method: "POST", form });
      csvStatus.textContent = t("console_admin_matrix_imported", r);
      await load();
    },
  });
  return load();
}
