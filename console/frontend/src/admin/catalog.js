// The catalog: categories (add, change) and each one's time limits per stage: the limit in
// force and where it comes from; set the category's own limit, or remove it (inherit again).
import { api, el, lang, t } from "../lib/page.js";
import { editorForm, makeForm, optionsOf, panel, renderTable, reporting, statusLine, yes } from "./ui.js";

const KINDS = ["component", "event"];

export default async function catalog(root) {
  const admin = document.getElementById("admin");
  const stages = admin.dataset.stages.split(",");
  const units = admin.dataset.units.split(",");
  const limitsBox = panel(root, t("console_admin_limits"));
  limitsBox.hidden = true;
  const limitsTitle = limitsBox.querySelector("h2");
  const limitsStatus = statusLine(limitsBox);
  const limitsTable = el("div", { id: "limits-table", class: "table-box" });
  limitsBox.append(limitsTable);
  const formBox = panel(root, t("console_admin_category_form"));
  const listBox = panel(root, t("console_admin_categories_list"));
  const status = statusLine(listBox);
  const table = el("div", { id: "categories-table", class: "table-box" });
  listBox.append(table);
  let categories = [];
  let current = null; // the category whose limits are shown

  const name = (c) => (lang === "en" ? c.name_en || c.name_zh : c.name_zh);

  const limitForm = makeForm(limitsBox, {
    id: "limit-form", legend: t("console_admin_limit_form"), submit: t("console_admin_set_limit"),
    fields: [
      { name: "stage", label: t("console_admin_stage"), type: "select", options: optionsOf(stages, "console_stage_") },
      { name: "amount", label: t("console_admin_amount"), type: "number", step: "any", min: "0", required: true },
      { name: "unit", label: t("console_admin_unit"), type: "select", options: optionsOf(units, "console_unit_") },
    ],
    onSubmit: async (values) => {
      await api(`/api/v1/categories/${encodeURIComponent(current.code)}/limits`, { method: "PUT", json: values });
      limitsStatus.textContent = t("console_admin_saved");
      await showLimits(current);
    },
  });

  async function showLimits(category) {
    current = category;
    limitsBox.hidden = false;
    limitsTitle.textContent = t("console_admin_limits_of", { what: `${name(category)} (${category.code})` });
    const rows = await reporting(limitsStatus, () => api(`/api/v1/categories/${encodeURIComponent(category.code)}/limits`));
    const from = (r) => (r.from === category.code ? t("console_admin_limit_own")
      : r.from === "*" || !r.from ? t("console_admin_limit_default") : r.from);
    renderTable(limitsTable, {
      caption: limitsTitle.textContent, rows, rowId: (r) => t(`console_stage_${r.stage}`),
      columns: [
        { label: t("console_admin_stage"), value: (r) => t(`console_stage_${r.stage}`) },
        { label: t("console_admin_amount"), value: (r) => String(r.amount) },
        { label: t("console_admin_unit"), value: (r) => t(`console_unit_${r.unit}`) },
        { label: t("console_admin_limit_from"), value: from },
      ],
      actions: [
        { label: () => t("console_admin_edit"), run: (r) => { limitForm.set(r); limitForm.inputs.amount.focus(); } },
        { label: () => t("console_admin_remove_own"), when: (r) => r.from === category.code, run: async (r) => {
          await reporting(limitsStatus, () => api(`/api/v1/categories/${encodeURIComponent(category.code)}/limits/${r.stage}`,
            { method: "DELETE" }));
          await showLimits(category);
        } },
      ],
    });
    limitsBox.dataset.category = category.code;
  }

  const form = editorForm(formBox, {
    id: "category-form", keyField: "code", focus: "name_zh", defaults: { active: true, auto_dispatch: false }, status,
    describe: (c) => `${name(c)} (${c.code})`,
    fields: [
      { name: "code", label: t("console_admin_code"), required: true },
      { name: "kind", label: t("console_admin_kind"), type: "select", options: optionsOf(KINDS, "console_cat_kind_") },
      { name: "parent_code", label: t("console_admin_parent_category"), type: "select", optional: true, options: [] },
      { name: "name_zh", label: t("console_admin_name_zh"), required: true },
      { name: "name_en", label: t("console_admin_name_en"), optional: true },
      { name: "sort", label: t("console_admin_sort"), type: "number", step: "1", omitEmpty: true },
      { name: "auto_dispatch", label: t("console_admin_auto_dispatch"), type: "checkbox" },
      { name: "active", label: t("console_admin_active"), type: "checkbox" },
    ],
    create: (values) => api("/api/v1/categories", { method: "POST", json: values }),
    update: (c, values) => api(`/api/v1/categories/${encodeURIComponent(c.code)}`, { method: "PATCH", json: values }),
    onSaved: () => load(),
  });
  const edit = (c) => form.edit(c, { ...c, parent_code: c.parent_code || "" });

  function parents() {
    form.inputs.parent_code.replaceChildren(el("option", { value: "" }, t("console_admin_none")),
      categories.filter((c) => !c.parent_code).map((c) => el("option", { value: c.code }, `${name(c)} (${c.code})`)));
  }

  async function load() {
    categories = await reporting(status, () => api("/api/v1/categories"));
    parents();
    renderTable(table, {
      caption: t("console_admin_categories_list"), rows: categories, rowId: (c) => c.code,
      columns: [
        { label: t("console_admin_code"), value: (c) => c.code },
        { label: t("console_admin_name"), value: name },
        { label: t("console_admin_kind"), value: (c) => t(`console_cat_kind_${c.kind}`) },
        { label: t("console_admin_parent_category"), value: (c) => c.parent_code || "" },
        { label: t("console_admin_auto_dispatch"), value: (c) => yes(c.auto_dispatch) },
        { label: t("console_admin_active"), value: (c) => yes(c.active) },
      ],
      actions: [
        { label: () => t("console_admin_limits"), run: (c) => showLimits(c).then(() => limitForm.inputs.stage.focus()) },
        { label: () => t("console_admin_edit"), run: edit },
      ],
    });
  }
  return load();
}
