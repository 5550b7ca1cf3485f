"""Rule `o2home-band`: one reading + the patient's open alert for the rule -> what to do.

- Amber raises a **medium** alert, red a **high** one (clinical-rules.md §1.2 bands; priorities are
  ours to set, §5.1: amber = prompt response, red = immediate).
- Alerts **latch** (IEC 60601-1-8 latching alarm, §5.1): an open alert is never duplicated and never
  downgraded or closed by a better reading; only a clinician resolves it. A worse reading upgrades
  it in place (amber -> red: same alert, priority high), like ACM's "escalate" phase (§5.2).
- Unscorable readings never drive the band (§6.2.2): the decision is UNSCORED, with the reasons.
- Questionable readings (§6.2.4): a red value still raises or upgrades, marked questionable, so a
  value that may be real is not hidden; a questionable amber or green value does not escalate
  (UNSCORED, reason `questionable-not-red`): the patient is asked for a repeat instead (§6.2.3).
- A reading measured more than `late_after` before `now` is judged on its own value and measured
  time like any other and marked late (§6.2.5: show it as late-arriving, not as "now").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from alerting.bands import o2home_band
from alerting.model import AlertSnapshot, Band, Observation, Priority, Quality, QualityLevel
from alerting.quality import assess

RULE = "o2home-band"
DEFAULT_LATE_AFTER = timedelta(minutes=10)

BAND_PRIORITY: dict[Band, Priority | None] = {
    Band.GREEN: None,
    Band.AMBER: Priority.MEDIUM,
    Band.RED: Priority.HIGH,
}


class Action(StrEnum):
    RAISE = "raise"  # no open alert: open a new one
    UPGRADE = "upgrade"  # the open alert gets a higher priority, same alert id
    KEEP = "keep"  # an open alert exists and this reading changes nothing (latched)
    NONE = "none"  # in band green and nothing open: nothing to do
    UNSCORED = "unscored"  # the reading may not drive the band rule


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    quality: Quality
    #: Band of the value when it is plausible at all (also for UNSCORED, for the record), else None.
    band: Band | None
    #: RAISE / UPGRADE: the alert's new priority. KEEP: the open alert's priority. Otherwise None.
    priority: Priority | None
    late: bool
    questionable: bool
    #: Why: the quality reasons for UNSCORED, plus `questionable-not-red` where that applies.
    reasons: tuple[str, ...] = ()
    rule: str = RULE


def evaluate(
    obs: Observation,
    open_alert: AlertSnapshot | None,
    now: datetime,
    *,
    late_after: timedelta = DEFAULT_LATE_AFTER,
) -> Decision:
    """Apply the CO@h band rule to `obs`. `now` is the caller's clock (this package never reads one)."""
    quality = assess(obs)
    late = now - obs.measured_at > late_after
    questionable = quality.level is QualityLevel.QUESTIONABLE
    if quality.level is QualityLevel.UNSCORABLE or obs.spo2 is None:
        return Decision(Action.UNSCORED, quality, None, None, late, False, quality.reasons)
    band = o2home_band(obs.spo2)
    if questionable and band is not Band.RED:
        reasons = (*quality.reasons, "questionable-not-red")
        return Decision(Action.UNSCORED, quality, band, None, late, True, reasons)
    wanted = BAND_PRIORITY[band]
    if open_alert is None:
        action = Action.NONE if wanted is None else Action.RAISE
        return Decision(action, quality, band, wanted, late, questionable)
    if wanted is not None and wanted > open_alert.priority:
        return Decision(Action.UPGRADE, quality, band, wanted, late, questionable)
    return Decision(Action.KEEP, quality, band, open_alert.priority, late, questionable)
