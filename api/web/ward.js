// Ward queue page: fetches /v1 JSON with the bearer token the user pasted (sessionStorage only)
// and renders it with textContent only: nothing from the server is ever parsed as HTML.
"use strict";
(() => {
  const TOKEN_KEY = "oxiward.api-token";
  const REFRESH_MS = 5000; // a few seconds: the queue's inputs change on each reading / alert
  const BAND_LABEL = { red: "Red ≤92%", amber: "Amber 93–94%", green: "Green ≥95%", unknown: "No reading" };
  const PRIORITIES = new Set(["high", "medium", "low", "advisory"]);

  const $ = (id) => document.getElementById(id);
  const match = location.pathname.match(/^\/ward\/([A-Za-z0-9_-]{1,64})\/?$/);
  const wardId = match ? match[1] : null;
  let timer = null;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function setStatus(text, isError) {
    $("status").textContent = text;
    $("status").classList.toggle("error", Boolean(isError));
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  class Unauthorised extends Error {}

  async function api(path) {
    const res = await fetch(path, {
      headers: { Authorization: "Bearer " + token(), Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    });
    if (res.status === 401) throw new Unauthorised("token not accepted");
    if (!res.ok) {
      let detail = res.status + " " + res.statusText;
      try {
        const body = await res.json();
        if (body && typeof body.detail === "string") detail = body.detail;
      } catch (_) { /* not JSON: keep the status line */ }
      throw new Error(detail);
    }
    return res.json();
  }

  function fmtNumber(value) {
    if (value === null || value === undefined) return "—";
    return Number.isInteger(value) ? String(value) : Number(value).toFixed(1);
  }

  function fmtAge(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.max(0, Math.round(seconds));
    if (s < 90) return s + " s ago";
    if (s < 90 * 60) return Math.round(s / 60) + " min ago";
    if (s < 48 * 3600) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " days ago";
  }

  function alertCell(item) {
    const td = el("td");
    const alert = item.worst_alert;
    if (!alert) {
      td.append(el("span", "muted", "none"));
      return td;
    }
    const prio = PRIORITIES.has(alert.priority) ? alert.priority : "low";
    td.append(el("span", "prio prio-" + prio, alert.priority), " ");
    td.append(el("span", null, alert.rule));
    const when = new Date(alert.raised_at);
    const parts = ["raised " + (isNaN(when) ? alert.raised_at : when.toLocaleTimeString())];
    parts.push(alert.acknowledged_by ? "acknowledged by " + alert.acknowledged_by : alert.state);
    if (item.open_alerts > 1) parts.push(item.open_alerts + " open alerts");
    td.append(el("div", "muted", parts.join(" · ")));
    return td;
  }

  function row(item) {
    const band = Object.hasOwn(BAND_LABEL, item.band) ? item.band : "unknown";
    const latest = item.latest;
    const tr = el("tr");
    tr.append(el("td", "ref", item.ref));
    tr.append(el("td", "num", latest ? fmtNumber(latest.spo2) : "—"));
    tr.append(el("td", "num", latest ? fmtNumber(latest.pulse) : "—"));
    const bandCell = el("td");
    bandCell.append(el("span", "band band-" + band, BAND_LABEL[band]));
    tr.append(bandCell);
    tr.append(el("td", null, latest ? fmtAge(latest.age_seconds) : "never"));
    tr.append(alertCell(item));
    return tr;
  }

  function renderQueue(queue) {
    $("rows").replaceChildren(...queue.items.map(row));
    $("queue").hidden = queue.items.length === 0;
    $("empty").hidden = queue.items.length !== 0;
  }

  function renderWards(list) {
    const items = list.wards.map((w) => {
      const li = el("li");
      const a = el("a", null, w);
      a.href = "/ward/" + encodeURIComponent(w);
      li.append(a);
      return li;
    });
    $("ward-list").replaceChildren(...items);
    if (items.length === 0) $("ward-list").append(el("li", "muted", "No wards yet."));
    $("wards").hidden = false;
  }

  function showLogin(message) {
    clearTimeout(timer);
    sessionStorage.removeItem(TOKEN_KEY);
    $("login").hidden = false;
    $("forget").hidden = true;
    $("queue").hidden = true;
    $("wards").hidden = true;
    setStatus(message, Boolean(message));
    $("token").focus();
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      if (wardId) {
        renderQueue(await api("/v1/wards/" + encodeURIComponent(wardId) + "/queue"));
      } else {
        renderWards(await api("/v1/wards"));
      }
      setStatus("Updated " + new Date().toLocaleTimeString(), false);
    } catch (err) {
      if (err instanceof Unauthorised) {
        showLogin("That token was not accepted. Paste a valid one.");
        return;
      }
      setStatus("Not updated: " + err.message + " (retrying)", true);
    }
    if (wardId) timer = setTimeout(refresh, REFRESH_MS);
  }

  function start() {
    $("login").hidden = true;
    $("forget").hidden = false;
    refresh();
  }

  $("title").textContent = wardId ? "Ward " + wardId + ": queue" : "Oxiward wards";
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    $("token").value = "";
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    start();
  });
  $("forget").addEventListener("click", () => showLogin(""));
  if (token()) start();
  else showLogin("");
})();
