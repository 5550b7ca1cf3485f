// The patient page's tables and its observation form. Plain tables with captions and header cells:
// they read well aloud and are the text alternative to the chart.
"use strict";
import { $, api, ApiError, el, fmtNumber, fmtTime, fmtTimesIn, fmtUnit, me, unitsIn } from "/ward-assets/common.js";
import { ruleLabel } from "/ward-assets/rows.js";

function table(caption, headers, rows, empty) {
  if (!rows.length) return el("p", { className: "summary" }, empty);
  return el("table", {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))))));
}

export function renderReadings(items) {
  const rows = items.map((r) => [
    fmtTime(r.measured_at), fmtNumber(r.spo2), fmtNumber(r.pulse),
    r.quality === "scorable" ? "Good" : r.quality + (r.reasons.length ? ": " + r.reasons.join(", ") : ""),
    r.late ? "Late" : "", r.mode,
  ]);
  $("readings").replaceChildren(table("Newest first", ["Measured", "SpO₂ %", "Pulse /min", "Signal", "Arrival", "Mode"], rows,
    "No readings yet."));
}

const EVENT_LABEL = {
  raised: "Raised", upgraded: "Upgraded", current: "Confirmed by a current reading", "condition-cleared": "Condition cleared (still open)",
  "condition-returned": "Condition returned", "all-clear": "All clear", acknowledged: "Acknowledged", snoozed: "Snoozed",
  "snooze-overridden": "Snooze ended by a higher priority", escalated: "Escalated", resolved: "Resolved",
};

// One row per thing that happened to an alert, newest alert first: who did what, when.
export function renderAlertHistory(alerts) {
  const rows = [];
  for (const a of alerts) {
    for (const e of [...(a.events || [])].reverse()) {
      rows.push([fmtTime(e.at), ruleLabel(a.rule) + " (" + fmtTime(a.raised_at) + ")", e.priority.toUpperCase(),
        (EVENT_LABEL[e.kind] || e.kind) + (e.tier !== null && e.tier !== undefined && e.kind === "escalated" ? " to tier " + e.tier : ""),
        e.by || "system", fmtTimesIn(e.detail) || (e.kind === "resolved" && a.outcome ? a.outcome : "")]);
    }
    if (!(a.events || []).length) {
      rows.push([fmtTime(a.raised_at), ruleLabel(a.rule), a.priority.toUpperCase(), a.state, a.acknowledged_by || a.resolved_by || "system", a.outcome || ""]);
    }
  }
  $("alert-history").replaceChildren(table("Newest alert first", ["When", "Alert", "Priority", "What", "Who", "Detail"], rows,
    "No alerts so far."));
}

// alerting/careplan.py RulePack, in the words of clinical-rules.md.
const PACK_LABEL = {
  o2home: "Oximetry @home bands", "news2-scale1": "NEWS2, SpO₂ scale 1", "news2-scale2": "NEWS2, SpO₂ scale 2",
  "bts-94-98": "BTS target 94–98 %", "bts-88-92": "BTS target 88–92 %",
};
const NEWS2_PACKS = ["news2-scale1", "news2-scale2"];

function packLabel(pack) {
  return PACK_LABEL[pack] || pack;
}

function planText(plan) {
  const parts = ["Rule pack: " + packLabel(plan.rule_pack), plan.on_oxygen ? "on oxygen" : "on air"];
  if (plan.baseline_spo2) parts.push("baseline SpO₂ " + plan.baseline_spo2 + " %");
  if (plan.target_spo2) parts.push("target " + plan.target_spo2.join("–") + " %");
  if (plan.thresholds) parts.push("green from " + plan.thresholds.green_from + " %, amber from " + plan.thresholds.amber_from + " %");
  if (plan.schedule && plan.schedule.length) parts.push("readings at " + plan.schedule.join(", "));
  return parts.join(" · ");
}

export function renderPlan(current, history) {
  const who = current.default ? "No plan set: the CO@h bands on air apply (clinical-rules §1.2)."
    : "Version " + current.version + ", set by " + current.set_by + " at " + fmtTime(current.set_at) + ": " + current.reason;
  $("plan").replaceChildren(el("p", {}, el("strong", {}, planText(current.plan))), el("p", {}, who));
  const rows = history.items.map((p) => [String(p.version), fmtTime(p.set_at), p.set_by || "", p.reason || "", planText(p.plan)]);
  $("plan-history").replaceChildren(table("Plan history, newest first", ["Version", "Set", "By", "Reason", "Plan"], rows,
    "No earlier versions."));
}

