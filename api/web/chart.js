// SpO2 and pulse trend chart as inline SVG, drawn here rather than with a chart library: the page
// needs one chart type, and a few dozen lines avoid shipping (and vetting) a large dependency.
// Input: the service's per-bucket min/mean/max series (GET .../readings/series), alerts to mark,
// and the patient's band edges to shade. The readings table is the chart's text alternative.
"use strict";
import { fmtNumber, fmtTime } from "/ward-assets/common.js";

const NS = "http://www.w3.org/2000/svg";
const W = 900;
const LEFT = 56;
const RIGHT = 860;
const SPO2 = { top: 24, bottom: 214 };
const PULSE = { top: 250, bottom: 340 };
const H = 372;
const MAX_DOTS = 200;

function node(tag, attrs, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

function scale(lo, hi, a, b) {
  return (v) => a + ((v - lo) / (hi - lo || 1)) * (b - a);
}

// Mean line, broken where buckets are missing (no readings then: never draw a line through a gap),
// with a dot per point when there are few: three spot checks a day would otherwise draw nothing.
function line(svg, points, gapMs, cls) {
  let d = "";
  let prev = null;
  for (const [t, x, y] of points) {
    d += (prev === null || t - prev > gapMs ? "M" : "L") + x.toFixed(1) + " " + y.toFixed(1) + " ";
    prev = t;
  }
  svg.append(node("path", { d: d.trim(), class: cls }));
  if (points.length <= MAX_DOTS) {
    for (const [, x, y] of points) svg.append(node("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 3.5, class: cls + " dot" }));
  }
}

function zones(svg, y, spo2Lo, bands) {
  // Shaded zones: CO@h bands (clinical-rules.md §1.2, or the plan's personal edges) or the target range.
  const rect = (from, to, cls) => {
    const a = Math.max(from, spo2Lo);
    if (to <= a) return;
    svg.append(node("rect", { x: LEFT, width: RIGHT - LEFT, y: y(to), height: y(a) - y(to), class: cls }));
  };
  if (bands.target) {
    rect(spo2Lo, bands.target[0], "zone-amber");
    rect(bands.target[0], bands.target[1] + 1, "zone-green");
  } else if (bands.green_from) {
    rect(spo2Lo, bands.amber_from, "zone-red");
    rect(bands.amber_from, bands.green_from, "zone-amber");
    rect(bands.green_from, 100, "zone-green");
  }
}

function axes(svg, x, from, to, ySpo2, yPulse, spo2Lo, pulseHi) {
  for (let v = Math.ceil(spo2Lo / 5) * 5; v <= 100; v += 5) {
    svg.append(node("line", { x1: LEFT - 4, x2: LEFT, y1: ySpo2(v), y2: ySpo2(v), class: "axis" }));
    svg.append(node("text", { x: LEFT - 8, y: ySpo2(v) + 4, "text-anchor": "end" }, v + "%"));
  }
  for (let v = 40; v <= pulseHi; v += 40) {
    svg.append(node("text", { x: LEFT - 8, y: yPulse(v) + 4, "text-anchor": "end" }, String(v)));
  }
  svg.append(node("text", { x: LEFT, y: 16 }, "SpO₂ %"));
  svg.append(node("text", { x: LEFT, y: PULSE.top - 8 }, "Pulse /min"));
  svg.append(node("line", { x1: LEFT, x2: LEFT, y1: SPO2.top, y2: PULSE.bottom, class: "axis" }));
  svg.append(node("line", { x1: LEFT, x2: RIGHT, y1: PULSE.bottom, y2: PULSE.bottom, class: "axis" }));
  for (let i = 0; i <= 4; i++) {
    const t = from + ((to - from) * i) / 4;
    svg.append(node("text", { x: x(t), y: H - 10, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle", class: "tick-time" },
      fmtTime(new Date(t).toISOString())));
  }
}

// A bucket of several minutes holds its lowest value somewhere inside: say which minutes, not a start
// time that reads as the moment it was measured.
function when(start, bucketSeconds) {
  if (bucketSeconds <= 60) return "at " + fmtTime(start);
  const end = new Date(Date.parse(start) + bucketSeconds * 1000).toISOString();
  return "between " + fmtTime(start) + " and " + fmtTime(end);
}

export function drawChart(container, { buckets, bucketSeconds, alerts, from, to, bands, phrase }) {
  const t0 = Date.parse(from);
  const t1 = Date.parse(to);
  const withSpo2 = buckets.filter((b) => b.spo2.n > 0);
  const lowest = withSpo2.reduce((m, b) => (m === null || b.spo2.min < m.spo2.min ? b : m), null);
  const spo2Lo = Math.min(80, lowest ? Math.floor(lowest.spo2.min) - 2 : 80);
  const pulseHi = Math.max(160, ...buckets.filter((b) => b.pulse.n).map((b) => Math.ceil(b.pulse.max / 20) * 20 + 20));
  const x = scale(t0, t1, LEFT, RIGHT);
  const ySpo2 = scale(spo2Lo, 100, SPO2.bottom, SPO2.top);
  const yPulse = scale(30, pulseHi, PULSE.bottom, PULSE.top);
  const marked = alerts.filter((a) => Date.parse(a.raised_at) >= t0 && Date.parse(a.raised_at) <= t1).length;
  const summary = withSpo2.length
    ? "SpO₂ and pulse " + phrase + ". Lowest SpO₂ " + fmtNumber(lowest.spo2.min) + " % " + when(lowest.start, bucketSeconds) +
      ". " + marked + " alert" + (marked === 1 ? "" : "s") + " marked. The readings table below lists the newest values."
    : "No usable readings " + phrase + ".";
  const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-labelledby": "chart-svg-title" });
  svg.append(node("title", { id: "chart-svg-title" }, summary));
  zones(svg, ySpo2, spo2Lo, bands);
  axes(svg, x, t0, t1, ySpo2, yPulse, spo2Lo, pulseHi);
  const bw = Math.max(1.5, ((RIGHT - LEFT) * bucketSeconds * 1000) / (t1 - t0));
  for (const b of withSpo2) {
    const xs = x(Date.parse(b.start));
    svg.append(node("rect", { x: xs, width: bw, y: ySpo2(b.spo2.max), height: Math.max(1, ySpo2(b.spo2.min) - ySpo2(b.spo2.max)), class: "range" }));
  }
  const gap = bucketSeconds * 1000 * 3;
  const at = (b) => Date.parse(b.start) + (bucketSeconds * 1000) / 2;
  line(svg, withSpo2.map((b) => [at(b), x(at(b)), ySpo2(b.spo2.mean)]), gap, "spo2");
  line(svg, buckets.filter((b) => b.pulse.n).map((b) => [at(b), x(at(b)), yPulse(b.pulse.mean)]), gap, "pulse");
  for (const a of alerts) {
    const t = Date.parse(a.raised_at);
    if (t < t0 || t > t1) continue;
    const mark = node("line", { x1: x(t), x2: x(t), y1: SPO2.top, y2: PULSE.bottom, class: "mark-" + a.priority });
    mark.append(node("title", {}, a.priority + " alert raised " + fmtTime(a.raised_at)));
    svg.append(mark, node("text", { x: x(t) + 3, y: SPO2.top + 12 }, a.priority[0].toUpperCase()));
  }
  container.replaceChildren(svg);
  return summary;
}
