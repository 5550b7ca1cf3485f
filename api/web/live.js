// Live updates for a ward (queue page and patient page) over Server-Sent Events.
//
// Why so careful: a ward screen is glanced at, not studied. If the link to the service breaks, the
// page must say so at once and keep saying it until fresh data is back, or a clinician would trust
// numbers that stopped changing. So:
// - any error, "offline" event, or silence longer than WATCHDOG_MS (the server pings every 10 s)
//   shows the banner "Connection lost — data may be out of date since HH:MM";
// - the page reconnects by itself (backing off up to 30 s), and after each (re)connection fetches
//   everything again (handlers.onHello) before the banner goes: events missed meanwhile are covered;
// - a planned renewal ("bye", every few minutes) reconnects without a banner.
"use strict";
import { $, api, fmtTime, serverNow, syncClock } from "/ward-assets/common.js";

const WATCHDOG_MS = 25000;
const MAX_BACKOFF_MS = 30000;

export function connectLive(wardId, handlers) {
  const url = "/v1/wards/" + encodeURIComponent(wardId) + "/events";
  const banner = $("stale");
  let source = null;
  let lastHeard = serverNow();
  let lostSince = null;
  let backoff = 1000;
  let retryTimer = null;

  function heard(event) {
    lastHeard = serverNow();
    const data = JSON.parse(event.data);
    if (data.server_time) syncClock(data.server_time);
    return data;
  }

  function lost() {
    if (lostSince === null) lostSince = lastHeard;
    banner.textContent = "Connection lost — data may be out of date since " + fmtTime(new Date(lostSince).toISOString()) +
      ". Reconnecting…";
    banner.hidden = false;
    document.body.classList.add("is-stale");
  }

  function live() {
    lostSince = null;
    backoff = 1000;
    banner.hidden = true;
    banner.textContent = "";
    document.body.classList.remove("is-stale");
  }

  function close() {
    if (source) source.close();
    source = null;
  }

  function retryLater() {
    close();
    clearTimeout(retryTimer);
    retryTimer = setTimeout(async () => {
      // EventSource hides the HTTP status; ask the session (a 401 goes to the sign-in page).
      try { await api("/v1/web/session"); } catch (_) { /* offline or signed out: keep trying */ }
      open();
    }, backoff);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }

  function open() {
    close();
    source = new EventSource(url);
    source.addEventListener("hello", async (e) => {
      heard(e);
      try {
        await handlers.onHello();
        live();
      } catch (_) {
        lost();
      }
    });
    source.addEventListener("rows", (e) => handlers.onRows(heard(e)));
    source.addEventListener("alert", (e) => handlers.onAlert(heard(e)));
    source.addEventListener("ping", (e) => heard(e));
    source.addEventListener("bye", () => open()); // planned renewal
    source.onerror = () => {
      lost();
      if (!source || source.readyState === EventSource.CLOSED) retryLater();
    };
  }

  // A half-open connection never errors: silence past the pings means it is gone.
  setInterval(() => {
    if (serverNow() - lastHeard > WATCHDOG_MS) {
      lost();
      lastHeard = serverNow(); // one reconnect per watchdog period, not one per tick
      retryLater();
    }
  }, 5000);
  window.addEventListener("offline", lost);
  window.addEventListener("online", () => { backoff = 1000; retryLater(); });
  open();
}
