// The patient page (/ward/{ward}/patients/{patient}): now, trend chart, observations, care plan,
// alert history and readings, kept current by the ward's live stream.
"use strict";
import { $, announce, api, ApiError, currentSession, fmtDate, loadSession, pathIds, syncClock, wireHeader } from "/ward-assets/common.js";
import { acceptOpenedLink, captureAcceptLink } from "/ward-assets/accept-link.js";
import { lastMessage, setSnoozeLimit } from "/ward-assets/actions.js";
import { onAlertEvent, wireAlarm } from "/ward-assets/alarm.js";
import { drawChart } from "/ward-assets/chart.js";
import { connectLive } from "/ward-assets/live.js";
import { renderAlertHistory, renderObservations, renderPlan, renderReadings, renderScoring, wireObservationForm } from "/ward-assets/patient-parts.js";
import { renderRow, tickAges } from "/ward-assets/rows.js";

const { wardId, patientId } = pathIds();
const P = "/v1/patients/" + encodeURIComponent(patientId);
const HOUR = 3600 * 1000;
const DAY_MS = 24 * HOUR;
const RANGES = { "24h": 24 * HOUR, "7d": 7 * DAY_MS, all: null };
let patient = null;
let range = "24h";
let alerts = [];
let plan = null;

async function loadNow(focus) {
  const board = await api("/v1/wards/" + encodeURIComponent(patient.ward_id) + "/board");
  syncClock(board.generated_at);
  const row = board.items.find((r) => r.patient_id === patientId);
  $("queue").replaceChildren(...(row ? [renderRow(row, patient.ward_id, afterAction)] : []));
  if (focus) {
    const target = (focus.focusKey && document.querySelector('[data-key="' + CSS.escape(focus.focusKey) + '"]')) ||
      document.querySelector('[data-msg="' + CSS.escape(focus.alertId) + '"]') || $("queue");
    if (!document.querySelector('[data-alert="' + CSS.escape(focus.alertId) + '"]')) announce(lastMessage(focus.alertId) || "");
    target.focus();
  }
}

// The range and how to say it. "Since enrolment" is bounded by how long readings are kept (the
// series refuses more): when that cuts it, the words say so rather than implying the whole stay.
function chartRange(to) {
  const span = RANGES[range];
  const retention = currentSession().retention_hours * HOUR;
  if (span !== null) {
    const from = to - Math.min(span, retention);
    return { from, phrase: "over the last " + (span === 24 * HOUR ? "24 hours" : span / DAY_MS + " days") };
  }
  const enrolled = Date.parse(patient.enrolled_at);
  const on = fmtDate(patient.enrolled_at);
  if (enrolled >= to - retention) return { from: enrolled, phrase: "since enrolment on " + on };
  const days = Math.round(retention / DAY_MS);
  return { from: to - retention, phrase: "over the last " + days + " days only (enrolled " + on + "; readings are kept " + days + " days, older ones are gone)" };
}

async function loadChart() {
  const to = Date.now() + 60000;
  const { from, phrase } = chartRange(to);
  const q = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString() });
  const series = await api(P + "/readings/series?" + q);
  const p = plan ? plan.plan : {};
  // NEWS2 SpO2 scale 1 (clinical-rules.md §2): 0 points from 96 %, 1-2 points at 92-95 %, 3 at 91 % or below.
  const bands = p.rule_pack === "o2home" || !p.rule_pack
    ? { green_from: (p.thresholds || {}).green_from || 95, amber_from: (p.thresholds || {}).amber_from || 93 }
    : p.rule_pack === "news2-scale1"
      ? { green_from: 96, amber_from: 92 }
      : { target: p.target_spo2 || (p.rule_pack === "bts-94-98" ? [94, 98] : [88, 92]) };
  $("chart-summary").textContent = drawChart($("chart"), { buckets: series.buckets, bucketSeconds: series.bucket_seconds, alerts, from: series.from, to: series.to, bands, phrase });
  $("chart-note").textContent = "Line: mean per " + series.bucket_seconds / 60 + " min; grey: lowest to highest. Shaded: " +
    (bands.target ? "target " + bands.target.join("–") + " % (green)" : "green ≥" + bands.green_from + " %, amber, red <" + bands.amber_from + " %") +
    ". Vertical lines: alerts (H high, M medium, L low). Readings the device flagged unusable are left out.";
}

