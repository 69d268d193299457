// The work calendar of a year: every day as a button (work day or day off, and where that
// comes from); pressing a day overrides it the other way, a local change can be removed;
// the official schedule of a year (CSV or JSON) can be loaded before the library knows it.
import { api, el, lang, t } from "../lib/page.js";
import { makeForm, panel, renderTable, reporting, statusLine } from "./ui.js";


export default function calendar(root) {
  const yearBox = panel(root, t("console_admin_calendar_year"));
  const status = statusLine(yearBox);
  const months = el("div", { id: "calendar-months", class: "calendar-months" });
  const localBox = panel(root, t("console_admin_local_days"));
  const localTable = el("div", { id: "local-days", class: "table-box" });
  localBox.append(localTable);
  const scheduleBox = panel(root, t("console_admin_schedule"));
  const scheduleStatus = statusLine(scheduleBox);
  let year = new Date().getFullYear();

  const yearForm = makeForm(yearBox, {
    id: "year-form", legend: t("console_admin_calendar_year"), submit: t("console_admin_show"),
    fields: [{ name: "year", label: t("console_admin_year"), type: "number", min: "1", max: "9999", step: "1", required: true }],
    onSubmit: async (values) => {
      year = values.year;
      await load();
    },
  });
  yearForm.set({ year });
  yearBox.append(months);

  const monthName = (m) => new Date(Date.UTC(2000, m, 1)).toLocaleDateString(lang === "zh" ? "zh-CN" : "en-GB",
    { month: "long", timeZone: "UTC" });
  const weekdays = t("console_admin_weekdays").split(",");

  function label(d) {
    const kind = t(d.is_workday ? "console_admin_workday" : "console_admin_day_off");
    return t("console_admin_day_label", { day: d.day, kind, source: t(`console_cal_source_${d.source}`),
      name: d.name || "" }).trim();
  }

  async function toggle(d, button) {
    button.disabled = true;
    try {
      await api(`/api/v1/calendar/days/${d.day}`, { method: "PUT", json: { is_workday: !d.is_workday, name: d.name || null } });
      status.textContent = t("console_admin_saved");
      await load(d.day);
    } catch (err) {
      status.textContent = `${err.message}`;
      button.disabled = false;
    }
  }

  function monthTable(m, days) {
    const first = new Date(Date.UTC(year, m, 1)).getUTCDay(); // 0 = Sunday
    const lead = (first + 6) % 7; // weeks start on Monday
    const cells = Array(lead).fill(null).concat(days);
    const rows = [];
    for (let i = 0; i < cells.length; i += 7) rows.push(cells.slice(i, i + 7));
    return el("table", { class: "calendar-month" },
      el("caption", {}, monthName(m)),
      el("thead", {}, el("tr", {}, weekdays.map((w) => el("th", { scope: "col" }, w)))),
      el("tbody", {}, rows.map((week) => el("tr", {}, Array.from({ length: 7 }, (_, i) => {
        const d = week[i];
        if (!d) return el("td", {});
        const button = el("button", { type: "button", class: `day ${d.is_workday ? "workday" : "off"} source-${d.source}`,
          "aria-label": label(d), title: label(d), "aria-pressed": d.is_workday ? "false" : "true",
          dataset: { day: d.day, workday: String(d.is_workday), source: d.source } }, String(Number(d.day.slice(8))));
        button.addEventListener("click", () => toggle(d, button));
        return el("td", {}, button);
      })))));
  }

  async function load(focusDay) {
    months.dataset.ready = "";
    const days = await reporting(status, () => api(`/api/v1/calendar?from=${String(year).padStart(4, "0")}-01-01&to=${String(year).padStart(4, "0")}-12-31`));
    months.replaceChildren(...Array.from({ length: 12 }, (_, m) => monthTable(m, days.filter((d) => Number(d.day.slice(5, 7)) === m + 1))));
    months.dataset.year = String(year);
    months.dataset.ready = "1";
    if (focusDay) months.querySelector(`button[data-day="${focusDay}"]`)?.focus();
    renderTable(localTable, {
      caption: t("console_admin_local_days"), rows: days.filter((d) => d.source === "override"), rowId: (d) => d.day,
      columns: [
        { label: t("console_admin_day"), value: (d) => d.day },
        { label: t("console_admin_kind"), value: (d) => t(d.is_workday ? "console_admin_workday" : "console_admin_day_off") },
        { label: t("console_admin_name"), value: (d) => d.name || "" },
      ],
      actions: [{ label: () => t("console_admin_reset_day"), run: async (d) => {
        await reporting(status, () => api(`/api/v1/calendar/days/${d.day}`, { method: "DELETE" }));
        await load();
      } }],
    });
  }

  makeForm(scheduleBox, {
    id: "schedule-form", legend: t("console_admin_schedule"), submit: t("console_admin_import_go"),
    fields: [{ name: "file", label: t("console_admin_choose_file"), type: "file", accept: ".csv,.json,text/csv,application/json",
      required: true, hint: t("console_admin_schedule_hint") }],
    onSubmit: async (values) => {
      const form = new FormData();
      if (values.file) form.append("file", values.file);
      const r = await api("/api/v1/calendar/schedule", { method: "POST", form });
      scheduleStatus.textContent = t("console_admin_schedule_loaded", r);
      await load();
    },
  });
  return load();
}
