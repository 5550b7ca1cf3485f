"""The rule packs over one SpO2 value: what each pack says, before signal quality and continuous mode.

- o2home: CO@h RAG bands (§1.2), personalised edges allowed; amber -> medium, red -> high
  (`alerting.evaluate.BAND_PRIORITY`, the spine's mapping, reused so both agree).
- news2-scale1 / news2-scale2: NEWS2 (§2), partial unless fresh manual observations complete it.
- bts-94-98 / bts-88-92: BTS fall >= 3 points from baseline or below target (§4).

Each pack also says whether its verdict is **red**: the value a questionable reading may still
notify with (§6.2.4). Red is the pack's worst finding: the CO@h red band; a NEWS2 3 in a single
parameter or an emergency total (§2.4); a BTS value below the target range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerting import bts, news2
from alerting.careplan import CarePlan, RulePack
from alerting.evaluate import BAND_PRIORITY
from alerting.evaluate import RULE as O2HOME_RULE
from alerting.manual import ManualObservation
from alerting.model import Band, Priority
from alerting.results import Detail

NEWS2_RULE = "news2"
BTS_RULE = "bts"
RULE_FOR_PACK = {
    RulePack.O2HOME: O2HOME_RULE,
    RulePack.NEWS2_SCALE1: NEWS2_RULE,
    RulePack.NEWS2_SCALE2: NEWS2_RULE,
    RulePack.BTS_94_98: BTS_RULE,
    RulePack.BTS_88_92: BTS_RULE,
}

BTS_PACKS = frozenset({RulePack.BTS_94_98, RulePack.BTS_88_92})


def _bts_target(plan: CarePlan) -> tuple[int, int]:
    target = plan.target
    assert target is not None  # a BTS pack always has its own target (careplan._PACK_TARGET)
    return target


@dataclass(frozen=True, slots=True)
class PackVerdict:
    """A pack's verdict on one value; None priority means nothing to alert."""

    rule: str
    priority: Priority | None
    red: bool
    band: Band | None = None
    news2: news2.News2Score | None = None
    reasons: tuple[str, ...] = ()
    detail: Detail | None = None


@dataclass(frozen=True, slots=True)
class PackInput:
    """Everything a pack may look at besides the SpO2 value."""

    plan: CarePlan
    pulse: float | None
    on_oxygen: bool
    at: datetime
    manual: Sequence[ManualObservation] = ()


def news2_verdict(spo2: float | None, given: PackInput, scale: int) -> PackVerdict:
    """NEWS2 on `scale` at `given.at`; SpO2 None (a manual set without a reading) is left out, partial."""
    score = news2.score(
        spo2=spo2,
        pulse=given.pulse,
        on_oxygen=given.on_oxygen,
        scale=scale,
        at=given.at,
        manual=given.manual,
        manual_max_age=timedelta(seconds=given.plan.manual_max_age_s),
    )
    reasons = ("partial",) if score.partial else ()
    detail: Detail = {"missing": score.missing, "scale": scale}
    return PackVerdict(NEWS2_RULE, score.priority, score.red, None, score, reasons, detail)


def judge(spo2: float, given: PackInput) -> PackVerdict:
    """The plan's pack applied to one SpO2 value."""
    plan = given.plan
    rule = RULE_FOR_PACK[plan.rule_pack]
    scale = plan.news2_scale
    if scale is not None:
        return news2_verdict(spo2, given, scale)
    if plan.rule_pack in BTS_PACKS:
        target = _bts_target(plan)
        found = bts.assess(spo2, target, plan.baseline_spo2)
        detail = {"target": f"{target[0]}-{target[1]}", "fall": found.fall}
        return PackVerdict(rule, found.priority, found.below_target, reasons=found.reasons, detail=detail)
    band = plan.band_thresholds.band(spo2)
    # The bands are for patients on air (§1.2); a reading taken on oxygen is scored but flagged.
    reasons = ("on-oxygen-bands-assume-air",) if given.on_oxygen else ()
    return PackVerdict(rule, BAND_PRIORITY[band], band is Band.RED, band=band, reasons=reasons)


def alarm_limit(plan: CarePlan) -> float:
    """The SpO2 limit rapid desaturation is measured from (§5.1: "10 points below the limit").

    The edge of the pack's worst low band: CO@h red below amber's lower edge (§1.2); NEWS2 SpO2 score 3
    below 92 (scale 1) or 84 (scale 2) (§2.1); BTS below the target range (§4).
    """
    if plan.rule_pack is RulePack.NEWS2_SCALE1:
        return 92.0
    if plan.rule_pack is RulePack.NEWS2_SCALE2:
        return 84.0
    if plan.rule_pack in BTS_PACKS:
        return float(_bts_target(plan)[0])
    return plan.band_thresholds.amber_from
