"""Missed readings and technical alerts: the rules about data that is *not* arriving.

Missed readings (clinical-rules.md §1.8): **no national rule was found [unconfirmed]**. The only
confirmed practice is local (Dorset "you may get a call to follow up"; Inhealthcare's re-take in
30 min, which is about out-of-range values, not missed ones; RMH txtmon alerts for a missed
submission). So the overdue ladder is **local practice, configured per ward** and must never be
presented as an NHS standard; this module ships no default ladder. Schedules such as 09:00/13:00/17:00
are the Dorset example (§1.4); CO@h asked for readings "usually three times a day".

Technical alerts (style.md practice 17; §5.3 item 3 "route technical alerts separately, at low
priority"): gateway offline (from the retained status / last will), stale data (no reading for N
minutes) and device battery low. Their thresholds are local settings too -- the sources give none.

Times of day are local wall-clock times; the caller passes the ward's `tzinfo` (e.g. a ZoneInfo it
built), so this module reads no time-zone files and no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from alerting import codec
from alerting.model import Priority
from alerting.results import RuleResult, Status

OVERDUE_RULE = "overdue"
GATEWAY_OFFLINE_RULE = "gateway-offline"
STALE_DATA_RULE = "stale-data"
BATTERY_LOW_RULE = "battery-low"


def parse_schedule(times: Sequence[str]) -> tuple[time, ...]:
    """Parse "HH:MM" slots; they must be valid and strictly increasing within the day."""
    parsed: list[time] = []
    for text in times:
        digits = text[:2] + text[3:]
        if len(text) != len("HH:MM") or text[2:3] != ":" or not (digits.isascii() and digits.isdigit()):
            raise ValueError(f"schedule time {text!r} is not HH:MM")
        try:
            slot = time(int(text[:2]), int(text[3:]))
        except ValueError as err:
            raise ValueError(f"schedule time {text!r} is not a time of day (00:00-23:59)") from err
        if parsed and slot <= parsed[-1]:
            raise ValueError(f"schedule times must be in increasing order without repeats, {text} is not")
        parsed.append(slot)
    return tuple(parsed)


@dataclass(frozen=True, slots=True)
class OverdueStep:
    """`after_s` seconds past a missed slot: raise `priority` and ask for `action` (e.g. prompt-patient)."""

    after_s: float
    priority: Priority
    action: str

    def to_dict(self) -> dict[str, object]:
        return {"after_s": self.after_s, "priority": self.priority.value, "action": self.action}


@dataclass(frozen=True, slots=True)
class OverdueLadder:
    """A ward's missed-reading ladder (local practice, §1.8). A reading up to `early_tolerance_s`
    before a slot counts for it."""

    steps: tuple[OverdueStep, ...]
    early_tolerance_s: float = 0.0

    def validate(self) -> None:
        """Raise ValueError saying what is wrong with the ladder."""
        if not self.steps:
            raise ValueError("an overdue ladder needs at least one step")
        if self.early_tolerance_s < 0:
            raise ValueError("early_tolerance_s must not be negative")
        previous: OverdueStep | None = None
        for step in self.steps:
            if step.after_s <= 0:
                raise ValueError(f"overdue step after_s must be positive, got {step.after_s}")
            if not step.action:
                raise ValueError("each overdue step must name its action (e.g. prompt-patient)")
            if previous is not None and step.after_s <= previous.after_s:
                raise ValueError("overdue steps must be in increasing order of after_s")
            if previous is not None and step.priority < previous.priority:
                raise ValueError("a later overdue step must not have a lower priority than an earlier one")
            previous = step

    def to_dict(self) -> dict[str, object]:
        return {"steps": [s.to_dict() for s in self.steps], "early_tolerance_s": self.early_tolerance_s}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> OverdueLadder:
        codec.reject_unknown(data, frozenset({"steps", "early_tolerance_s"}), "overdue ladder")
        raw = data.get("steps")
        if not isinstance(raw, list):
            raise codec.DecodeError(f"steps: expected a list, got {raw!r}")
        steps = []
        for index, item in enumerate(raw):
            entry = codec.mapping_in(item, f"steps[{index}]")
            codec.reject_unknown(entry, frozenset({"after_s", "priority", "action"}), f"steps[{index}]")
            steps.append(
                OverdueStep(
                    codec.num_in(entry.get("after_s"), f"steps[{index}].after_s"),
                    codec.priority_in(entry.get("priority"), f"steps[{index}].priority"),
                    codec.str_in(entry.get("action"), f"steps[{index}].action"),
                )
            )
        tolerance = codec.num_in(data.get("early_tolerance_s", 0.0), "early_tolerance_s")
        return cls(tuple(steps), tolerance)


def next_slot_after(moment: datetime, times: Sequence[time], tz: tzinfo) -> datetime:
    """The first scheduled slot strictly after `moment`, in UTC."""
    if not times:
        raise ValueError("the schedule has no times")
    local_day = moment.astimezone(tz).date()
    for offset in range(3):  # a slot exists within a day; a third day covers time-zone shifts
        day = local_day + timedelta(days=offset)
        for slot_time in times:
            slot = datetime.combine(day, slot_time, tzinfo=tz).astimezone(UTC)
            if slot > moment:
                return slot
    raise AssertionError("unreachable: every day has a slot")  # pragma: no cover


def overdue(
    *,
    times: Sequence[time],
    tz: tzinfo,
    ladder: OverdueLadder,
    monitoring_since: datetime,
    last_valid_at: datetime | None,
    now: datetime,
) -> RuleResult:
    """Is the patient overdue? The first slot after enrolment not covered by a valid reading decides.

    A slot is covered by a valid reading measured no earlier than `early_tolerance_s` before it; a
    later reading covers every earlier slot (the patient is back in touch).
    """
    if not times:
        return RuleResult(OVERDUE_RULE, Status.NOT_APPLICABLE, technical=True, reasons=("no-schedule",))
    anchor = monitoring_since
    if last_valid_at is not None:
        anchor = max(anchor, last_valid_at + timedelta(seconds=ladder.early_tolerance_s))
    slot = next_slot_after(anchor, times, tz)
    late_by = (now - slot).total_seconds()
    reached = [(index, step) for index, step in enumerate(ladder.steps) if late_by >= step.after_s]
    if not reached:
        return RuleResult(OVERDUE_RULE, Status.CLEAR, technical=True)
    index, step = reached[-1]
    detail = {"slot": codec.dt_out(slot), "step": index, "action": step.action, "overdue_s": late_by}
    return RuleResult(
        OVERDUE_RULE,
        Status.ALERT,
        priority=step.priority,
        technical=True,
        reasons=(f"no-valid-reading-since-slot:{step.action}",),
        detail=detail,
    )


@dataclass(frozen=True, slots=True)
class TechnicalPolicy:
    """Per-ward thresholds for technical alerts (local settings: the sources give no figures)."""

    gateway_offline_after_s: float
    stale_after_s: float
    battery_low_percent: float
    #: §5.3 item 3: technical alerts at low priority; a battery warning is the lowest grade (§5.1).
    offline_priority: Priority = Priority.LOW
    stale_priority: Priority = Priority.LOW
    battery_priority: Priority = Priority.ADVISORY

    def validate(self) -> None:
        if self.gateway_offline_after_s < 0 or self.stale_after_s <= 0:
            raise ValueError("gateway_offline_after_s must be >= 0 and stale_after_s > 0 seconds")
        if not 0 < self.battery_low_percent < 100:
            raise ValueError(f"battery_low_percent must be between 0 and 100, got {self.battery_low_percent}")


def gateway_offline(*, online: bool, since: datetime, now: datetime, policy: TechnicalPolicy) -> RuleResult:
    """The gateway said (or its last will said) it is offline, for longer than the grace time."""
    down_s = (now - since).total_seconds()
    if online or down_s < policy.gateway_offline_after_s:
        return RuleResult(GATEWAY_OFFLINE_RULE, Status.CLEAR, technical=True)
    return RuleResult(
        GATEWAY_OFFLINE_RULE,
        Status.ALERT,
        priority=policy.offline_priority,
        technical=True,
        reasons=("gateway-offline",),
        detail={"offline_since": codec.dt_out(since), "offline_s": down_s},
    )


def stale_data(
    *, last_reading_at: datetime | None, monitoring_since: datetime, now: datetime, policy: TechnicalPolicy
) -> RuleResult:
    """No valid reading for `stale_after_s` (continuous monitoring; spot checks use `overdue`)."""
    reference = monitoring_since if last_reading_at is None else max(last_reading_at, monitoring_since)
    silent_s = (now - reference).total_seconds()
    if silent_s < policy.stale_after_s:
        return RuleResult(STALE_DATA_RULE, Status.CLEAR, technical=True)
    return RuleResult(
        STALE_DATA_RULE,
        Status.ALERT,
        priority=policy.stale_priority,
        technical=True,
        reasons=("no-valid-reading",),
        detail={"last_reading_at": codec.dt_out(last_reading_at), "silent_s": silent_s},
    )


def battery_low(*, level_percent: float | None, measured_at: datetime, policy: TechnicalPolicy) -> RuleResult:
    """The device reported a battery level below the ward's threshold (Battery Service level, %)."""
    if level_percent is None:
        return RuleResult(BATTERY_LOW_RULE, Status.NOT_APPLICABLE, technical=True, measured_at=measured_at)
    if level_percent >= policy.battery_low_percent:
        return RuleResult(BATTERY_LOW_RULE, Status.CLEAR, technical=True, measured_at=measured_at)
    return RuleResult(
        BATTERY_LOW_RULE,
        Status.ALERT,
        priority=policy.battery_priority,
        technical=True,
        measured_at=measured_at,
        reasons=("battery-low",),
        detail={"level_percent": level_percent},
    )
