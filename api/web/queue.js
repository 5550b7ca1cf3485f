// The ward queue page (/ward/{ward}): patients most urgent first, updated live, with filters.
// The service orders the rows (api/board_rows.py); this script re-applies the same order when a
// single row changes, so the queue never needs a reload.
"use strict";
import {
  $, announce, api, ApiError, el, fmtTime, loadSession, me, pathIds, syncClock, wardIds, wardsLeftOut, wireHeader,
} from "/ward-assets/common.js";
import { lastMessage, setSnoozeLimit } from "/ward-assets/actions.js";
import { onAlertEvent, wireAlarm } from "/ward-assets/alarm.js";
import { connectLive } from "/ward-assets/live.js";
import { RANK_LABEL, renderRow, tickAges } from "/ward-assets/rows.js";

const RANK = { high: 0, medium: 1, low: 2, overdue: 3, none: 4 };
const { wardId } = pathIds();
const rows = new Map(); // patient id -> board row
const liveSince = new Map(); // patient id -> { at: server ms, row (null: left the ward) } of live updates
let updatedAt = null;

function byUrgency(a, b) {
  return RANK[a.rank] - RANK[b.rank] ||
    (a.waiting_since && b.waiting_since ? Date.parse(a.waiting_since) - Date.parse(b.waiting_since) : 0) ||
    a.ref.localeCompare(b.ref, undefined, { numeric: true, sensitivity: "base" }) ||
    (a.patient_id < b.patient_id ? -1 : 1);
}

// Filters live in the URL query (no patient data there), so a reload or a bookmark keeps them.
function filters() {
  return { priority: $("priority").value, mine: $("mine").checked };
}

function shown(row, f) {
  if (f.mine && !row.alerts.some((a) => a.acknowledged_by === me() || a.snoozed_by === me())) return false;
  switch (f.priority) {
    case "high": return row.rank === "high";
    case "medium": return row.rank === "high" || row.rank === "medium";
    case "alerts": return row.alerts.length > 0;
    case "overdue": return row.alerts.some((a) => a.rule === "overdue");
    default: return true;
  }
}

// Re-render keeps the keyboard user's place: focus returns to the same control of the same row.
function render(focus) {
  const active = document.activeElement;
  const key = (focus && focus.focusKey) || (active && active.dataset ? active.dataset.key : null);
  const link = active && active.closest && active.closest("h2.ref") ? active.closest("li.row").dataset.patient : null;
  const f = filters();
  const all = [...rows.values()].sort(byUrgency);
  const list = all.filter((r) => shown(r, f));
  $("queue").replaceChildren(...list.map((r) => renderRow(r, wardId, refresh)));
  $("empty").hidden = list.length > 0;
  const counts = Object.keys(RANK).map((k) => [k, all.filter((r) => r.rank === k).length]).filter(([, n]) => n);
  $("summary").textContent = all.length + (all.length === 1 ? " patient (" : " patients (") + counts.map(([k, n]) => n + " " + RANK_LABEL[k].toLowerCase()).join(", ") +
    ") · showing " + list.length + " · updated " + fmtTime(updatedAt);
  restoreFocus(key, link, focus);
}

function restoreFocus(key, link, focus) {
  let target = key ? document.querySelector('[data-key="' + CSS.escape(key) + '"]') : null;
  if (!target && link) target = document.querySelector('li.row[data-patient="' + CSS.escape(link) + '"] h2 a');
  if (!target && focus && focus.alertId) {
    target = document.querySelector('[data-msg="' + CSS.escape(focus.alertId) + '"]') || $("queue");
    if (!document.querySelector('[data-alert="' + CSS.escape(focus.alertId) + '"]')) announce(lastMessage(focus.alertId) || "");
  }
  if (target && target !== document.activeElement) target.focus();
}

