"""A patient's care plan: which rule pack applies and with which settings, and whether it makes sense.

Who set the plan, when and why (issue 4: a named clinician with a reason, audited and versioned) is
the API's record around this value; this module owns the clinical content and `validate_plan`, which
refuses a plan that does not make sense with a message that says why. Every limit below is cited.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from alerting import codec
from alerting.bands import AMBER_FROM, GREEN_FROM
from alerting.bts import TARGET_HYPERCAPNIC, TARGET_MOST, TARGETS
from alerting.continuous import ContinuousSettings
from alerting.evaluate import DEFAULT_LATE_AFTER
from alerting.model import Band
from alerting.news2 import DEFAULT_MANUAL_MAX_AGE
from alerting.schedule import OverdueLadder, parse_schedule


class RulePack(StrEnum):
    O2HOME = "o2home"  # CO@h RAG bands, §1.2
    NEWS2_SCALE1 = "news2-scale1"  # NEWS2, SpO2 scale 1, §2
    NEWS2_SCALE2 = "news2-scale2"  # NEWS2, SpO2 scale 2 (target 88-92), §2.1
    BTS_94_98 = "bts-94-98"  # BTS target 94-98, §4
    BTS_88_92 = "bts-88-92"  # BTS target 88-92, §4


class PlanError(ValueError):
    """The care plan does not make sense; the message lists every reason, `reasons` each one apart."""

    def __init__(self, message: str, reasons: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.reasons: tuple[str, ...] = tuple(reasons) or (message,)


#: Lowest personalised threshold accepted: the lowest SpO2 alarm limit the evidence in §5.3 examines
#: (84 %, S-LANS16). Below it a band would sit where NEWS2 scale 2 already scores 3 (<=83, §2.1).
PERSONAL_FLOOR = 84.0
#: Persistence above 60 s is outside the evidence (S-LANS16 applied delays of 10-60 s, §5.3).
MAX_PERSISTENCE_S = 60.0

_PACK_TARGET = {RulePack.BTS_94_98: TARGET_MOST, RulePack.BTS_88_92: TARGET_HYPERCAPNIC}


@dataclass(frozen=True, slots=True)
class BandThresholds:
    """Personalised CO@h band edges, inclusive lower edges as in alerting/bands.py (defaults §1.2)."""

    green_from: float = GREEN_FROM
    amber_from: float = AMBER_FROM

    def band(self, spo2: float) -> Band:
        """Band of one value; a value between edges lands in the worse band (see bands.py)."""
        if math.isnan(spo2) or not 0.0 <= spo2 <= 100.0:
            raise ValueError(f"SpO2 must be 0-100 %, got {spo2!r}")
        if spo2 >= self.green_from:
            return Band.GREEN
        if spo2 >= self.amber_from:
            return Band.AMBER
        return Band.RED


@dataclass(frozen=True, slots=True)
class CarePlan:
    rule_pack: RulePack = RulePack.O2HOME
    #: Default oxygen status when a reading does not state it (§4: recorded with every reading).
    on_oxygen: bool = False
    #: The patient's usual SpO2, recorded at onboarding (§1.1, §1.7); used by the BTS fall rule.
    baseline_spo2: float | None = None
    #: BTS target range (§4); required as 88-92 for NEWS2 scale 2 (§2.1).
    target_spo2: tuple[int, int] | None = None
    #: Local wall-clock slots, "HH:MM", e.g. ("09:00", "13:00", "17:00") (§1.4, Dorset).
    schedule: tuple[str, ...] = ()
    #: Personalised CO@h band edges (o2home pack only), set by a named clinician (§1.7).
    thresholds: BandThresholds | None = None
    continuous: ContinuousSettings = field(default_factory=ContinuousSettings)
    #: A reading measured longer ago than this is shown as late (§6.2.5). Same default as evaluate.py.
    late_after_s: float = DEFAULT_LATE_AFTER.total_seconds()
    #: Manual NEWS2 observations count for this long (news2.DEFAULT_MANUAL_MAX_AGE, Chart 4 §2.4).
    manual_max_age_s: float = DEFAULT_MANUAL_MAX_AGE.total_seconds()
    #: Plan-specific missed-reading ladder; None = the ward's ladder (§1.8, local practice).
    overdue: OverdueLadder | None = None

    @property
    def target(self) -> tuple[int, int] | None:
        """The target range in force: the BTS pack's own, else the plan's."""
        return _PACK_TARGET.get(self.rule_pack, self.target_spo2)

    @property
    def news2_scale(self) -> int | None:
        return {RulePack.NEWS2_SCALE1: 1, RulePack.NEWS2_SCALE2: 2}.get(self.rule_pack)

    @property
    def band_thresholds(self) -> BandThresholds:
        return self.thresholds or BandThresholds()

    def to_dict(self) -> dict[str, object]:
        return {
            "rule_pack": self.rule_pack.value,
            "on_oxygen": self.on_oxygen,
            "baseline_spo2": self.baseline_spo2,
            "target_spo2": None if self.target_spo2 is None else list(self.target_spo2),
            "schedule": list(self.schedule),
            "thresholds": None
            if self.thresholds is None
            else {"green_from": self.thresholds.green_from, "amber_from": self.thresholds.amber_from},
            "continuous": self.continuous.to_dict(),
            "late_after_s": self.late_after_s,
            "manual_max_age_s": self.manual_max_age_s,
            "overdue": None if self.overdue is None else self.overdue.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> CarePlan:
        """Build and validate a plan from JSON; raises PlanError saying what is wrong."""
        try:
            plan = _decode(data)
        except codec.DecodeError as err:
            raise PlanError(f"care plan: {err}") from err
        validate_plan(plan)
        return plan


def _decode(data: Mapping[str, object]) -> CarePlan:
    codec.reject_unknown(data, frozenset(CarePlan.__dataclass_fields__), "care plan")
    default = CarePlan()
    target = data.get("target_spo2")
    if target is not None:
        if not isinstance(target, list | tuple) or len(target) != 2:
            raise codec.DecodeError(f"target_spo2: expected [low, high], got {target!r}")
        target = (codec.int_in(target[0], "target_spo2[0]"), codec.int_in(target[1], "target_spo2[1]"))
    raw_thresholds = data.get("thresholds")
    thresholds = None
    if raw_thresholds is not None:
        given = codec.mapping_in(raw_thresholds, "thresholds")
        codec.reject_unknown(given, frozenset({"green_from", "amber_from"}), "thresholds")
        thresholds = BandThresholds(
            codec.num_in(given.get("green_from", GREEN_FROM), "thresholds.green_from"),
            codec.num_in(given.get("amber_from", AMBER_FROM), "thresholds.amber_from"),
        )
    baseline = data.get("baseline_spo2")
    overdue = data.get("overdue")
    return CarePlan(
        rule_pack=codec.enum_in(RulePack, data.get("rule_pack", default.rule_pack.value), "rule_pack"),
        on_oxygen=codec.bool_in(data.get("on_oxygen", False), "on_oxygen"),
        baseline_spo2=None if baseline is None else codec.num_in(baseline, "baseline_spo2"),
        target_spo2=target,
        schedule=codec.strs_in(data.get("schedule", []), "schedule"),
        thresholds=thresholds,
        continuous=ContinuousSettings.from_dict(codec.mapping_in(data.get("continuous", {}), "continuous")),
        late_after_s=codec.num_in(data.get("late_after_s", default.late_after_s), "late_after_s"),
        manual_max_age_s=codec.num_in(
            data.get("manual_max_age_s", default.manual_max_age_s), "manual_max_age_s"
        ),
        overdue=None if overdue is None else OverdueLadder.from_dict(codec.mapping_in(overdue, "overdue")),
    )


def _pack_problems(plan: CarePlan) -> list[str]:
    problems: list[str] = []
    pack, target = plan.rule_pack, plan.target_spo2
    if target is not None and target not in TARGETS:
        problems.append(f"target_spo2 {target} is not a BTS target range: use 94-98 or 88-92 (§4)")
    if pack is RulePack.NEWS2_SCALE2 and target != TARGET_HYPERCAPNIC:
        problems.append(
            "NEWS2 scale 2 is only for a patient whose target is 88-92 % (Chart 1, §2.1): "
            "set target_spo2 to 88-92 or use news2-scale1"
        )
    if pack is RulePack.NEWS2_SCALE1 and target == TARGET_HYPERCAPNIC:
        problems.append("a target of 88-92 % calls for NEWS2 scale 2, not scale 1 (Chart 1, §2.1)")
    if pack in _PACK_TARGET and target not in (None, _PACK_TARGET[pack]):
        problems.append(f"rule pack {pack.value} has its own target; target_spo2 {target} contradicts it")
    if pack is RulePack.O2HOME and target == TARGET_HYPERCAPNIC:
        problems.append(
            "CO@h bands call 88-92 % red (§1.2): a patient with an 88-92 target needs bts-88-92 or scale 2"
        )
    if pack is RulePack.O2HOME and plan.on_oxygen:
        problems.append(
            "CO@h bands are for patients on air (§1.2, §1.1): choose a NEWS2 or BTS pack on oxygen"
        )
    if plan.thresholds is not None and pack is not RulePack.O2HOME:
        problems.append("personalised band thresholds apply to the o2home pack only")
    pack_target = _PACK_TARGET.get(pack)
    baseline = plan.baseline_spo2
    if baseline is not None and pack_target is not None and baseline < pack_target[0]:
        problems.append(
            f"baseline {baseline:g} % is below the target {pack_target[0]}-{pack_target[1]} %: "
            "check the baseline or choose the other target (§4)"
        )
    return problems


def _range_problems(plan: CarePlan) -> list[str]:
    problems: list[str] = []
    if plan.thresholds is not None:
        green, amber = plan.thresholds.green_from, plan.thresholds.amber_from
        if not PERSONAL_FLOOR <= amber <= 100 or not PERSONAL_FLOOR <= green <= 100:
            problems.append(
                f"band thresholds must be {PERSONAL_FLOOR:g}-100 % (lowest limit in the evidence, §5.3)"
            )
        if amber >= green:
            problems.append(f"bands overlap: amber from {amber:g} % must be below green from {green:g} %")
    baseline = plan.baseline_spo2
    if baseline is not None and (math.isnan(baseline) or not 0 < baseline <= 100):
        problems.append(f"baseline_spo2 must be 0-100 %, got {baseline}")
    if plan.late_after_s <= 0:
        problems.append("late_after_s must be positive")
    if not 0 < plan.manual_max_age_s <= DEFAULT_MANUAL_MAX_AGE.total_seconds():
        problems.append(
            "manual_max_age_s must be positive and at most 12 h (Chart 4's longest interval, §2.4)"
        )
    return problems


def _continuous_problems(plan: CarePlan) -> list[str]:
    problems: list[str] = []
    cont = plan.continuous
    if not 0 <= cont.persistence_s <= MAX_PERSISTENCE_S:
        problems.append(f"continuous persistence must be 0-{MAX_PERSISTENCE_S:g} s (S-RAD97, S-LANS16, §5)")
    if not 0 < cont.rapid_desat_depth < 100:
        problems.append("rapid desaturation depth must be more than 0 and less than 100 points (§5.1)")
    if not 0 <= cont.hysteresis < cont.rapid_desat_depth:
        problems.append("hysteresis must be at least 0 and smaller than the rapid desaturation depth")
    if plan.rule_pack is RulePack.O2HOME and plan.band_thresholds.green_from + cont.hysteresis > 100:
        problems.append("hysteresis above green: an alarm could never clear (green from + hysteresis > 100)")
    return problems


def _schedule_problems(plan: CarePlan) -> list[str]:
    problems: list[str] = []
    try:
        parse_schedule(plan.schedule)
    except ValueError as err:
        problems.append(str(err))
    if plan.overdue is not None:
        if not plan.schedule:
            problems.append("an overdue ladder needs a reading schedule")
        try:
            plan.overdue.validate()
        except ValueError as err:
            problems.append(str(err))
    return problems


def validate_plan(plan: CarePlan) -> None:
    """Raise PlanError listing every reason the plan does not make sense; return None if it does."""
    problems = (
        _pack_problems(plan) + _range_problems(plan) + _continuous_problems(plan) + _schedule_problems(plan)
    )
    if problems:
        raise PlanError("; ".join(problems), problems)