const OBS_LABEL = {
  respiration_rate: "Respiration rate", systolic_bp: "Systolic BP", temperature: "Temperature", consciousness: "Consciousness", oxygen: "Oxygen",
};

export function renderObservations(page) {
  const rows = page.items.slice().reverse().slice(0, 20).map((o) => [
    fmtTime(o.measured_at), OBS_LABEL[o.parameter] || o.parameter, String(o.value) + (o.unit ? " " + fmtUnit(o.unit) : ""), o.by,
  ]);
  $("observations").replaceChildren(table("Recent observations, newest first", ["Measured", "Observation", "Value", "By"], rows,
    "No manual observations recorded."));
}

// Only the NEWS2 packs score manual observations (alerting/manual_set.py), and a discharged patient
// raises no alert: the form says so beside it, before anyone relies on an alert that cannot come.
let unscoredWhy = null;

function scoringText(rulePack, discharged) {
  if (discharged) return "This patient is discharged: observations are recorded for the record but raise no alert.";
  if (NEWS2_PACKS.includes(rulePack)) {
    return "This patient's care plan (" + packLabel(rulePack) + ") scores NEWS2 with these observations: an alert follows at once if the score calls for one.";
  }
  return "This patient's care plan (" + packLabel(rulePack) + ") does not score NEWS2: observations are recorded for the record but raise no alert. Change the care plan to a NEWS2 pack to have them scored.";
}

export function renderScoring(current, patient) {
  const discharged = patient.status === "discharged";
  const scored = !discharged && NEWS2_PACKS.includes(current.plan.rule_pack);
  unscoredWhy = scored ? null : scoringText(current.plan.rule_pack, discharged);
  const notice = $("obs-scoring");
  notice.textContent = scoringText(current.plan.rule_pack, discharged);
  notice.className = scored ? "summary" : "reach";
}

function localNow() {
  const d = new Date();
  d.setSeconds(0, 0);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

// The filled fields go as ONE set (POST …/observation-sets): stored all or none and scored once, so a
// deteriorating set pages once at its full NEWS2 level, not medium first and then the upgrade.
export function wireObservationForm(patientId, onSaved) {
  const form = $("obs-form");
  $("obs-at").value = localNow();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    $("obs-error").textContent = "";
    $("obs-status").textContent = "";
    $("obs-status").className = "";
    const measured = new Date(form.elements.measured_at.value || localNow());
    const wanted = ["respiration_rate", "systolic_bp", "temperature", "consciousness", "oxygen"]
      .map((name) => [name, form.elements[name].value.trim()]).filter(([, v]) => v !== "");
    if (!wanted.length) {
      $("obs-error").textContent = "Enter at least one observation.";
      return;
    }
    const observations = wanted.map(([parameter, raw]) =>
      ({ parameter, value: ["consciousness", "oxygen"].includes(parameter) ? raw : Number(raw) }));
    let saved;
    try {
      saved = await api("/v1/patients/" + encodeURIComponent(patientId) + "/observation-sets", {
        method: "POST", body: { measured_at: measured.toISOString(), by: me(), observations },
      });
    } catch (err) {
      // Nothing of the set was stored: the fields keep their values to be corrected and sent again.
      $("obs-error").textContent = "Not saved, none of these observations was recorded: " + refusal(err, wanted);
      return;
    }
    for (const [parameter] of wanted) form.elements[parameter].value = "";
    await onSaved();
    // The service's answer decides (the plan may have changed since the page loaded it; onSaved
    // reloaded it, so the reason given is the current one).
    const said = "Saved by you at " + fmtTime(new Date().toISOString()) + ": " + wanted.map(([parameter]) => OBS_LABEL[parameter]).join(", ") + ".";
    $("obs-status").textContent = said + " " + (saved.scored ? "NEWS2 is scored with them."
      : unscoredWhy || "They are not scored: this patient's care plan does not score NEWS2, so they raise no alert.");
    $("obs-status").className = saved.scored ? "" : "reach";
  });
}

// What to correct: the refused field by its label when the 422 names it (errors[].loc).
function refusal(err, wanted) {
  if (!(err instanceof ApiError && err.status === 422)) return err.message;
  const first = (err.body && err.body.errors && err.body.errors[0]) || null;
  const loc = first ? first.loc : [];
  const item = loc[1] === "observations" && typeof loc[2] === "number" ? wanted[loc[2]] : null;
  const field = item ? OBS_LABEL[item[0]] : loc[1] === "measured_at" ? "Measured at" : null;
  return unitsIn(field ? "check " + field + ": " + first.msg : "check the values: " + err.message);
}
