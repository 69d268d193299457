// The admin sections' one form helper and one table helper: labelled controls built from a
// list of fields, the API's errors shown next to the field they name (`fields` of the error
// body) or above the buttons, and tables with a caption and per-row action buttons.
import { el, t } from "../lib/page.js";

let serial = 0;

/** A section: a heading and a container, appended to `parent`. */
export function panel(parent, title) {
  const id = `panel-${++serial}`;
  const box = el("section", { class: "admin-panel", "aria-labelledby": id }, el("h2", { id }, title));
  parent.append(box);
  return box;
}

/** A status line read out by screen readers. */
export function statusLine(parent) {
  const line = el("p", { class: "status", role: "status", "aria-live": "polite" });
  parent.append(line);
  return line;
}

function control(f, id) {
  const common = { id, name: f.name, required: f.required, "aria-describedby": `${id}-error${f.hint ? ` ${id}-hint` : ""}` };
  if (f.type === "select") {
    const select = el("select", common, (f.options || []).map(([value, label]) => el("option", { value }, label)));
    return select;
  }
  if (f.type === "textarea") return el("textarea", { ...common, rows: 3 });
  if (f.type === "checkbox") return el("input", { ...common, type: "checkbox" });
  return el("input", { ...common, type: f.type || "text", step: f.step, min: f.min, max: f.max, accept: f.accept,
    autocomplete: f.autocomplete || "off", inputmode: f.inputmode, placeholder: f.placeholder });
}

/**
 * A form from `fields`: [{name, label, type: text|password|number|select|checkbox|checks|textarea|file,
 * options: [[value, label]], required, hint, optional (empty -> null), omitEmpty (empty -> left out)}].
 * `onSubmit(values)` may throw the API's error: it is shown next to the fields it names.
 */
export function makeForm(parent, { id, legend, fields, submit, onSubmit, extraButtons = [] }) {
  const form = el("form", { class: "admin-form", id, novalidate: true });
  const box = el("fieldset", {}, el("legend", {}, legend));
  const inputs = {};
  const errors = {};
  for (const f of fields) {
    const cid = `${id}-${f.name}`;
    const error = el("span", { class: "field-error error", id: `${cid}-error` });
    errors[f.name] = error;
    let wrap;
    if (f.type === "checks") {
      const boxes = (f.options || []).map(([value, label]) => el("label", { class: "check" },
        el("input", { type: "checkbox", name: f.name, value, id: `${cid}-${value}` }), label));
      wrap = el("fieldset", { class: "field checks", id: cid, "aria-describedby": `${cid}-error` }, el("legend", {}, f.label), boxes, error);
      inputs[f.name] = wrap;
    } else {
      const input = control(f, cid);
      inputs[f.name] = input;
      const label = el("label", { for: cid }, f.label);
      wrap = f.type === "checkbox"
        ? el("div", { class: "field field-check" }, input, label, error)
        : el("div", { class: "field" }, label, input, f.hint ? el("span", { class: "hint", id: `${cid}-hint` }, f.hint) : null, error);
    }
    box.append(wrap);
  }
  const general = el("p", { class: "error form-error", role: "alert", id: `${id}-error` });
  const button = el("button", { type: "submit", id: `${id}-submit` }, submit);
  const actions = el("div", { class: "actions" }, button, extraButtons);
  box.append(general, actions);
  form.append(box);
  parent.append(form);

  function clear() {
    general.textContent = "";
    for (const [name, error] of Object.entries(errors)) {
      error.textContent = "";
      inputs[name].removeAttribute("aria-invalid");
    }
  }

  function values() {
    const out = {};
    for (const f of fields) {
      const input = inputs[f.name];
      let value;
      if (f.type === "checks") value = [...input.querySelectorAll("input:checked")].map((c) => c.value);
      else if (f.type === "checkbox") value = input.checked;
      else if (f.type === "file") value = input.files[0] || null;
      else if (f.type === "number") value = input.value === "" ? null : Number(input.value);
      else value = input.value.trim();
      if (value === "" || value === null) {
        if (f.omitEmpty) continue;
        if (f.optional) value = null;
      }
      out[f.name] = value;
    }
    return out;
  }

  function set(data) {
    for (const f of fields) {
      if (!(f.name in data)) continue;
      const input = inputs[f.name];
      const value = data[f.name];
      if (f.type === "checks") {
        for (const c of input.querySelectorAll("input")) c.checked = (value || []).includes(c.value);
      } else if (f.type === "checkbox") input.checked = Boolean(value);
      else if (f.type !== "file") input.value = value ?? "";
    }
  }

  /** Show an API error: each named field's messages beside it, the sentence above the buttons. */
  function showError(err) {
    clear();
    const named = err?.body?.fields || {};
    let first = null;
    const elsewhere = [];
    for (const [name, messages] of Object.entries(named)) {
      const text = [].concat(messages).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ");
      if (errors[name]) {
        errors[name].textContent = text;
        inputs[name].setAttribute("aria-invalid", "true");
        first = first || inputs[name];
      } else {
        elsewhere.push(`${name}: ${text}`);
      }
    }
    general.textContent = [err?.message || String(err), ...elsewhere].join(" ");
    (first?.matches?.("fieldset") ? first.querySelector("input") : first)?.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear();
    button.disabled = true;
    form.dataset.state = "busy";
    try {
      await onSubmit(values());
      form.dataset.state = "saved";
    } catch (err) {
      showError(err);
      form.dataset.state = "error";
    } finally {
      button.disabled = false;
    }
  });
  return { form, inputs, values, set, clear, showError, general, button };
}

