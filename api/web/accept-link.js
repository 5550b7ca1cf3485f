// One-click accept for messages that cannot carry a bearer (SMS, e-mail, chat). Their tracked link
// (/n/<delivery>?t=<token>) records the message read and opens the patient page with
// #accept=<alert>.<delivery>.<token>: a fragment, never sent to a server. Without a session it rides
// along to sign-in and back (common.js toSignIn, signin.js). Signed in, the page keeps it in memory
// only and takes it out of the address bar; when this clinician then acknowledges that alert, the
// delivery is accepted in their name.
"use strict";
import { announce, api, me } from "/ward-assets/common.js";

export const ACCEPT_FRAGMENT = /^#accept=([A-Za-z0-9_-]{1,64})\.([0-9a-f]{32})\.([0-9a-f]{64})$/;
let opened = null;

// Call once the session is known.
export function captureAcceptLink() {
  const m = location.hash.match(ACCEPT_FRAGMENT);
  if (!m) return;
  opened = { alertId: m[1], deliveryId: m[2], token: m[3] };
  history.replaceState(null, "", location.pathname + location.search);
}

// After an acknowledgement on this page: accept the opened message's delivery if this clinician's
// acknowledgement is the one that stands (someone else's first acknowledgement leaves it `read`).
export async function acceptOpenedLink(alertId, alerts) {
  if (!opened || opened.alertId !== alertId) return;
  const { deliveryId, token } = opened;
  opened = null;
  const alert = alerts.find((a) => a.alert_id === alertId);
  if (!alert || alert.state !== "acknowledged" || alert.acknowledged_by !== me()) return;
  try {
    await api("/v1/alerts/deliveries/" + encodeURIComponent(deliveryId) + "/accept", { method: "POST", body: { token } });
    announce("Acknowledged by you; the message you opened is marked accepted.");
  } catch (err) {
    announce("Acknowledged by you; the message you opened could not be marked accepted: " + err.message);
  }
}
