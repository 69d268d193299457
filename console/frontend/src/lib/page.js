// What every page's script shares: the words the server put in the page, the page's language,
// and calls to the JSON API with the session's CSRF token.

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";

export const lang = meta("lang") || "zh";
const words = JSON.parse(document.getElementById("words")?.textContent || "{}");

/** The catalog's text for `key`, with {placeholders} filled from `params`. */
export function t(key, params = {}) {
  const text = words[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
    this.body = body;
  }
}

/** Call the JSON API (same origin, the session cookie). Changes carry the CSRF token. */
export async function api(path, { method = "GET", json, form, headers = {} } = {}) {
  const url = new URL(path, location.origin);
  url.searchParams.set("lang", lang);
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (method !== "GET") init.headers["X-CSRF-Token"] = meta("csrf-token");
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  const response = await fetch(url, init);
  const body = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
  if (response.status === 401 && document.body.classList.contains("console")) {
    location.assign(`/console/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/** A local date and time as people read it (the API answers ISO 8601 with the zone). */
export function when(iso, { date = false } = {}) {
  if (!iso) return "";
  const d = new Date(iso);
  const locale = lang === "zh" ? "zh-CN" : "en-GB";
  return date
    ? d.toLocaleDateString(locale, { year: "numeric", month: "long", day: "numeric", weekday: "short" })
    : d.toLocaleString(locale, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}

/** Make an element with text content (never HTML from data). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
