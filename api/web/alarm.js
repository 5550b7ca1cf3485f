// Audible cue and desktop notification for new high- and medium-priority alerts.
//
// Both are opt-in: browsers only allow sound after a user gesture and notifications after a
// permission prompt, and an unexpected noise on a shared screen is its own hazard. A browser tab is
// not a reliable alerting channel (it may be closed, muted or asleep: anchors.md §4), so this is a
// convenience on top of the service's own delivery, never a replacement for it.
"use strict";
import { $, fmtTime } from "/ward-assets/common.js";

// IEC 60601-1-8 practice as device manuals show it (clinical-rules.md §5.1): a high-priority tone is
// two bursts of five beeps, a medium one three beeps; the two must not be mistaken for each other, so
// the medium tone is also lower. Low priority and technical advisories are visual only (the queue).
const TONES = {
  high: { bursts: 2, beeps: 5, hz: 880 },
  medium: { bursts: 1, beeps: 3, hz: 587 },
};
const BEEP_S = 0.12;
const GAP_S = 0.08;
const BURST_GAP_S = 0.6;
// Lifecycle events that mean "someone must look now".
const URGENT = new Set(["raised", "upgraded", "escalated", "snooze-overridden"]);

let audio = null;

function beepPattern({ bursts, beeps, hz }) {
  if (!audio) return;
  let t = audio.currentTime + 0.05;
  for (let b = 0; b < bursts; b++) {
    for (let i = 0; i < beeps; i++) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = hz;
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
      beepPattern({ ...TONES.high, bursts: 1 }); // heard, and the volume set, now rather than during an alert
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
  const tone = TONES[event.priority];
  if (!tone || !URGENT.has(event.event)) return;
  const word = event.priority === "high" ? "High" : "Medium";
  const text = word + " alert: " + event.ref + " (" + event.event + " at " + fmtTime(event.at) + ")";
  $("alarm-log").textContent = text;
  if ($("sound").getAttribute("aria-pressed") === "true") beepPattern(tone);
  if (notificationsOn()) {
    // Ward-local reference and priority only: no name, nothing more than the screen shows. A high
    // alert's notification stays until dismissed (immediate response); a medium one may time out.
    new Notification("Oxiward: " + event.priority + " alert on ward " + wardId,
      { body: text, tag: event.alert_id, requireInteraction: event.priority === "high" });
  }
}

export function wireAlarm() {
  wireSound();
  wireNotifications();
}
