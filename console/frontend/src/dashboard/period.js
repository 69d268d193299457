// Periods as local days of the deployment's zone (Asia/Shanghai by default): the API takes
// `from` and `to` as local days, both included.

/** Today's date (YYYY-MM-DD) in `timeZone`. */
export function today(timeZone) {
  // en-CA formats as YYYY-MM-DD
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

function shift(iso, days) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** [from, to] of a preset period ending today: this week (from Monday), this month, the last 30 days. */
export function presetRange(preset, timeZone) {
  const end = today(timeZone);
  if (preset === "this_week") {
    const weekday = (new Date(`${end}T00:00:00Z`).getUTCDay() + 6) % 7; // Monday = 0
    return [shift(end, -weekday), end];
  }
  if (preset === "this_month") return [`${end.slice(0, 8)}01`, end];
  if (preset === "last_30_days") return [shift(end, -29), end];
  return null;
}
