"""What a rule says about one reading (or one moment): the uniform result every rule pack returns.

Rules *propose*; the lifecycle (alerting/lifecycle.py) decides what becomes of an open alert
(style.md practice 16). A result is therefore a statement about the patient's condition for one rule:

- ALERT: the condition holds at `priority` (the lifecycle raises or upgrades, never lowers);
- CLEAR: the rule's condition does not hold (the lifecycle records an all-clear, or latches);
- UNSCORED: the reading may not drive this rule (signal quality, §6.2.2); nothing changes;
- NOT_APPLICABLE: the rule does not apply to this plan or input;
- FAILED: the rule raised an exception; the dispatcher turns it into a technical alert (practice 18).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from alerting import codec
from alerting.model import Band, Priority


class Status(StrEnum):
    ALERT = "alert"
    CLEAR = "clear"
    UNSCORED = "unscored"
    NOT_APPLICABLE = "not-applicable"
    FAILED = "failed"


#: Detail values are JSON scalars (or lists of strings) so a result prints as JSON unchanged.
Detail = Mapping[str, "str | int | float | bool | tuple[str, ...] | None"]


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's verdict. Fields a rule does not use stay at their empty default."""

    rule: str
    status: Status
    #: The alert priority the rule proposes (ALERT only), else None.
    priority: Priority | None = None
    #: Technical (device, data, system) rather than physiological (§5.3 item 3: routed apart).
    technical: bool = False
    #: When the evidence was measured (None for time-based rules that are about "now").
    measured_at: datetime | None = None
    band: Band | None = None
    #: NEWS2 sub-scores by parameter name, in chart order (alerting/news2.py).
    subscores: Mapping[str, int] = field(default_factory=dict)
    news2_total: int | None = None
    #: True when the NEWS2 total lacks at least one parameter (§2.3: label a partial score as such).
    news2_partial: bool | None = None
    #: Chart 4 response name (alerting/news2.py `Response`), NEWS2 packs only.
    response: str | None = None
    #: The value may be real but the device doubts it (§6.2.4): still notified, marked questionable.
    questionable: bool = False
    #: Measured long before `now` (§6.2.5): shown as late, never paged as if happening now.
    late: bool = False
    #: The patient should take the reading again (§6.2.3).
    repeat_requested: bool = False
    reasons: tuple[str, ...] = ()
    detail: Detail = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (for the CLI, the API and the alert store)."""
        return {
            "rule": self.rule,
            "status": self.status.value,
            "priority": codec.priority_out(self.priority),
            "technical": self.technical,
            "measured_at": codec.dt_out(self.measured_at),
            "band": None if self.band is None else self.band.value,
            "subscores": dict(self.subscores),
            "news2_total": self.news2_total,
            "news2_partial": self.news2_partial,
            "response": self.response,
            "questionable": self.questionable,
            "late": self.late,
            "repeat_requested": self.repeat_requested,
            "reasons": list(self.reasons),
            "detail": {k: list(v) if isinstance(v, tuple) else v for k, v in self.detail.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RuleResult:
        """Inverse of `to_dict`; raises `codec.DecodeError` naming the bad field."""
        codec.reject_unknown(data, _FIELDS, "rule result")
        status = codec.enum_in(Status, data.get("status"), "status")
        band = None if data.get("band") is None else codec.enum_in(Band, data.get("band"), "band")
        subscores = codec.mapping_in(data.get("subscores", {}), "subscores")
        detail = codec.mapping_in(data.get("detail", {}), "detail")
        total = data.get("news2_total")
        partial = data.get("news2_partial")
        return cls(
            rule=codec.str_in(data.get("rule"), "rule"),
            status=status,
            priority=codec.opt_priority_in(data.get("priority"), "priority"),
            technical=codec.bool_in(data.get("technical", False), "technical"),
            measured_at=codec.opt_dt_in(data.get("measured_at"), "measured_at"),
            band=band,
            subscores={k: codec.int_in(v, f"subscores.{k}") for k, v in subscores.items()},
            news2_total=None if total is None else codec.int_in(total, "news2_total"),
            news2_partial=None if partial is None else codec.bool_in(partial, "news2_partial"),
            response=codec.opt_str_in(data.get("response"), "response"),
            questionable=codec.bool_in(data.get("questionable", False), "questionable"),
            late=codec.bool_in(data.get("late", False), "late"),
            repeat_requested=codec.bool_in(data.get("repeat_requested", False), "repeat_requested"),
            reasons=codec.strs_in(data.get("reasons", []), "reasons"),
            detail={k: _detail_in(v, f"detail.{k}") for k, v in detail.items()},
        )


_FIELDS = frozenset(RuleResult.__dataclass_fields__)


def _detail_in(value: object, field_name: str) -> str | int | float | bool | tuple[str, ...] | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return codec.strs_in(value, field_name)
