// Staff: the list; one form to create an account or change one (roles, department, a new
// password resets it and signs the person out, active); deactivate; grid assignments.
import { api, el, t, when } from "../lib/page.js";
import { editorForm, makeForm, panel, renderTable, reporting, statusLine, yes } from "./ui.js";

const ROLES = ["grid_worker", "intake_clerk", "shift_leader", "dispatcher", "department_handler",
  "enforcement_leader", "enforcement_officer", "leader", "admin"];

export default async function staff(root) {
  const formBox = panel(root, t("console_admin_staff_form"));
  const assignBox = panel(root, t("console_admin_assignments"));
  assignBox.hidden = true;
  const listBox = panel(root, t("console_admin_staff_list"));
  const status = statusLine(listBox);
  const table = el("div", { id: "staff-table", class: "table-box" });
  listBox.append(table);
  let editing = null; // the person whose grids are shown
  const passwordLabel = () => document.querySelector('label[for="staff-form-password"]');

  const departments = await reporting(status, () => api("/api/v1/departments"));
  const form = editorForm(formBox, {
    id: "staff-form", keyField: "username", focus: "name", status,
    defaults: { active: true, language: "zh", roles: [] },
    describe: (s) => `${s.name} (${s.username})`,
    fields: [
      { name: "username", label: t("console_admin_username"), required: true, autocomplete: "off" },
      { name: "name", label: t("console_admin_name"), required: true },
      { name: "phone", label: t("console_admin_phone"), type: "tel", optional: true },
      { name: "password", label: t("console_admin_password"), type: "password", omitEmpty: true,
        autocomplete: "new-password", hint: t("console_admin_password_hint") },
      { name: "roles", label: t("console_admin_roles"), type: "checks", options: ROLES.map((r) => [r, t(`role_${r}`)]) },
      { name: "department_code", label: t("console_admin_department"), type: "select", optional: true,
        options: [["", t("console_admin_none")], ...departments.map((d) => [d.code, `${d.name} (${d.code})`])] },
      { name: "language", label: t("console_admin_language"), type: "select",
        options: [["zh", t("console_lang_zh")], ["en", t("console_lang_en")]] },
      { name: "active", label: t("console_admin_active"), type: "checkbox" },
    ],
    create: (values) => api("/api/v1/staff", { method: "POST", json: values }),
    update: (person, values) => api(`/api/v1/staff/${person.id}`, { method: "PATCH", json: values }),
    onSaved: () => load(),
    onEdit: (person) => {
      editing = person;
      passwordLabel().textContent = t("console_admin_new_password");
      return showAssignments();
    },
    onReset: () => {
      editing = null;
      passwordLabel().textContent = t("console_admin_password");
      assignBox.hidden = true;
    },
  });
  const edit = (person) => form.edit(person, { ...person, department_code: person.department?.code || "", password: "" });

  // Grid assignments of the person being edited: end one, or assign a grid from now.
  const assignTable = el("div", { id: "assignments-table", class: "table-box" });
  const assignStatus = statusLine(assignBox);
  assignBox.append(assignTable);
  const assign = makeForm(assignBox, {
    id: "assign-form", legend: t("console_admin_assign_grid"), submit: t("console_admin_assign"),
    fields: [{ name: "grid_code", label: t("console_admin_assign_grid"), required: true }],
    onSubmit: async (values) => {
      await api(`/api/v1/staff/${editing.id}/assignments`, { method: "POST", json: values });
      assign.form.reset();
      await showAssignments();
    },
  });

  async function showAssignments() {
    assignBox.hidden = false;
    const detail = await reporting(assignStatus, () => api(`/api/v1/staff/${editing.id}`));
    const current = detail.assignments.filter((a) => !a.valid_to || new Date(a.valid_to) > new Date());
    renderTable(assignTable, {
      caption: t("console_admin_assignments"), rows: current, rowId: (a) => a.grid_code,
      columns: [
        { label: t("console_admin_assign_grid"), value: (a) => a.grid_code },
        { label: t("console_admin_assignment_since"), value: (a) => when(a.valid_from) },
      ],
      actions: [{ label: () => t("console_admin_end"), run: async (a) => {
        await reporting(assignStatus, () => api(`/api/v1/staff/${editing.id}/assignments/${a.id}`, { method: "DELETE" }));
        await showAssignments();
      } }],
    });
  }

  async function deactivate(person) {
    await reporting(status, () => api(`/api/v1/staff/${person.id}`, { method: "PATCH", json: { active: false } }));
    status.textContent = t("console_admin_saved");
    await load();
  }

  async function load() {
    const rows = await reporting(status, () => api("/api/v1/staff"));
    renderTable(table, {
      caption: t("console_admin_staff_list"), rows, rowId: (s) => s.username,
      columns: [
        { label: t("console_admin_username"), value: (s) => s.username },
        { label: t("console_admin_name"), value: (s) => s.name },
        { label: t("console_admin_roles"), value: (s) => s.roles.map((r) => t(`role_${r}`)).join(", ") },
        { label: t("console_admin_department"), value: (s) => (s.department ? s.department.name : "") },
        { label: t("console_admin_active"), value: (s) => yes(s.active) },
      ],
      actions: [
        { label: () => t("console_admin_edit"), run: edit },
        { label: () => t("console_admin_deactivate"), run: deactivate, when: (s) => s.active },
      ],
    });
  }
  return load();
}
