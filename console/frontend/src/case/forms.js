// The forms of the verbs the person may use now. Each is generated from the verb's metadata
// that the server put into the page (the lifecycle table: required fields, outcomes, optional
// fields) and posts to POST /api/v1/cases/{number}/actions/{verb}. The API judges the input:
// the form has no client-side rule of its own (novalidate), and shows the API's message,
// next to the field it names.
import { el, t } from "../lib/page.js";
import { placeField } from "./place.js";

let serial = 0;

function options(select, items, selected) {
  for (const [value, label] of items) {
    select.append(el("option", { value, selected: value === selected ? true : undefined }, label));
  }
  return select;
}

/** One control and how to read its value. Returns { node, value(), focus(), errorSlot }. */
function control(verb, field, ctx) {
  const id = `f-${verb}-${field.name}-${++serial}`;
  const errId = `${id}-error`;
  const error = el("span", { class: "error field-error", id: errId, hidden: true });
  const label = el("label", { for: id }, field.label, " ",
    el("small", { class: "req" }, t(field.required ? "console_case_required" : "console_case_optional")));
  const common = { id, name: field.name, "aria-describedby": errId, "aria-required": field.required ? "true" : undefined };
  const c = ctx.case;
  let input;
  switch (field.kind) {
    case "text":
      input = el("textarea", { ...common, rows: 3, maxlength: 5000 });
      break;
    case "line":
      input = el("input", { ...common, type: "text", maxlength: 200 });
      break;
    case "date":
      input = el("input", { ...common, type: "date" });
      break;
    case "number":
      input = el("input", { ...common, type: "number", min: 0, step: "any", inputmode: "decimal" });
      break;
    case "case":
      input = el("input", { ...common, type: "text", maxlength: 32, autocomplete: "off", spellcheck: "false" });
      if (c.possible_duplicate_of) input.value = c.possible_duplicate_of;
      break;
    case "department": {
      const preset = verb === "dispatch" ? c.suggested_department?.code : "";
      input = options(el("select", common, el("option", { value: "" }, t("console_case_choose"))),
        ctx.setup.departments.map((d) => [d.code, `${d.name} (${d.code})`]), preset);
      break;
    }
    case "category": {
      input = el("select", common, el("option", { value: "" }, t("console_case_choose")));
      for (const group of ctx.setup.categories) {
        input.append(options(el("optgroup", { label: group.name }),
          group.items.map((x) => [x.code, `${x.name} (${x.code})`]), c.category_code));
      }
      break;
    }
    case "worker":
      input = options(el("select", common, el("option", { value: "" }, t("console_case_default_worker"))),
        (ctx.grid?.properties.workers || []).map((w) => [String(w.id), w.name]), "");
      break;
    case "choice": {
      // radio buttons in a fieldset: each labelled, arrow keys move between them
      const group = el("fieldset", { class: "choices", id, "aria-describedby": errId },
        el("legend", {}, field.label, " ", el("small", { class: "req" }, t(field.required ? "console_case_required" : "console_case_optional"))),
        ...field.choices.map(([value, words], i) => {
          const rid = `${id}-${i}`;
          return el("span", { class: "choice" }, el("input", { type: "radio", name: `${field.name}-${id}`, value, id: rid }),
            el("label", { for: rid }, words));
        }));
      return { node: el("div", { class: "field" }, group, error), error, field: group,
        value: () => group.querySelector("input:checked")?.value };
    }
    case "place":
      return placeField(verb, field, ctx, { id, error });
    default:
      input = el("input", { ...common, type: "text" });
  }
  const read = () => {
    const v = input.value.trim();
    if (v === "") return undefined;
    if (field.kind === "number") return Number(v);
    if (field.kind === "worker") return Number(v);
    return v;
  };
  return { node: el("div", { class: "field" }, label, input, error), error, field: input, value: read };
}

/** What the API's error says about each field, put next to its control. */
function showErrors(controls, box, err) {
  box.textContent = err.message;
  box.hidden = false;
  const fields = err.body?.fields || {};
  for (const ctl of controls) {
    const names = ctl.names || [ctl.name];
    const msgs = names.flatMap((n) => (fields[n] ? [].concat(fields[n]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))) : []));
    ctl.error.textContent = msgs.join(" ");
    ctl.error.hidden = !msgs.length;
    if (msgs.length) ctl.field.setAttribute("aria-invalid", "true");
    else ctl.field.removeAttribute("aria-invalid");
  }
}

/** The form of one verb (a disclosure: its summary is the verb's name). */
export function verbForm(verb, meta, ctx) {
  const controls = [];
  const box = el("p", { class: "error form-error", role: "alert", hidden: true });
  const form = el("form", { class: "verb-form", novalidate: true, dataset: { verb } });
  if (meta.needs_photos) {
    form.append(el("p", { class: "hint" }, t("console_case_needs_photos")));
  } else {
    for (const field of meta.fields) {
      const ctl = control(verb, field, ctx);
      ctl.name = field.name;
      controls.push(ctl);
      form.append(ctl.node);
    }
    const button = el("button", { type: "submit" }, meta.label);
    form.append(box, el("div", { class: "form-actions" }, button));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      for (const ctl of controls) {
        const value = ctl.value();
        if (value !== undefined && typeof value === "object") Object.assign(body, value);
        else if (value !== undefined) body[ctl.name] = value;
      }
      button.disabled = true;
      form.setAttribute("aria-busy", "true");
      try {
        await ctx.submit(verb, body);
      } catch (err) {
        if (err.status === 409) {
          await ctx.conflict(err);  // the page reloads the case, then says why
          return;
        }
        showErrors(controls, box, err);
        const first = controls.find((c) => c.field.getAttribute("aria-invalid") === "true");
        (first?.field.querySelector?.("input") || first?.field || box).focus?.();
      } finally {
        button.disabled = false;
        form.removeAttribute("aria-busy");
      }
    });
  }
  return el("details", { class: "verb", dataset: { verb }, open: ctx.openFirst ? true : undefined },
    el("summary", {}, meta.label), form);
}
