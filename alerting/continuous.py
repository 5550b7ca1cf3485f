"""Continuous mode: a pure state machine that turns per-reading priorities into confirmed alarms.

Sources (clinical-rules.md §5.1 and §5.3):
- **Persistence**: a breach must hold before it alarms. Default 15 s, the Masimo Rad-97 alarm delay
  default (S-RAD97, §5.1; a 15 s delay at a 90 % limit cut alarms by 70 %, S-ATA §5.3). §5.3 item 2
  advises 15-30 s for continuous streams.
- **Rapid desaturation**: the delay is bypassed once SpO2 is `rapid_desat_depth` points below the limit;
  default 10, Rad-97 "Rapid Desat -10%" (S-RAD97, §5.1).
- **Hysteresis**: a confirmed level is only lowered once SpO2 is `hysteresis` points clear of it, so an
  alarm does not flap (§5.3 item 4). The sources give no figure: the default of 1 point is a LOCAL
  choice awaiting clinical sign-off (docs/clinical-rules-implemented.md lists it).

The machine is generic over the rule pack: `classify(spo2)` gives the pack's priority for a value.
A level L (a priority, or worse) is confirmed when every reading for `persistence_s` has been at L or
worse. Hysteresis asks `classify(spo2 - hysteresis)` and `classify(spo2 + hysteresis)`: the level drops only
if it would drop even with SpO2 `hysteresis` points lower or higher (higher matters for NEWS2 scale 2
on oxygen, where high saturations score too, §2.1). Timing uses the readings' measured times, never
a clock (practice 19).

Readings that may not drive a band (unscorable, §6.2.2) break a pending run -- persistence is no
longer proven -- but never clear a confirmed alarm: a probe coming off is not an all-clear. A gap
between readings longer than the persistence time breaks the run for the same reason. A reading older
than the last one applied is ignored (the worker keeps per-patient order; this guards the rest).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from alerting import codec
from alerting.model import Priority

#: S-RAD97 alarm delay default (§5.1).
DEFAULT_PERSISTENCE_S = 15.0
#: S-RAD97 Rapid Desat default, points below the limit (§5.1).
DEFAULT_RAPID_DESAT_DEPTH = 10.0
#: LOCAL default, no source gives a figure (§5.3 item 4 only says "add hysteresis").
DEFAULT_HYSTERESIS = 1.0

Classify = Callable[[float], "Priority | None"]


@dataclass(frozen=True, slots=True)
class ContinuousSettings:
    persistence_s: float = DEFAULT_PERSISTENCE_S
    rapid_desat_depth: float = DEFAULT_RAPID_DESAT_DEPTH
    hysteresis: float = DEFAULT_HYSTERESIS

    def to_dict(self) -> dict[str, object]:
        return {
            "persistence_s": self.persistence_s,
            "rapid_desat_depth": self.rapid_desat_depth,
            "hysteresis": self.hysteresis,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ContinuousSettings:
        codec.reject_unknown(data, frozenset(cls.__dataclass_fields__), "continuous settings")
        default = cls()
        return cls(
            persistence_s=codec.num_in(data.get("persistence_s", default.persistence_s), "persistence_s"),
            rapid_desat_depth=codec.num_in(
                data.get("rapid_desat_depth", default.rapid_desat_depth), "rapid_desat_depth"
            ),
            hysteresis=codec.num_in(data.get("hysteresis", default.hysteresis), "hysteresis"),
        )


@dataclass(frozen=True, slots=True)
class ContinuousState:
    """Per patient and rule.

    `runs[level]` is the measured time since which every reading was at that level or worse.
    """

    confirmed: Priority | None = None
    runs: tuple[tuple[Priority, datetime], ...] = ()
    last_at: datetime | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "confirmed": codec.priority_out(self.confirmed),
            "runs": [[level.value, codec.dt_out(since)] for level, since in self.runs],
            "last_at": codec.dt_out(self.last_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ContinuousState:
        codec.reject_unknown(data, frozenset({"confirmed", "runs", "last_at"}), "continuous state")
        raw_runs = data.get("runs", [])
        if not isinstance(raw_runs, list):
            raise codec.DecodeError(f"runs: expected a list, got {raw_runs!r}")
        runs: list[tuple[Priority, datetime]] = []
        for index, item in enumerate(raw_runs):
            if not isinstance(item, list) or len(item) != 2:
                raise codec.DecodeError(f"runs[{index}]: expected [priority, time], got {item!r}")
            runs.append(
                (codec.priority_in(item[0], f"runs[{index}]"), codec.dt_in(item[1], f"runs[{index}]"))
            )
        return cls(
            confirmed=codec.opt_priority_in(data.get("confirmed"), "confirmed"),
            runs=tuple(runs),
            last_at=codec.opt_dt_in(data.get("last_at"), "last_at"),
        )


class Change(StrEnum):
    NONE = "none"  # nothing changed (also: a breach is pending, see `pending`)
    RAISED = "raised"  # from no alarm to a confirmed level
    UPGRADED = "upgraded"  # a higher level confirmed
    DOWNGRADED = "downgraded"  # lowered past the hysteresis margin, still alarming
    CLEARED = "cleared"  # no level any more, past the hysteresis margin
    HELD = "held"  # unscorable reading: pending runs broken, confirmed level kept
    OUT_OF_ORDER = "out-of-order"  # older than the last reading applied: ignored


@dataclass(frozen=True, slots=True)
class ContinuousDecision:
    change: Change
    confirmed: Priority | None
    #: The worst level seen but not yet confirmed (waiting for persistence), if any.
    pending: Priority | None = None
    #: Seconds the pending level has held so far.
    pending_s: float = 0.0
    rapid_desat: bool = False


def worst(first: Priority | None, second: Priority | None) -> Priority | None:
    if first is None:
        return second
    if second is None:
        return first
    return max(first, second)


def _runs_after(
    runs: Mapping[Priority, datetime], level: Priority | None, at: datetime
) -> dict[Priority, datetime]:
    """Every level at or below `level` continues (or starts) its run; worse levels' runs end."""
    if level is None:
        return {}
    return {p: runs.get(p, at) for p in Priority if p <= level}


