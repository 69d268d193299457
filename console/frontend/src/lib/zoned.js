// Times as the API answers them: ISO 8601 with the offset of the reader's zone (their
// account's, else the deployment's, Asia/Shanghai by default). Shown as that wall-clock time,
// whatever zone the browser itself is set to; the offset is in the <time> element's title.

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** "2026-11-27 11:35" (or "2026-11-27" with `date`), as the API's zone reads it. */
export function zoned(iso, { date = false } = {}) {
  if (!iso) return "";
  const m = ISO.exec(iso);
  if (!m) return String(iso);
  const [, y, mo, d, h, mi] = m;
  return date || h === undefined ? `${y}-${mo}-${d}` : `${y}-${mo}-${d} ${h}:${mi}`;
}

/** The offset of an API time, as "UTC+08:00". */
export function offsetOf(iso) {
  const m = ISO.exec(iso || "");
  if (!m || !m[6]) return "";
  return m[6] === "Z" ? "UTC" : `UTC${m[6]}`;
}

/** A <time> element for an API time (made with `el` from lib/page.js). */
export function timeEl(el, iso, options) {
  return el("time", { datetime: iso, title: offsetOf(iso) || undefined }, zoned(iso, options));
}