// Every alert of the patient, for the history table and the chart's marks: the list comes a page
// at a time (follow next_cursor, docs/api.md "Lists and cursors").
async function loadAlerts() {
  const all = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: "500" });
    if (cursor !== null) query.set("cursor", cursor);
    const page = await api(P + "/alerts?" + query);
    all.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor !== null);
  alerts = all;
  renderAlertHistory(alerts);
}

async function loadPlan() {
  const [current, history] = await Promise.all([api(P + "/care-plan"), api(P + "/care-plan/history")]);
  plan = current;
  renderPlan(current, history);
  renderScoring(current, patient);
}

async function loadReadings() {
  renderReadings((await api(P + "/recent-readings?limit=20")).items);
}

async function loadObservations() {
  const from = new Date(Date.now() - 3 * 24 * HOUR).toISOString();
  renderObservations(await api(P + "/observations?" + new URLSearchParams({ from, limit: "1000" })));
}

async function loadAll() {
  await Promise.all([loadNow(), loadAlerts(), loadPlan(), loadReadings(), loadObservations()]);
  await loadChart();
}

async function afterAction(focus) {
  try {
    await Promise.all([loadNow(focus), loadAlerts()]);
    if (focus && focus.focusKey === focus.alertId + ":acknowledge") await acceptOpenedLink(focus.alertId, alerts);
  } catch (err) {
    announce("Could not refresh: " + err.message);
  }
}

// Live rows arrive for the whole ward; only this patient's matter here. Coalesced: a continuous
// oximeter changes the row every second; the tables need not follow that fast, the chart (a minute
// per point at best) even less.
const CHART_EVERY_MS = 30000;
let pending = null;
let chartAt = 0;
function onRows(data) {
  if (!data.items.some((r) => r.patient_id === patientId) || pending) return;
  pending = setTimeout(async () => {
    pending = null;
    const work = [loadNow(), loadReadings()];
    if (Date.now() - chartAt > CHART_EVERY_MS) {
      chartAt = Date.now();
      work.push(loadChart());
    }
    try { await Promise.all(work); } catch (err) { announce(err.message); }
  }, 1500);
}

function wireRanges() {
  for (const button of document.querySelectorAll("[data-range]")) {
    button.addEventListener("click", async () => {
      range = button.dataset.range;
      for (const b of document.querySelectorAll("[data-range]")) b.setAttribute("aria-pressed", String(b === button));
      await loadChart();
    });
  }
}

async function main() {
  await loadSession();
  captureAcceptLink();
  wireHeader();
  wireAlarm();
  wireRanges();
  try {
    patient = await api(P);
  } catch (err) {
    announce(err instanceof ApiError && err.status === 403 ? "You are not granted this patient's ward." : "Could not load the patient: " + err.message);
    return;
  }
  $("title").textContent = patient.ref;
  document.title = "Oxiward: " + patient.ref;
  $("back").href = "/ward/" + encodeURIComponent(patient.ward_id);
  $("enrolled").textContent = "Ward " + patient.ward_id + " · enrolled " + fmtDate(patient.enrolled_at) +
    " · oximeter " + (patient.devices.join(", ") || "none assigned");
  if (patient.ward_id !== wardId) history.replaceState(null, "", "/ward/" + encodeURIComponent(patient.ward_id) + "/patients/" + encodeURIComponent(patientId));
  wireObservationForm(patientId, () => Promise.all([loadObservations(), loadNow(), loadPlan()]));
  await loadAll();
  api("/v1/wards/" + encodeURIComponent(patient.ward_id) + "/alerting-config")
    .then((c) => setSnoozeLimit(c.config.snooze_max_s), () => setSnoozeLimit(null));
  connectLive(patient.ward_id, {
    onHello: () => Promise.all([loadNow(), loadAlerts()]),
    onRows,
    onAlert: (event) => {
      onAlertEvent(event, patient.ward_id);
      if (event.patient_id === patientId) loadAlerts().catch(() => {});
    },
  });
  setInterval(() => tickAges(document), 10000);
}

main();
