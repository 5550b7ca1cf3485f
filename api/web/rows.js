// One patient of the ward board, drawn as a card: who, how urgent, the numbers, what is open and
// who is on it, and whether the data can be trusted. Every cue that has a colour also has words
// (colour alone fails colour-blind users and a washed-out shared screen).
"use strict";
import { el, fmtAge, fmtNumber, fmtSince, fmtTime } from "/ward-assets/common.js";
import { alertActions } from "/ward-assets/actions.js";

export const RANK_LABEL = {
  high: "High priority", medium: "Medium priority", low: "Low priority", overdue: "Missed reading", none: "No open alert",
};
// Clinical-rules §1.2 bands; the text carries the meaning, the colour repeats it.
export const BAND_LABEL = {
  red: "Red band", amber: "Amber band", green: "Green band", unknown: "No usable reading", "not-used": "Band not used by plan",
};
const RULE_LABEL = {
  "o2home-band": "SpO₂ band", news2: "NEWS2", bts: "Below target", "signal-quality": "Signal quality",
  "evaluation-failed": "System fault", "exertion-desaturation": "Exertional desaturation", overdue: "Missed reading",
  "gateway-offline": "Gateway offline", "stale-data": "No recent data", "battery-low": "Battery low",
};
const TREND = {
  falling: ["↓", "Falling"], rising: ["↑", "Rising"], steady: ["→", "Steady"], unknown: ["", "Trend unknown"],
};
const LINK_LABEL = {
  online: "online", offline: "OFFLINE", unknown: "state unknown",
  connected: "connected", away: "out of range", searching: "searching",
};

export function ruleLabel(rule) {
  return RULE_LABEL[rule] || rule;
}

// "4 min ago" (or "Waiting 4 min"); refreshed by tickAges() so it keeps counting between updates.
function age(iso, prefix) {
  const text = () => (prefix ? prefix + fmtSince(iso) : fmtAge(iso));
  return el("span", { className: "age", "data-at": iso, "data-prefix": prefix || "" }, text());
}

export function tickAges(root) {
  for (const node of root.querySelectorAll(".age[data-at]")) {
    const p = node.dataset.prefix;
    node.textContent = p ? p + fmtSince(node.dataset.at) : fmtAge(node.dataset.at);
  }
}

function vitals(row) {
  const r = row.latest;
  const box = el("div", { className: "vitals" });
  box.append(
    el("p", { className: "vital" }, el("span", { className: "label" }, "SpO₂ "),
      el("span", { className: "big" }, r ? fmtNumber(r.spo2) : "—"), el("span", { className: "unit" }, " %")),
    el("p", { className: "vital" }, el("span", { className: "label" }, "Pulse "),
      el("span", { className: "big" }, r ? fmtNumber(r.pulse) : "—"), el("span", { className: "unit" }, " /min")),
    el("p", { className: "band band-" + row.band }, BAND_LABEL[row.band] || row.band),
  );
  const [arrow, word] = TREND[row.trend.direction] || TREND.unknown;
  const delta = row.trend.delta === null ? "" : " (" + (row.trend.delta > 0 ? "+" : "") + fmtNumber(row.trend.delta) + " since " + fmtTime(row.trend.since) + ")";
  box.append(el("p", { className: "trend trend-" + row.trend.direction },
    el("span", { "aria-hidden": "true" }, arrow + " "), word + delta));
  if (r) {
    box.append(el("p", { className: "when" }, "Measured ", age(r.measured_at), " at " + fmtTime(r.measured_at)));
    const flags = [];
    if (r.late) flags.push("LATE: arrived long after it was measured");
    if (r.quality !== "scorable") flags.push(r.quality.toUpperCase() + (r.reasons.length ? ": " + r.reasons.join(", ") : ""));
    for (const f of flags) box.append(el("p", { className: "flag" }, "⚠ " + f));
  } else {
    box.append(el("p", { className: "when" }, "No reading yet"));
  }
  return box;
}

function alertLine(alert, row, onChanged) {
  const parts = [ruleLabel(alert.rule)];
  if (alert.spo2 !== null && alert.spo2 !== undefined) parts.push("SpO₂ " + fmtNumber(alert.spo2) + " %");
  if (alert.questionable) parts.push("questionable data");
  if (alert.late) parts.push("late data");
  if (alert.latched) parts.push("condition cleared, still to resolve");
  const who = [];
  if (alert.acknowledged_by) who.push("Acknowledged by " + alert.acknowledged_by + " at " + fmtTime(alert.acknowledged_at));
  else who.push("Not acknowledged");
  if (alert.snoozed_until && Date.parse(alert.snoozed_until) > Date.now()) {
    who.push("snoozed by " + alert.snoozed_by + " until " + fmtTime(alert.snoozed_until));
  }
  if (alert.tier > 0) who.push("escalated to tier " + alert.tier);
  return el("li", { className: "alert prio-" + alert.priority, "data-alert": alert.alert_id },
    el("p", { className: "alert-what" },
      el("span", { className: "prio" }, alert.priority.toUpperCase()), " " + parts.join(" · "),
      " · raised ", age(alert.raised_at), " (" + fmtTime(alert.raised_at) + ")"),
    el("p", { className: "alert-who" }, who.join(" · ")),
    alertActions(row, alert, onChanged));
}

// The gateway's outbox depth (its last status, a heartbeat a minute) counts readings sent but not yet
// acknowledged: a healthy gateway at 1 Hz per oximeter holds a second or two of them at any moment.
// Worth a clinician's eye only when readings pile up (a slow or refusing link) or sit on a gateway
// that is not online, where they wait for it to come back.
const BACKLOG_SHOWN_FROM = 30;

function backlog(link) {
  const n = link.outbox_depth;
  if (!n || (n < BACKLOG_SHOWN_FROM && link.gateway_state === "online")) return "";
  return " · " + n + (n === 1 ? " reading" : " readings") + " waiting on the gateway to send";
}

function linkState(link) {
  const gw = link.gateway_id ? "Gateway " + link.gateway_id + " " + LINK_LABEL[link.gateway_state] : "No gateway seen yet";
  const dev = "Oximeter " + (LINK_LABEL[link.device_state] || link.device_state);
  const bad = link.gateway_state === "offline" || link.device_state === "away";
  return el("p", { className: "link" + (bad ? " link-bad" : "") }, (bad ? "⚠ " : "") + gw + " · " + dev + backlog(link));
}

export function renderRow(row, wardId, onChanged) {
  const heading = "ref-" + row.patient_id;
  const href = "/ward/" + encodeURIComponent(wardId) + "/patients/" + encodeURIComponent(row.patient_id);
  const who = el("div", { className: "who-col" },
    el("h2", { id: heading, className: "ref" }, el("a", { href }, row.ref)),
    el("p", { className: "rank rank-" + row.rank }, RANK_LABEL[row.rank]));
  if (row.waiting_since) who.append(el("p", { className: "waiting" }, age(row.waiting_since, "Waiting ")));
  const alerts = el("div", { className: "alerts-col" });
  if (row.alerts.length) {
    alerts.append(el("ul", { className: "alerts", "aria-label": "Open alerts" }, ...row.alerts.map((a) => alertLine(a, row, onChanged))));
  }
  alerts.append(linkState(row.link));
  return el("li", { className: "row rank-" + row.rank, "data-patient": row.patient_id },
    el("article", { "aria-labelledby": heading }, who, vitals(row), alerts));
}
