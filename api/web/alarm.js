// Audible cue and desktop notification for new high-priority alerts.
//
// Both are opt-in: browsers only allow sound after a user gesture and notifications after a
// permission prompt, and an unexpected noise on a shared screen is its own hazard. A browser tab is
// not a reliable alerting channel (it may be closed, muted or asleep: anchors.md §4), so this is a
// convenience on top of the service's own delivery, never a replacement for it.
"use strict";
import { $, fmtTime } from "/ward-assets/common.js";

// IEC 60601-1-8 practice as device manuals show it (clinical-rules.md §5.1): the high-priority tone
// is two bursts of five beeps.
const BURSTS = 2;
const BEEPS = 5;
const BEEP_S = 0.12;
const GAP_S = 0.08;
const BURST_GAP_S = 0.6;
const PITCH_HZ = 880;
// Lifecycle events that mean "someone must look now".
const URGENT = new Set(["raised", "upgraded", "escalated", "snooze-overridden"]);

let audio = null;

function beepPattern(bursts) {
  if (!audio) return;
  let t = audio.currentTime + 0.05;
  for (let b = 0; b < bursts; b++) {
    for (let i = 0; i < BEEPS; i++) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = PITCH_HZ;
      gain.gain.value = 0.25;
      osc.connect(gain).connect(audio.destination);
      osc.start(t);
      osc.stop(t + BEEP_S);
      t += BEEP_S + GAP_S;
    }
    t += BURST_GAP_S;
  }
}

function wireSound() {
  const button = $("sound");
  button.addEventListener("click", async () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    if (on) {
      // Created on the click: Chrome's autoplay policy needs a user gesture.
      audio = audio || new AudioContext();
      await audio.resume();
      beepPattern(1); // let the user hear, and set the volume, now rather than during an alert
    } else if (audio) {
      await audio.suspend();
    }
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "Sound: on" : "Sound: off";
  });
}

function notificationsOn() {
  return "Notification" in window && Notification.permission === "granted";
}

function wireNotifications() {
  const button = $("notify");
  const show = () => {
    if (!("Notification" in window)) {
      button.textContent = "Desktop alerts: not supported";
      button.disabled = true;
    } else {
      button.textContent = "Desktop alerts: " + (notificationsOn() ? "on" : Notification.permission === "denied" ? "blocked" : "off");
    }
  };
  button.addEventListener("click", async () => {
    if ("Notification" in window && Notification.permission === "default") await Notification.requestPermission();
    show();
  });
  show();
}

// Called for every alert event of the ward (api/ward_events.py `alert`).
export function onAlertEvent(event, wardId) {
  if (event.priority !== "high" || !URGENT.has(event.event)) return;
  const text = "High alert: " + event.ref + " (" + event.event + " at " + fmtTime(event.at) + ")";
  $("alarm-log").textContent = text;
  if ($("sound").getAttribute("aria-pressed") === "true") beepPattern(BURSTS);
  if (notificationsOn()) {
    // Ward-local reference and priority only: no name, nothing more than the screen shows.
    new Notification("Oxiward: high alert on ward " + wardId, { body: text, tag: event.alert_id, requireInteraction: true });
  }
}

export function wireAlarm() {
  wireSound();
  wireNotifications();
}
