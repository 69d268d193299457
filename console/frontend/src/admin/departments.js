// Departments: the list, and one form to add a department or change one (its code stays).
import { api, el, t } from "../lib/page.js";
import { editorForm, optionsOf, panel, renderTable, reporting, statusLine, yes } from "./ui.js";

const KINDS = ["functional", "street_office", "enforcement_team", "dispatch_center"];
const url = (d) => `/api/v1/departments/${encodeURIComponent(d.code)}`;

export default function departments(root) {
  const formBox = panel(root, t("console_admin_department_form"));
  const listBox = panel(root, t("console_admin_departments_list"));
  const status = statusLine(listBox);
  const table = el("div", { id: "departments-table", class: "table-box" });
  listBox.append(table);

  const form = editorForm(formBox, {
    id: "department-form", keyField: "code", focus: "name", defaults: { active: true }, status,
    describe: (d) => `${d.name} (${d.code})`,
    fields: [
      { name: "code", label: t("console_admin_code"), required: true },
      { name: "name", label: t("console_admin_name"), required: true },
      { name: "kind", label: t("console_admin_kind"), type: "select", options: optionsOf(KINDS, "console_dept_kind_") },
      { name: "grid_code", label: t("console_admin_dept_grid"), optional: true },
      { name: "phone", label: t("console_admin_phone"), type: "tel", optional: true },
      { name: "active", label: t("console_admin_active"), type: "checkbox" },
    ],
    create: (values) => api("/api/v1/departments", { method: "POST", json: values }),
    update: (d, values) => api(url(d), { method: "PATCH", json: values }),
    onSaved: () => load(),
  });

  async function load() {
    const rows = await reporting(status, () => api("/api/v1/departments"));
    renderTable(table, {
      caption: t("console_admin_departments_list"), rows, rowId: (d) => d.code,
      columns: [
        { label: t("console_admin_code"), value: (d) => d.code },
        { label: t("console_admin_name"), value: (d) => d.name },
        { label: t("console_admin_kind"), value: (d) => t(`console_dept_kind_${d.kind}`) },
        { label: t("console_admin_dept_grid"), value: (d) => d.grid_code || "" },
        { label: t("console_admin_phone"), value: (d) => d.phone || "" },
        { label: t("console_admin_active"), value: (d) => yes(d.active) },
      ],
      actions: [{ label: () => t("console_admin_edit"), run: (d) => form.edit(d) }],
    });
  }
  return load();
}
