"""Escalation: an alert nobody acknowledges goes to the next tier, repeatedly, until someone does.

ACM's escalation "designed to eliminate notification 'black holes'" (S-ACM, clinical-rules.md §5.2):
when nobody accepts, the next recipient is told. The tiers (e.g. ward nurse -> ward clinician ->
on-call) and their times are **local, configured per ward**: the sources give no figures (the
1 h / 30 min assessment targets in §2.4 are one study's interpretation [secondary]), so no default
times ship here. Every step is recorded on the alert as an `escalated` event.

- Tier 0 is notified when the alert is raised; an unacknowledged alert moves to tier k+1 once tier
  k has had `ack_within_s` seconds; at the last tier it is re-sent every `ack_within_s` (if
  `repeat_last`), so escalation continues until acknowledged.
- Acknowledged or resolved alerts never escalate; a snoozed alert waits until the snooze ends.
- Only alerts at `min_priority` or above escalate (default medium: IEC "low" means delayed response
  or awareness, §5.1; technical advisories are routed apart, §5.3 item 3).
- `due_escalations` is pure: the scheduler calls it with its clock (`now`) whether or not a reading
  arrives; a step's time is `now`, so a late scheduler never gives the next tier less than its time.
- A clinician can escalate by hand (`escalate_by_hand`, issue 6): the next tier is told now, with
  the clinician's name and reason recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from alerting import codec
from alerting.alerts import Alert, AlertEvent, EventKind, NotificationKind
from alerting.lifecycle import (
    LifecycleError,
    Superseded,
    Transition,
    notify,
    reopen,
    require_name,
    require_open,
    require_seen_priority,
)
from alerting.model import AlertState, Priority

#: IEC: low = delayed response or awareness (§5.1): it does not page up a ladder.
DEFAULT_MIN_PRIORITY = Priority.MEDIUM


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    #: Seconds this tier has to acknowledge before the next tier is told.
    ack_within_s: float


@dataclass(frozen=True, slots=True)
class EscalationLadder:
    tiers: tuple[Tier, ...]
    min_priority: Priority = DEFAULT_MIN_PRIORITY
    repeat_last: bool = True

    def validate(self) -> None:
        """Raise ValueError saying what is wrong (checked when a ward's settings are loaded)."""
        if not self.tiers:
            raise ValueError("an escalation ladder needs at least one tier")
        names = [tier.name for tier in self.tiers]
        if any(not name.strip() for name in names) or len(set(names)) != len(names):
            raise ValueError(f"escalation tiers need distinct, non-empty names, got {names}")
        for tier in self.tiers:
            if tier.ack_within_s <= 0:
                raise ValueError(f"tier {tier.name}: ack_within_s must be positive, got {tier.ack_within_s}")

    def to_dict(self) -> dict[str, object]:
        return {
            "tiers": [{"name": t.name, "ack_within_s": t.ack_within_s} for t in self.tiers],
            "min_priority": self.min_priority.value,
            "repeat_last": self.repeat_last,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> EscalationLadder:
        codec.reject_unknown(data, frozenset({"tiers", "min_priority", "repeat_last"}), "escalation ladder")
        raw = data.get("tiers")
        if not isinstance(raw, list):
            raise codec.DecodeError(f"tiers: expected a list, got {raw!r}")
        tiers = []
        for index, item in enumerate(raw):
            entry = codec.mapping_in(item, f"tiers[{index}]")
            codec.reject_unknown(entry, frozenset({"name", "ack_within_s"}), f"tiers[{index}]")
            tiers.append(
                Tier(
                    codec.str_in(entry.get("name"), f"tiers[{index}].name"),
                    codec.num_in(entry.get("ack_within_s"), f"tiers[{index}].ack_within_s"),
                )
            )
        ladder = cls(
            tuple(tiers),
            codec.priority_in(data.get("min_priority", DEFAULT_MIN_PRIORITY.value), "min_priority"),
            codec.bool_in(data.get("repeat_last", True), "repeat_last"),
        )
        try:
            ladder.validate()
        except ValueError as err:
            raise codec.DecodeError(str(err)) from err
        return ladder


def ward_ladder(nurse_s: float, clinician_s: float, on_call_s: float) -> EscalationLadder:
    """The issue's tiers, ward nurse -> ward clinician -> on-call, with the ward's own times."""
    return EscalationLadder(
        (Tier("ward-nurse", nurse_s), Tier("ward-clinician", clinician_s), Tier("on-call", on_call_s))
    )


@dataclass(frozen=True, slots=True)
class EscalationStep:
    alert_id: str
    from_tier: int
    to_tier: int
    tier_name: str
    at: datetime
    #: The last tier told again (no further tier to go to).
    repeat: bool


def _due(alert: Alert, ladder: EscalationLadder, now: datetime) -> EscalationStep | None:
    if alert.state is not AlertState.OPEN or alert.priority < ladder.min_priority or alert.is_snoozed(now):
        return None
    tier = min(alert.tier, len(ladder.tiers) - 1)
    since = alert.tier_since or alert.raised_at
    if (now - since).total_seconds() < ladder.tiers[tier].ack_within_s:
        return None
    last = tier == len(ladder.tiers) - 1
    if last and not ladder.repeat_last:
        return None
    to_tier = tier if last else tier + 1
    return EscalationStep(alert.alert_id, alert.tier, to_tier, ladder.tiers[to_tier].name, now, last)


def due_escalations(alerts: Iterable[Alert], ladder: EscalationLadder, now: datetime) -> list[EscalationStep]:
    """One step for each alert whose tier has had its time without an acknowledgement."""
    return [step for alert in alerts if (step := _due(alert, ladder, now)) is not None]


def apply_escalation(alert: Alert, step: EscalationStep) -> Transition:
    """Record the step on the alert and notify the tier."""
    if step.alert_id != alert.alert_id:
        raise ValueError("the escalation step is for another alert")
    detail = f"{'repeat to' if step.repeat else 'to'} {step.tier_name}"
    event = AlertEvent(step.at, EventKind.ESCALATED, alert.priority, None, detail, step.to_tier)
    escalated = replace(alert, tier=step.to_tier, tier_since=step.at, events=(*alert.events, event))
    return Transition(
        escalated, (notify(escalated, NotificationKind.ESCALATED, step.at, repeat=step.repeat),)
    )


def escalate(alerts: Iterable[Alert], ladder: EscalationLadder, now: datetime) -> list[Transition]:
    """`due_escalations` applied: the escalated alerts with their notifications."""
    by_id = {alert.alert_id: alert for alert in alerts}
    return [
        apply_escalation(by_id[step.alert_id], step) for step in due_escalations(by_id.values(), ladder, now)
    ]


def escalate_by_hand(
    alert: Alert,
    ladder: EscalationLadder | None,
    by: str,
    reason: str,
    now: datetime,
    *,
    from_tier: int | None = None,
    seen_priority: Priority | None = None,
) -> Transition:
    """A clinician sends the alert to the next tier of the ward's ladder now, without waiting.

    - Refused (LifecycleError) when the alert is resolved, when `by` or `reason` is blank, and when
      the ward has no ladder: there is no tier to send it to (the ward's alerting configuration
      must name its tiers first; REST 422).
    - Refused as `Superseded` (REST 409, nothing changed) when `from_tier` -- the tier the clinician
      saw -- is given and the alert is no longer there: someone else (or the ladder) escalated it
      meanwhile, so two clinicians pressing at once never skip a tier unseen; and when
      `seen_priority` is given and an upgrade has changed the priority since
      (`require_seen_priority`): the next tier would be told of a priority the clinician never saw.
    - Moves the alert to the next tier; at the last tier (or beyond it, after the ladder was
      shortened) the last tier is told again (`repeat`), whatever `repeat_last` says: a person asked.
    - Any priority may be escalated by hand: `min_priority` only keeps the clock from paging up the
      ladder, not a clinician's judgement.
    - Ends any snooze, and an acknowledged alert goes back to OPEN at the new tier: the new tier
      must accept it, and if it does not the ladder keeps climbing from there (`tier_since = now`),
      so a hand escalation never ends in a black hole (§5.2).
    - Records an `escalated` event with `by` and the detail "by hand to <tier name>: <reason>", and
      returns an ESCALATED notification for the tier (rota tier k is told at ladder tier k) that
      pages even for late data: a person asked for the next tier now (`by_hand`).
    """
    require_open(alert, "escalate")
    require_seen_priority(alert, seen_priority, "escalate")
    require_name(by, "escalating")
    if not reason.strip():
        raise LifecycleError("escalating by hand needs a reason (why the next tier must look now)")
    if ladder is None:
        raise LifecycleError(
            "this ward has no escalation ladder, so there is no next tier to escalate to: "
            "set `escalation.tiers` in the ward's alerting configuration"
        )
    if from_tier is not None and alert.tier != from_tier:
        raise Superseded(_moved(alert, from_tier))
    last = len(ladder.tiers) - 1
    tier = min(alert.tier, last)
    to_tier = min(tier + 1, last)
    detail = f"by hand to {ladder.tiers[to_tier].name}: {reason.strip()}"
    event = AlertEvent(now, EventKind.ESCALATED, alert.priority, by, detail, to_tier)
    escalated = replace(reopen(alert, now), tier=to_tier, events=(*alert.events, event))
    note = notify(escalated, NotificationKind.ESCALATED, now, repeat=tier == last, by_hand=True)
    return Transition(escalated, (note,))


def _moved(alert: Alert, seen: int) -> str:
    said = f"alert {alert.alert_id} is at tier {alert.tier} now, not tier {seen}"
    last = next((e for e in reversed(alert.events) if e.kind is EventKind.ESCALATED), None)
    if last is None:
        return said
    return f"{said}: already escalated by {last.by or 'the ladder'} at {last.at.isoformat()}"
