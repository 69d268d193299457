// Departments: the list, and one form to add a department or change one (its code stays).
import { api, el, t } from "../lib/page.js";
import { makeForm, optionsOf, panel, renderTable, reporting, statusLine, yes } from "./ui.js";

const KINDS = ["functional", "street_office", "enforcement_team", "dispatch_center"];

export default function departments(root) {
  const formBox = panel(root, t("console_admin_department_form"));
  const listBox = panel(root, t("console_admin_departments_list"));
  const status = statusLine(listBox);
  const table = el("div", { id: "departments-table", class: "table-box" });
  listBox.append(table);
  let editing = null;

  const cancel = el("button", { type: "button", class: "secondary", id: "department-cancel", hidden: true }, t("console_admin_cancel"));
  const form = makeForm(formBox, {
    id: "department-form", legend: t("console_admin_add"), submit: t("console_admin_save"),
    fields: [
      { name: "code", label: t("console_admin_code"), required: true },
      { name: "name", label: t("console_admin_name"), required: true },
      { name: "kind", label: t("console_admin_kind"), type: "select", options: optionsOf(KINDS, "console_dept_kind_") },
      { name: "grid_code", label: t("console_admin_dept_grid"), optional: true },
      { name: "phone", label: t("console_admin_phone"), type: "tel", optional: true },
      { name: "active", label: t("console_admin_active"), type: "checkbox" },
    ],
    extraButtons: [cancel],
    onSubmit: async (values) => {
      if (editing) {
        delete values.code;
        await api(`/api/v1/departments/${encodeURIComponent(editing)}`, { method: "PATCH", json: values });
      } else {
        await api("/api/v1/departments", { method: "POST", json: values });
      }
      status.textContent = t("console_admin_saved");
      reset();
      await load();
    },
  });
  const legend = form.form.querySelector("legend");

  function reset() {
    editing = null;
    form.form.reset();
    form.set({ active: true });
    form.inputs.code.readOnly = false;
    legend.textContent = t("console_admin_add");
    cancel.hidden = true;
  }
  cancel.addEventListener("click", () => { form.clear(); reset(); });

  function edit(dept) {
    editing = dept.code;
    form.clear();
    form.set(dept);
    form.inputs.code.readOnly = true;
    legend.textContent = t("console_admin_edit_of", { what: `${dept.name} (${dept.code})` });
    cancel.hidden = false;
    form.inputs.name.focus();
  }

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
      actions: [{ label: () => t("console_admin_edit"), run: edit }],
    });
  }
  reset();
  return load();
}
