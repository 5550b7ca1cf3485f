// Acting on an alert: acknowledge, snooze (up to the ward's limit), escalate by hand, resolve with
// an outcome. The name recorded is the signed-in user's, never typed. When two clinicians act on
// the same alert at once the service keeps the first action (an acknowledgement answers with the
// current record; anything after resolution is a 409 with it), and this module says so in words:
// "Already acknowledged by X at HH:MM" — never a silent overwrite, never a silent failure. Every
// action names the priority the page showed (seen_priority): one an upgrade overtook is refused
// (409) rather than applied to a priority the clinician never saw, and the page says so.
"use strict";
import { $, api, ApiError, currentSession, el, fmtTime, me } from "/ward-assets/common.js";

// Result messages outlive the re-render that follows every action and every live update.
const messages = new Map(); // alert id -> { text, bad }
let snoozeMax = null;

const OUTCOMES = [
  "Called patient — reassured, continue monitoring",
  "Advised 999 / emergency department",
  "GP or 111 review arranged",
  "Clinician visit arranged",
  "False alarm — probe off or poor signal",
];

export function setSnoozeLimit(seconds) {
  snoozeMax = seconds;
}

function say(alertId, text, bad) {
  messages.set(alertId, { text, bad });
}

function describe(record, path, shown) {
  if (record.state === "resolved") {
    return "Already resolved by " + record.resolved_by + " at " + fmtTime(record.resolved_at) +
      (record.outcome ? " (" + record.outcome + ")" : "");
  }
  // Upgraded (e.g. amber to red) a moment before the action arrived: nothing was done.
  if (record.priority !== shown.priority) {
    return "Upgraded to " + record.priority.toUpperCase() + " meanwhile; nothing done. Look at it again before acting.";
  }
  // A snooze refused because someone else's snooze runs (the service never replaces it unseen).
  if (path.endsWith("/snooze") && record.snoozed_until) {
    return "Already snoozed by " + record.snoozed_by + " until " + fmtTime(record.snoozed_until);
  }
  // An escalation refused because the alert had already moved up a tier (someone else pressed first).
  const escalated = (record.events || []).filter((e) => e.kind === "escalated").pop();
  if (escalated) {
    return "Already escalated by " + (escalated.by || "the ladder") + " to tier " + escalated.tier + " at " + fmtTime(escalated.at);
  }
  return "The alert changed meanwhile; showing its current state.";
}

// Run one action; turn every answer into a sentence next to the alert.
async function act(alert, path, body, done) {
  try {
    const record = await api(path, { method: "POST", body });
    return done(record);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409 && err.body && err.body.alert) {
      say(alert.alert_id, describe(err.body.alert, path, alert), true);
      return null;
    }
    throw err;
  }
}

async function acknowledge(row, alert) {
  const path = base(row, alert) + "/acknowledge";
  await act(alert, path, { by: me(), seen_priority: alert.priority }, (record) => {
    // Acknowledging is idempotent and the first one stands: if it names someone else, they won.
    if (record.acknowledged_by && record.acknowledged_by !== me()) {
      say(alert.alert_id, "Already acknowledged by " + record.acknowledged_by + " at " + fmtTime(record.acknowledged_at), true);
    } else {
      say(alert.alert_id, "Acknowledged by you at " + fmtTime(record.acknowledged_at), false);
    }
  });
}

function base(row, alert) {
  return "/v1/patients/" + encodeURIComponent(row.patient_id) + "/alerts/" + encodeURIComponent(alert.alert_id);
}

function radio(name, value, label, checked) {
  const id = name + "-" + Math.random().toString(36).slice(2, 8);
  return el("p", { className: "check" }, el("input", { type: "radio", name, value, id, checked, required: true }), el("label", { for: id }, label));
}