// No black holes unseen: a ward whose alerts nobody is paged for, or that nothing escalates, says so
// on the page its clinicians watch, for as long as it is true (the board carries it, api/ward_board.py).
function showReach(reach) {
  const gaps = [];
  if (reach.escalation_tiers === 0) {
    gaps.push("No escalation ladder: alerts nobody acknowledges are not escalated.");
  } else if (reach.escalates_from === "high") {
    gaps.push("Only high alerts escalate: medium and low ones wait until someone here looks.");
  }
  if (reach.rota_tiers === 0) gaps.push("No rota: alerts reach only this page; nobody is messaged or paged.");
  const box = $("reach");
  box.hidden = gaps.length === 0;
  box.replaceChildren(...(gaps.length
    ? [el("strong", {}, "⚠ Alerts here can go unnoticed. "), gaps.join(" ") + " Ask the ward's administrator to set them up."]
    : []));
}

async function fetchBoard(focus) {
  const board = await api("/v1/wards/" + encodeURIComponent(wardId) + "/board");
  syncClock(board.generated_at);
  showReach(board.reach);
  const at = Date.parse(board.generated_at);
  rows.clear();
  for (const row of board.items) rows.set(row.patient_id, row);
  // A board fetched while live updates arrived can be older than they are, and the stream never
  // sends a row again that it already sent: the newer live update stands, or the row stays stale.
  for (const [pid, update] of liveSince) {
    if (update.at <= at) liveSince.delete(pid);
    else if (update.row) rows.set(pid, update.row);
    else rows.delete(pid);
  }
  updatedAt = new Date(Math.max(at, updatedAt ? Date.parse(updatedAt) : 0)).toISOString();
  render(focus);
}

// After an action: the row as the service now has it (the live stream would bring it too).
async function refresh(focus) {
  try {
    await fetchBoard(focus);
  } catch (err) {
    announce("Could not refresh: " + err.message);
    render(focus);
  }
}

function applyRows(data) {
  const at = Date.parse(data.generated_at);
  for (const row of data.items) {
    rows.set(row.patient_id, row);
    liveSince.set(row.patient_id, { at, row });
  }
  for (const pid of data.removed) {
    rows.delete(pid);
    liveSince.set(pid, { at, row: null });
  }
  updatedAt = data.generated_at;
  render();
}

async function wardChoices(session) {
  const { ids, complete } = await wardIds(session);
  // This ward is always a choice (opened by its address, it may lie past a list that stopped short).
  const wards = ids.includes(wardId) ? ids : [...ids, wardId];
  const select = $("ward");
  select.replaceChildren(...wards.map((w) => el("option", { value: w, selected: w === wardId }, "Ward " + w)));
  if (!complete) select.append(el("option", { disabled: true }, wardsLeftOut(ids.length)));
  // The priority and "mine" filters (the query) come along to the other ward.
  select.addEventListener("change", () => location.assign("/ward/" + encodeURIComponent(select.value) + location.search));
}

function wireFilters() {
  const params = new URLSearchParams(location.search);
  if (params.get("priority")) $("priority").value = params.get("priority");
  $("mine").checked = params.get("mine") === "1";
  $("filters").addEventListener("change", (event) => {
    if (event.target.id === "ward") return;
    const f = filters();
    const query = new URLSearchParams();
    if (f.priority !== "all") query.set("priority", f.priority);
    if (f.mine) query.set("mine", "1");
    history.replaceState(null, "", location.pathname + (query.size ? "?" + query : ""));
    render();
  });
  $("filters").addEventListener("submit", (event) => event.preventDefault());
}

async function main() {
  const session = await loadSession();
  wireHeader();
  wireAlarm();
  wireFilters();
  $("title").textContent = "Ward " + wardId + ": queue";
  document.title = "Oxiward: ward " + wardId;
  await wardChoices(session);
  try {
    await fetchBoard();
  } catch (err) {
    const denied = err instanceof ApiError && err.status === 403;
    announce(denied ? "You are not granted ward " + wardId + "." : "Could not load the ward: " + err.message);
    return;
  }
  api("/v1/wards/" + encodeURIComponent(wardId) + "/alerting-config")
    .then((c) => setSnoozeLimit(c.config.snooze_max_s), () => setSnoozeLimit(null));
  connectLive(wardId, {
    onHello: () => fetchBoard(),
    onRows: applyRows,
    onAlert: (event) => onAlertEvent(event, wardId),
  });
  setInterval(() => tickAges(document), 10000);
}

main();