/**
 * A table: columns [{label, value: (row) => text or Node}], rows, and per-row actions
 * [{label: (row) => text, run: (row, button) => ...}]. Replaces the contents of `box`.
 */
export function renderTable(box, { caption, columns, rows, actions = [], rowId }) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c.label)),
    actions.length ? el("th", { scope: "col" }, t("console_admin_actions")) : null);
  const body = rows.map((row) => el("tr", { dataset: rowId ? { id: String(rowId(row)) } : {} },
    columns.map((c, i) => (i === 0 ? el("th", { scope: "row" }, c.value(row)) : el("td", {}, c.value(row)))),
    actions.length ? el("td", { class: "row-actions" }, actions.filter((a) => !a.when || a.when(row)).map((a) => {
      const name = rowId ? `${a.label(row)} ${rowId(row)}` : undefined; // "Edit ROAD" for a screen reader
      const button = el("button", { type: "button", class: "secondary small", "aria-label": name }, a.label(row));
      button.addEventListener("click", () => a.run(row, button));
      return button;
    })) : null));
  const table = el("table", { class: "queue admin-table" },
    el("caption", {}, caption, " ", el("span", { class: "hint" }, t("console_admin_rows", { count: rows.length }))),
    el("thead", {}, head), el("tbody", {}, body));
  box.replaceChildren(table);
  box.dataset.ready = "1";
  box.dataset.rows = String(rows.length);
  return table;
}

/** Yes / no, as the catalog says it. */
export const yes = (v) => t(v ? "console_yes" : "console_no");

/** Options for a select from a list of codes and a message-key prefix. */
export const optionsOf = (codes, prefix) => codes.map((c) => [c, t(`${prefix}${c}`)]);

/** Run `work`, reporting failure on `line` (a load that fails says so, never silently). */
export async function reporting(line, work) {
  try {
    return await work();
  } catch (err) {
    line.textContent = `${t("console_load_failed")} ${err.message}`;
    throw err;
  }
}

/**
 * A form that adds a row or, after `edit(row)`, changes it (its key field read-only):
 * `create(values)` or `update(row, values)` (the key left out), then `onSaved()`.
 * `onEdit(row)` / `onReset()` let a section do more (e.g. a password label, assignments).
 */
export function editorForm(parent, { id, fields, keyField, focus, defaults, describe, create, update, onSaved, status,
  onEdit, onReset }) {
  let editing = null;
  const cancel = el("button", { type: "button", class: "secondary", id: `${id}-cancel`, hidden: true }, t("console_admin_cancel"));
  const form = makeForm(parent, {
    id, legend: t("console_admin_add"), submit: t("console_admin_save"), fields, extraButtons: [cancel],
    onSubmit: async (values) => {
      if (editing) {
        delete values[keyField];
        await update(editing, values);
      } else {
        await create(values);
      }
      status.textContent = t("console_admin_saved");
      reset();
      await onSaved();
    },
  });
  const legend = form.form.querySelector("legend");

  function reset() {
    editing = null;
    form.form.reset();
    form.set(defaults);
    form.inputs[keyField].readOnly = false;
    legend.textContent = t("console_admin_add");
    cancel.hidden = true;
    onReset?.();
  }

  function edit(row, values = row) {
    editing = row;
    form.clear();
    form.form.reset();
    form.set(values);
    form.inputs[keyField].readOnly = true;
    legend.textContent = t("console_admin_edit_of", { what: describe(row) });
    cancel.hidden = false;
    form.inputs[focus].focus();
    return onEdit?.(row);
  }

  cancel.addEventListener("click", () => { form.clear(); reset(); });
  reset();
  return { ...form, edit, reset };
}