def advance(
    state: ContinuousState,
    *,
    at: datetime,
    spo2: float | None,
    scorable: bool,
    classify: Classify,
    limit: float,
    settings: ContinuousSettings,
) -> tuple[ContinuousState, ContinuousDecision]:
    """Apply one reading measured at `at`. `limit` is the pack's alarm limit for rapid desaturation
    (SpO2 below `limit` breaches it; `limit - rapid_desat_depth` or lower bypasses the delay)."""
    if state.last_at is not None and at < state.last_at:
        return state, ContinuousDecision(Change.OUT_OF_ORDER, state.confirmed)
    if not scorable or spo2 is None:
        return replace(state, runs=(), last_at=at), ContinuousDecision(Change.HELD, state.confirmed)
    previous = dict(state.runs)
    if state.last_at is not None and (at - state.last_at).total_seconds() > settings.persistence_s:
        previous = {}  # a gap longer than the persistence window: the breach was not observed throughout
    level = classify(spo2)
    runs = _runs_after(previous, level, at)
    held = {p: (at - since).total_seconds() for p, since in runs.items()}
    confirmed = state.confirmed
    worse = [p for p in runs if confirmed is None or p > confirmed]
    rapid = bool(worse) and spo2 <= limit - settings.rapid_desat_depth
    ready = [p for p in worse if held[p] >= settings.persistence_s]
    change = Change.NONE
    if rapid or ready:
        target = max(worse) if rapid else max(ready)
        change = Change.RAISED if confirmed is None else Change.UPGRADED
        confirmed = target
    elif confirmed is not None:
        margin = worst(
            classify(max(spo2 - settings.hysteresis, 0.0)), classify(min(spo2 + settings.hysteresis, 100.0))
        )
        if margin is None or margin < confirmed:
            change = Change.CLEARED if margin is None else Change.DOWNGRADED
            confirmed = margin
    pending = max((p for p in runs if confirmed is None or p > confirmed), default=None)
    new_state = ContinuousState(confirmed, tuple(sorted(runs.items(), reverse=True)), at)
    decision = ContinuousDecision(
        change,
        confirmed,
        pending,
        0.0 if pending is None else held[pending],
        rapid and max(worse) not in ready,
    )
    return new_state, decision
