"""What an alert message says, per privacy level (pure).

No channel ever gets the patient's name or NHS number (the alert record has neither). The default,
`minimal`, is the ward-local reference (`ref`), the priority, what happened and the delivery's tracked
link (which leads to the patient page and carries no patient id); `clinical` adds the rule and the
late / questionable marks. Fields not listed here are never sent: the message is built from an
allow-list, not by removing fields from a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.notify.rota import Privacy

EVENT_TYPE = "alert.notification"


@dataclass(frozen=True, slots=True)
class Context:
    """One notification with what the delivery worker looked up for it."""

    alert_id: str
    patient_id: str
    ward: str
    ref: str
    priority: str
    kind: str
    tier: int
    at: str
    page: bool
    rule: str
    late: bool
    questionable: bool


def tracked_link(base: str, delivery_id: str, token: str) -> str:
    """The delivery's own link (api/routes/tracked_links.py): following it records the message `read`
    and leads to the patient page. `token` is the delivery's accept token (api/notify/tokens.py)."""
    return f"{base.rstrip('/')}/n/{delivery_id}?t={token}"


def body(ctx: Context, privacy: Privacy, link: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": EVENT_TYPE,
        "alert_id": ctx.alert_id,
        "ward": ctx.ward,
        "ref": ctx.ref,
        "priority": ctx.priority,
        "kind": ctx.kind,
        "tier": ctx.tier,
        "at": ctx.at,
        "page": ctx.page,
        "link": link,
    }
    if privacy is Privacy.CLINICAL:
        out |= {"rule": ctx.rule, "late": ctx.late, "questionable": ctx.questionable}
    return out


def text(ctx: Context, privacy: Privacy, link: str) -> tuple[str, str]:
    """(title, body) for people: SMS, e-mail, chat."""
    title = f"Oxiward {ctx.priority.upper()} alert: {ctx.ward} patient {ctx.ref}"
    lines = [f"{ctx.priority.capitalize()} priority alert ({ctx.kind}) for patient {ctx.ref} on {ctx.ward}."]
    if privacy is Privacy.CLINICAL:
        marks = [m for m, on in (("late data", ctx.late), ("questionable", ctx.questionable)) if on]
        lines.append(f"Rule: {ctx.rule}" + (f" ({', '.join(marks)})" if marks else ""))
    if ctx.tier:
        lines.append(f"Escalated: tier {ctx.tier}.")
    lines.append(f"Open: {link}")
    return title, "\n".join(lines)
