// Shared by every ward page: API calls with the session cookie, the signed-in user, DOM and time
// helpers. Text from the server is only ever set with textContent (never parsed as HTML), so a
// patient reference like "<img onerror=…>" is shown as typed and cannot run.
"use strict";

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.body = body;
  }
}

let session = null;

// Every request carries the HttpOnly session cookie (same origin); state-changing ones also the
// CSRF token the session handed out, which another site cannot read.
export async function api(path, options = {}) {
  const method = options.method || "GET";
  const headers = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session) headers["X-CSRF-Token"] = session.csrf_token;
  const res = await fetch(path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: "same-origin",
    cache: "no-store",
  });
  let body = null;
  if (res.status !== 204) {
    try { body = await res.json(); } catch (_) { body = null; }
  }
  if (res.status === 401 && !options.allow401) toSignIn();
  if (!res.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : res.status + " " + res.statusText;
    throw new ApiError(res.status, detail, body);
  }
  return body;
}

// The session expired or was ended (or never began: a link from a message): to the sign-in page,
// which says why and returns here afterwards (`next`: this page's path, ids only; the fragment rides
// along, never sent to a server). Replacing this page: without a session it has nothing to go back to.
export function toSignIn() {
  const here = location.pathname === "/ward" ? "" : "&next=" + encodeURIComponent(location.pathname);
  location.replace("/ward?signed-out=1" + here + location.hash);
}

export async function loadSession() {
  try {
    session = await api("/v1/web/session");
  } catch (err) {
    // No session: toSignIn() is already taking the page away; nothing more of it should run.
    if (err instanceof ApiError && err.status === 401) await new Promise(() => {});
    throw err;
  }
  return session;
}

// The wards this user may open, by id. The session lists a user's granted wards in full;
// administrators (wards: null) may open every ward, which GET /v1/wards lists page by page (follow
// next_cursor, docs/api.md "Lists and cursors"). Bounded, so a service with thousands of wards
// cannot keep a page fetching: `complete` false says the rest were not asked for.
const WARD_PAGE_SIZE = 100;
const WARD_PAGES_MAX = 20;
export async function wardIds(session) {
  if (session.wards !== null) return { ids: session.wards, complete: true };
  const ids = [];
  let cursor = null;
  for (let pages = 0; pages < WARD_PAGES_MAX; pages++) {
    const query = new URLSearchParams({ limit: String(WARD_PAGE_SIZE) });
    if (cursor !== null) query.set("cursor", cursor);
    const page = await api("/v1/wards?" + query);
    ids.push(...page.items.map((w) => w.ward_id));
    cursor = page.next_cursor;
    if (cursor === null) return { ids, complete: true };
  }
  return { ids, complete: false };
}

// Said wherever the list stops short: the other wards still open by their address.
export function wardsLeftOut(shown) {
  return "Only the first " + shown + " wards are listed; open another at /ward/<ward id>.";
}

export function me() {
  return session ? session.username : null;
}

export function currentSession() {
  return session;
}

export async function signOut() {
  try { await api("/v1/web/session", { method: "DELETE", allow401: true }); } catch (_) { /* gone already */ }
  location.assign("/ward");
}

// el("p", { className: "x", hidden: true }, "text", childNode) — properties, then children.
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("aria-") || key.startsWith("data-") || key === "role" || key === "for") {
      node.setAttribute(key, String(value));
    } else {
      node[key] = value;
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

// The page's clock against the server's: ages are counted from the server's time, so a ward PC
// with a wrong clock still shows how old a reading really is.
let skewMs = 0;
export function syncClock(serverIso) {
  const server = Date.parse(serverIso);
  if (!Number.isNaN(server)) skewMs = server - Date.now();
}
export function serverNow() {
  return Date.now() + skewMs;
}

// One unambiguous style whatever the browser's locale (a US-set ward PC would show 11/30/2026, and
// 01/12 reads as two dates): UK order with the month in words, 24-hour clock, local time.
const TIME = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const DAY = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short" });
const DATE = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric" });

// "09:17" today, "30 Nov 09:17" another day this year, "30 Nov 2025 09:17" before.
export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const now = new Date(serverNow());
  if (now.toDateString() === d.toDateString()) return TIME.format(d);
  return (now.getFullYear() === d.getFullYear() ? DAY : DATE).format(d) + " " + TIME.format(d);
}

// "30 Nov 2026".
export function fmtDate(iso) {
  return iso ? DATE.format(new Date(iso)) : "—";
}

// Server text that quotes a time (an alert event's "until 2026-11-30T09:17:35.119545+00:00"): each
// ISO 8601 timestamp in it as fmtTime says it.
const ISO_TIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})/g;
export function fmtTimesIn(text) {
  return text ? String(text).replace(ISO_TIME, (iso) => fmtTime(iso)) : "";
}

// The API speaks UCUM (`Cel`, `mm[Hg]`); people read °C and mmHg.
const UNIT_SHOWN = { Cel: "°C", "mm[Hg]": "mmHg" };
export function fmtUnit(ucum) {
  return ucum ? UNIT_SHOWN[ucum] || ucum : "";
}
export function unitsIn(text) {
  return String(text).replace(/(\d) (Cel|mm\[Hg\])(?![\w\]])/g, (_, digit, ucum) => digit + " " + fmtUnit(ucum));
}

// "4 min": how long since the moment, by the server's clock.
export function fmtSince(iso) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((serverNow() - Date.parse(iso)) / 1000));
  if (s < 90) return s + " s";
  if (s < 90 * 60) return Math.round(s / 60) + " min";
  if (s < 48 * 3600) return Math.round(s / 3600) + " h";
  return Math.round(s / 86400) + " days";
}

export function fmtAge(iso) {
  return iso ? fmtSince(iso) + " ago" : "";
}

export function fmtNumber(value) {
  if (value === null || value === undefined) return "—";
  return Number.isInteger(value) ? String(value) : Number(value).toFixed(1);
}

// Polite announcements for screen readers (and the visible status line).
export function announce(text) {
  const status = $("status");
  if (status) status.textContent = text;
}

// Header: who is signed in, and signing out. Present on every page but the sign-in form.
export function wireHeader() {
  const who = $("who");
  if (who) who.textContent = "Signed in as " + me();
  const out = $("sign-out");
  if (out) {
    out.hidden = false;
    out.addEventListener("click", signOut);
  }
}

// /ward/{ward}/patients/{patient}: ids only, checked against the API's own id pattern.
export function pathIds() {
  const m = location.pathname.match(/^\/ward\/([A-Za-z0-9_-]{1,64})(?:\/patients\/([A-Za-z0-9_-]{1,64}))?\/?$/);
  return m ? { wardId: m[1], patientId: m[2] || null } : { wardId: null, patientId: null };
}
