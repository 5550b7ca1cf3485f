"""Request and response models of the alerting endpoints: care plans, ward alerting configuration,
snooze, escalate by hand, evaluate, replay and alert burden. Plans and configurations travel as the
JSON of alerting/careplan.py `CarePlan.to_dict` and api/ward_config.py `WardConfig.to_dict`,
validated by those modules (their messages say what is wrong, cited to the rules)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas import EntityId, Number, SeenPriority, ShortText, UtcTime, WholeNumber

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

PLAN_EXAMPLE: dict[str, Any] = {
    "rule_pack": "news2-scale2",
    "on_oxygen": True,
    "baseline_spo2": 89,
    "target_spo2": [88, 92],
    "schedule": ["09:00", "13:00", "17:00"],
}


class CarePlanPut(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "plan": PLAN_EXAMPLE,
                    "by": "dr-ak",
                    "reason": "COPD, hypercapnic; target 88-92 per resp team",
                }
            ]
        },
    )

    plan: dict[str, Any] = Field(
        description="rule_pack (o2home | news2-scale1 | news2-scale2 | bts-94-98 | bts-88-92), on_oxygen, "
        "baseline_spo2, target_spo2 [low, high], schedule [HH:MM], thresholds {green_from, amber_from}, "
        "continuous {persistence_s, rapid_desat_depth, hysteresis}, late_after_s, manual_max_age_s, overdue"
    )
    by: ShortText = Field(description="the clinician who sets the plan (a staff identifier)")
    reason: Reason = Field(description="why the plan is set or changed (kept in the audit trail)")
    if_version: WholeNumber | None = Field(
        default=None, description="refuse (409) unless the current version is this one"
    )


class CarePlanRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "patient_id": "p-7f3a9c2e41d8",
                    "version": 2,
                    "plan": PLAN_EXAMPLE,
                    "set_by": "dr-ak",
                    "reason": "COPD, hypercapnic; target 88-92 per resp team",
                    "set_at": "2025-01-14T09:30:00.000Z",
                    "principal": "u-3b0c",
                    "default": False,
                }
            ]
        }
    )

    patient_id: str
    version: int = Field(description="0: no plan set, the default (CO@h bands, on air) applies")
    plan: dict[str, Any]
    set_by: str | None
    reason: str | None
    set_at: UtcTime | None
    principal: str | None = Field(description="the API principal that made the change")
    default: bool


_RECORD_EXAMPLE: dict[str, Any] = {
    "patient_id": "p-7f3a9c2e41d8",
    "version": 1,
    "plan": PLAN_EXAMPLE,
    "set_by": "dr-ak",
    "reason": "COPD, hypercapnic; target 88-92 per resp team",
    "set_at": "2025-01-14T09:30:00.000Z",
    "principal": "u-3b0c",
    "default": False,
}


class CarePlanHistory(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_RECORD_EXAMPLE], "next_cursor": None}]}
    )

    items: list[CarePlanRead] = Field(description="the versions on this page, newest first")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; null: no more"
    )


class WardAlertingPut(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "config": {
                        "escalation": {
                            "tiers": [
                                {"name": "ward-nurse", "ack_within_s": 900},
                                {"name": "ward-clinician", "ack_within_s": 900},
                                {"name": "on-call", "ack_within_s": 1800},
                            ]
                        },
                        "overdue": {
                            "steps": [{"after_s": 3600, "priority": "low", "action": "prompt-patient"}]
                        },
                        "schedule": ["09:00", "13:00", "17:00"],
                        "timezone": "Europe/London",
                        "snooze_max_s": 1800,
                        "snooze_chain_max_s": 3600,
                        "technical": {
                            "gateway_offline_after_s": 600,
                            "stale_after_s": 900,
                            "battery_low_percent": 20,
                        },
                    },
                    "by": "matron-lb",
                    "reason": "ward go-live",
                }
            ]
        },
    )

    config: dict[str, Any] = Field(
        description="escalation {tiers [{name, ack_within_s}], min_priority, repeat_last}, overdue {steps "
        "[{after_s, priority, action}], early_tolerance_s}, schedule [HH:MM], timezone, snooze_max_s, "
        "snooze_chain_max_s (snoozes in a row at most this long in all; null: snooze_max_s), latch_from, "
        "technical {gateway_offline_after_s, stale_after_s, battery_low_percent}"
    )
    by: ShortText
    reason: Reason


class WardAlertingRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ward_id": "north-1",
                    "version": 1,
                    "config": {
                        "escalation": {
                            "tiers": [
                                {"name": "ward-nurse", "ack_within_s": 900},
                                {"name": "on-call", "ack_within_s": 1800},
                            ],
                            "min_priority": "medium",
                            "repeat_last": True,
                        },
                        "overdue": None,
                        "schedule": ["09:00", "13:00", "17:00"],
                        "timezone": "Europe/London",
                        "snooze_max_s": 1800.0,
                        "snooze_chain_max_s": None,
                        "latch_from": "high",
                        "technical": None,
                    },
                    "set_by": "matron-lb",
                    "reason": "ward go-live",
                    "set_at": "2025-01-14T09:30:00.000Z",
                    "principal": "u-9d2e",
                    "default": False,
                }
            ]
        }
    )

    ward_id: str
    version: int = Field(description="0: nothing configured, the defaults apply")
    config: dict[str, Any]
    set_by: str | None
    reason: str | None
    set_at: UtcTime | None
    principal: str | None
    default: bool


class SnoozeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"by": "nurse-jb", "minutes": 15},
                {
                    "by": "nurse-jb",
                    "minutes": 15,
                    "seen_snoozed_until": "2026-11-30T09:10:00.000Z",
                    "seen_priority": "medium",
                },
            ]
        },
    )

    by: ShortText
    minutes: Number = Field(gt=0, le=24 * 60, description="at most the ward's snooze_max_s")
    seen_snoozed_until: AwareDatetime | None = Field(
        default=None,
        description="the `snoozed_until` of the running snooze the caller saw and means to change; "
        "without it (or when it differs), snoozing an alert that is snoozed already is a 409 naming "
        "who snoozed it until when, and nothing changes",
    )
    seen_priority: SeenPriority = None


class EscalateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "by": "nurse-jb",
                    "reason": "breathless on the phone",
                    "from_tier": 0,
                    "seen_priority": "high",
                }
            ]
        },
    )

    by: ShortText
    reason: Reason = Field(description="why the next tier must look now (recorded on the alert)")
    from_tier: WholeNumber | None = Field(
        default=None,
        description="the tier the caller saw; if the alert has moved on meanwhile, 409 and nothing changes",
    )
    seen_priority: SeenPriority = None


class EvaluateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reading": {"spo2": 92, "pulse": 112, "on_oxygen": False},
                    "plan": {"rule_pack": "news2-scale1"},
                    "manual": [{"parameter": "respiration_rate", "value": 22}],
                }
            ]
        },
    )

    reading: dict[str, Any] = Field(
        description="spo2, pulse, mode (spot-check | continuous), measured_at, measurement_status, "
        "device_sensor_status (PLX bits as integers), perfusion_index, device_clock_not_set, on_oxygen"
    )
    plan: dict[str, Any] | None = Field(default=None, description="a care plan; default CO@h bands on air")
    patient_id: EntityId | None = Field(default=None, description="use this patient's current care plan")
    manual: list[dict[str, Any]] = Field(
        default_factory=list, description="[{parameter, value, measured_at}], NEWS2 parameters"
    )
    now: AwareDatetime | None = Field(default=None, description="evaluate as if at this time (default: now)")

    @model_validator(mode="after")
    def _one_plan(self) -> EvaluateRequest:
        if self.plan is not None and self.patient_id is not None:
            raise ValueError("give a plan or a patient_id, not both")
        return self


class ReplayRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ward_id": "north-1", "plan": {"thresholds": {"amber_from": 92}}}]},
    )

    patient_id: EntityId | None = None
    ward_id: EntityId | None = None
    plan: dict[str, Any] = Field(description="the proposed care plan, applied to every patient replayed")
    start: AwareDatetime | None = Field(default=None, alias="from", description="readings measured from")
    end: AwareDatetime | None = Field(default=None, alias="to", description="readings measured before")

    @model_validator(mode="after")
    def _one_target(self) -> ReplayRequest:
        if (self.patient_id is None) == (self.ward_id is None):
            raise ValueError("give exactly one of patient_id or ward_id")
        return self