// The dialog's fields for each action, and how to read them back into a request body.
const FORMS = {
  snooze: {
    title: "Snooze alert",
    fields() {
      const limit = snoozeMax === null ? 30 : Math.floor(snoozeMax / 60);
      const options = [5, 10, 15, 30, 60].filter((m) => m <= limit);
      return [el("fieldset", {}, el("legend", {}, "Hold reminders and escalation for (at most " + limit + " min on this ward)"),
        ...options.map((m, i) => radio("minutes", String(m), m + " minutes", i === 0)))];
    },
    // seen_snoozed_until: the snooze this clinician saw (if any) is the one they mean to change.
    body: (form, alert) => ({ by: me(), minutes: Number(form.elements.minutes.value), seen_snoozed_until: alert.snoozed_until || null,
      seen_priority: alert.priority }),
    path: "/snooze",
    done: (alert, r) => say(alert.alert_id, "Snoozed by you until " + fmtTime(r.snoozed_until), false),
  },
  escalate: {
    title: "Escalate alert now",
    fields: () => [el("p", {}, el("label", { for: "escalate-reason" }, "Why (optional)"),
      el("textarea", { id: "escalate-reason", name: "reason", rows: 2, maxLength: 400 }))],
    // from_tier: the tier this clinician saw, so a second press at the same moment never skips a tier.
    body: (form, alert) => ({ by: me(), reason: form.elements.reason.value.trim() || "escalated by hand", from_tier: alert.tier || 0,
      seen_priority: alert.priority }),
    path: "/escalate",
    done: (alert, r) => say(alert.alert_id, "Escalated by you to tier " + r.tier + " at " + fmtTime(r.tier_since || r.updated_at), false),
  },
  resolve: {
    title: "Resolve alert",
    // Nothing chosen in advance: a hasty Confirm must not record an outcome nobody chose.
    fields: () => [el("fieldset", { "aria-describedby": "action-error" }, el("legend", {}, "Outcome (choose one)"),
      ...OUTCOMES.map((o) => radio("outcome", o, o, false)), radio("outcome", "Other", "Other (describe below)", false)),
    el("p", {}, el("label", { for: "resolve-note" }, "Note (required for Other)"),
      el("textarea", { id: "resolve-note", name: "note", rows: 2, maxLength: 400 }))],
    body(form) {
      const choice = form.elements.outcome.value;
      const note = form.elements.note.value.trim();
      if (!choice) throw Object.assign(new Error("Choose an outcome: nothing is recorded until you do."), { field: "outcome" });
      if (choice === "Other" && !note) throw Object.assign(new Error("Describe the outcome in the note."), { field: "note" });
      return { by: me(), outcome: note ? choice + " — " + note : choice };
    },
    path: "/resolve",
    done: (alert, r) => say(alert.alert_id, "Resolved by you at " + fmtTime(r.resolved_at) + " (" + r.outcome + ")", false),
  },
};

function openDialog(kind, row, alert, onChanged) {
  const spec = FORMS[kind];
  const dialog = $("action-dialog");
  const form = $("action-form");
  $("action-title").textContent = spec.title;
  $("action-context").textContent = row.ref + " · " + alert.priority.toUpperCase() + " alert raised " + fmtTime(alert.raised_at);
  $("action-fields").replaceChildren(...spec.fields());
  $("action-error").textContent = "";
  form.noValidate = true; // our own message below (read out: role=alert), not the browser's bubble
  form.onsubmit = async (event) => {
    event.preventDefault();
    const confirm = $("action-confirm");
    confirm.disabled = true;
    try {
      await act(alert, base(row, alert) + spec.path, spec.body(form, alert), (r) => spec.done(alert, r));
      dialog.close();
      await onChanged({ focusKey: alert.alert_id + ":" + kind, alertId: alert.alert_id });
    } catch (err) {
      $("action-error").textContent = err.message;
      const field = err.field && form.elements[err.field];
      if (field) (field.focus ? field : field[0]).focus(); // to what is missing
    } finally {
      confirm.disabled = false;
    }
  };
  $("action-cancel").onclick = () => dialog.close();
  dialog.showModal();
}

export function alertActions(row, alert, onChanged) {
  const box = el("div", { className: "actions" });
  const label = (verb) => verb + " " + alert.priority + " alert for " + row.ref;
  const button = (verb, kind, run) => el("button", { type: "button", "aria-label": label(verb), "data-key": alert.alert_id + ":" + kind, onclick: run }, verb);
  if (alert.state === "open") {
    box.append(button("Acknowledge", "acknowledge", async () => {
      try { await acknowledge(row, alert); } catch (err) { say(alert.alert_id, "Not acknowledged: " + err.message, true); }
      await onChanged({ focusKey: alert.alert_id + ":acknowledge", alertId: alert.alert_id });
    }));
  }
  // Escalating by hand is offered only where the service has the operation.
  const kinds = currentSession().can_escalate ? ["snooze", "escalate", "resolve"] : ["snooze", "resolve"];
  for (const kind of kinds) {
    const verb = kind[0].toUpperCase() + kind.slice(1) + "…";
    box.append(button(verb, kind, () => openDialog(kind, row, alert, onChanged)));
  }
  const said = messages.get(alert.alert_id);
  box.append(el("p", { className: "action-msg" + (said && said.bad ? " bad" : ""), role: "status", tabIndex: -1, "data-msg": alert.alert_id },
    said ? said.text : ""));
  return box;
}

// Resolved alerts leave the board; their last message is still worth showing on the page.
export function lastMessage(alertId) {
  const said = messages.get(alertId);
  return said ? said.text : null;
}
