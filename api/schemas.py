"""Request and response models of the REST API (Create / Read variants), with examples."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
)

from api.contract import datetime_ms, format_utc_ms

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
#: A BLE device address: a MAC (XX:XX:XX:XX:XX:XX) or, where the platform hides MACs
#: (macOS / CoreBluetooth), a 36-character UUID.
ADDRESS_PATTERN = (
    r"^(?:[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}"
    r"|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$"
)
#: Printable text without control characters (refs and names end up on screens and in logs).
_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]+$"

EntityId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
DeviceAddress = Annotated[str, StringConstraints(pattern=ADDRESS_PATTERN), AfterValidator(str.upper)]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_TEXT_PATTERN)
]
Band = Literal["green", "amber", "red", "unknown"]
#: Every time the API returns is UTC in the wire contract's form, `YYYY-MM-DDTHH:MM:SS.mmmZ`.
UtcTime = Annotated[
    AwareDatetime,
    PlainSerializer(lambda dt: format_utc_ms(datetime_ms(dt)), return_type=str, when_used="json"),
]


def _not_true_or_false(value: Any) -> Any:
    # Python's bool is an int: unchecked, JSON `true` would be taken (and stored) as the number 1.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


#: Refuses JSON true/false where a number is expected, saying so (annotate the number with it last,
#: after its constraints, so that they stay in the OpenAPI schema).
NotTrueOrFalse = BeforeValidator(_not_true_or_false)
#: A number in a request body: neither true/false nor a number written as a string ("15").
Number = Annotated[float, Strict(), NotTrueOrFalse]
#: A whole number from 0 in a request body (a version, a tier): as `Number`, and 2.0 is refused too.
WholeNumber = Annotated[int, Strict(), Field(ge=0), NotTrueOrFalse]

#: The span a time in a query may name. Stored times are milliseconds since the epoch (stream ids
#: cannot be negative), and the year-9000 ceiling leaves room for the arithmetic on ranges (a
#: default `from` is `to` minus a day, a window may grow by one) without overflowing `datetime`.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _within_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ValueError("must be from 1970-01-01T00:00:00Z up to (not including) 9000-01-01T00:00:00Z")
    return moment


_ISO_WITH_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})")


def _iso_with_offset(value: Any) -> Any:
    # pydantic alone would also read a number ("0", "0.5") as seconds since 1970.
    if not (isinstance(value, str) and _ISO_WITH_OFFSET.fullmatch(value)):
        raise ValueError("must be an ISO 8601 date and time with a UTC offset, e.g. 2025-01-14T09:30:00Z")
    return value


#: A time given in a query string (`from`, `to`, …): ISO 8601 with a UTC offset, within range.
#: Every /v1 route takes its query times as this type (FHIR `date` has FHIR's own syntax).
QueryTime = Annotated[AwareDatetime, BeforeValidator(_iso_with_offset), AfterValidator(_within_range)]

_PATIENT_EXAMPLE: dict[str, Any] = {
    "patient_id": "p-7f3a9c2e41d8",
    "ward_id": "north-1",
    "ref": "Bed 3",
    "enrolled_at": "2025-01-14T09:30:00.000Z",
    "devices": ["C0:FF:EE:00:00:03"],
}


class Problem(BaseModel):
    """RFC 9457 problem details, sent as ``application/problem+json``."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(default=None, description="validation errors, on 422")
    alert: dict[str, Any] | None = Field(default=None, description="on 409 for an alert: its current record")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "device C0:FF:EE:00:00:03 is assigned to another patient",
                    "instance": "/v1/wards/north-1/patients",
                }
            ]
        }
    )


#: RFC 9110's names (§15) where Python's http module still has RFC 7231's (before Python 3.13).
_RFC9110_TITLES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def status_title(status: int) -> str:
    """A problem's `title`: the status's reason phrase as RFC 9110 names it, the same on every route."""
    if status in _RFC9110_TITLES:
        return _RFC9110_TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(status: int, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    """The JSON of a problem: every route's `title` for a status is the same (`status_title`)."""
    body = Problem(title=status_title(status), status=status, detail=detail, instance=instance, **extra)
    return body.model_dump(exclude_none=True)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting problem-details errors."""
    return {
        s: {
            "model": Problem,
            "content": {"application/problem+json": {}},
            "description": status_title(s),
        }
        for s in statuses
    }


# -- patients ---------------------------------------------------------------------------
class PatientCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ref": "Bed 3", "devices": ["C0:FF:EE:00:00:03"]}]},
    )

    patient_id: EntityId | None = Field(default=None, description="omit to have the service generate one")
    ref: ShortText = Field(description='ward-local reference shown on the queue, e.g. "Bed 3" (no names)')
    devices: list[DeviceAddress] = Field(default_factory=list, max_length=8)


class PatientRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_PATIENT_EXAMPLE]})

    patient_id: str
    ward_id: str
    ref: str
    enrolled_at: UtcTime
    devices: list[str]


# -- readings ---------------------------------------------------------------------------
_READING_EXAMPLE: dict[str, Any] = {
    "reading_id": "3f9a0c2d5e7b41c8a6d2f0e1b3c5a7d9",
    "entry_id": "1736847512345-0",
    "measured_at": "2025-01-14T09:38:31.000Z",
    "received_at": "2025-01-14T09:38:31.120Z",
    "stored_at": "2025-01-14T09:38:32.345Z",
    "late": False,
    "mode": "spot-check",
    "spo2": 96.0,
    "pulse": 72.0,
    "perfusion_index": None,
    "status": {"measurement": None, "device_sensor": None, "device_clock_not_set": False},
    "source": {
        "gateway_id": "gw-0042",
        "device_address": "C0:FF:EE:00:00:03",
        "protocol": "plx-spot-check",
        "model": "PLX-EMU",
    },
    "frame": None,
}


class ReadingStatus(BaseModel):
    measurement: int | None = Field(description="PLX Measurement Status (16 bits) as sent")
    device_sensor: int | None = Field(description="PLX Device and Sensor Status (24 bits) as sent")
    device_clock_not_set: bool


class ReadingSource(BaseModel):
    gateway_id: str
    device_address: str
    protocol: str
    model: str | None


class ReadingRead(BaseModel):
    """One stored reading (api/reading_codec.py `to_api`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_READING_EXAMPLE]})

    reading_id: str = Field(description="the wire contract's deterministic reading id")
    entry_id: str = Field(description="position in the patient's history (ingest order)")
    measured_at: UtcTime
    received_at: UtcTime = Field(description="when the gateway received it (gateway clock)")
    stored_at: UtcTime = Field(description="when the service stored it")
    late: bool = Field(description="stored long after it was measured (outbox replay, backfill)")
    mode: Literal["spot-check", "continuous"]
    spo2: float | None = Field(description="%, null when the device sent no reading")
    pulse: float | None = Field(description="beats/min")
    perfusion_index: float | None
    status: ReadingStatus
    source: ReadingSource
    frame: str | None = Field(description="raw frame, lowercase hex, when the gateway sent it")


class ReadingPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_READING_EXAMPLE], "next_cursor": "cjE6MTczNjg0NzUxMjM0NS0w"}]
        }
    )

    items: list[ReadingRead]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: no more")


# -- alerts -----------------------------------------------------------------------------
_ALERT_EXAMPLE: dict[str, Any] = {
    "alert_id": "9b1f4c7e2a6d4e0f8c3b5a7d9e1f2a4c",
    "patient_id": "p-7f3a9c2e41d8",
    "rule": "o2home-band",
    "priority": "high",
    "band": "red",
    "state": "acknowledged",
    "raised_at": "2025-01-14T09:58:31.000Z",
    "updated_at": "2025-01-14T10:02:10.000Z",
    "reading_id": "3f9a0c2d5e7b41c8a6d2f0e1b3c5a7d9",
    "spo2": 91.0,
    "measured_at": "2025-01-14T09:58:30.000Z",
    "late": False,
    "questionable": False,
    "detail": None,
    "acknowledged_by": "nurse-jb",
    "acknowledged_at": "2025-01-14T10:02:10.000Z",
    "resolved_by": None,
    "resolved_at": None,
    "outcome": None,
}


PriorityName = Literal["high", "medium", "low", "advisory"]
#: The guard on acting on an alert: the priority the caller was shown.
SeenPriority = Annotated[
    PriorityName | None,
    Field(
        description="the alert's priority as the caller saw it; if an upgrade has changed it since "
        "(e.g. medium to high), 409 with the current record (the detail names the new priority) and "
        "nothing changes: look again before acting"
    ),
]


class AlertEventRead(BaseModel):
    at: UtcTime
    kind: str = Field(
        description="raised, upgraded, acknowledged, snoozed, escalated, all-clear, resolved, ..."
    )
    priority: str
    by: str | None = None
    detail: str = ""
    tier: int | None = None


class AlertRead(BaseModel):
    """An alert (api/alert_record.py). High priority latches until a clinician resolves it; lower
    priorities resolve themselves with an all-clear when their condition clears (§5.1)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ALERT_EXAMPLE]})

    alert_id: str
    patient_id: str
    rule: str = Field(description="e.g. `o2home-band` (SpO2 RAG band) or `evaluation-failed` (technical)")
    priority: PriorityName
    band: Literal["green", "amber", "red"] | None
    state: Literal["open", "acknowledged", "resolved"]
    raised_at: UtcTime
    updated_at: UtcTime
    reading_id: str | None = Field(description="the reading that set the current priority")
    spo2: float | None
    measured_at: UtcTime | None
    late: bool
    questionable: bool
    detail: str | None
    acknowledged_by: str | None
    acknowledged_at: UtcTime | None
    resolved_by: str | None
    resolved_at: UtcTime | None
    outcome: str | None
    # -- since issue 4 (absent from alerts stored before it: defaults) --
    technical: bool = Field(default=False, description="device, data or system alert, not physiological")
    reasons: list[str] = Field(default_factory=list)
    condition_active: bool = Field(
        default=True, description="false on an open alert: latched, condition gone"
    )
    snoozed_by: str | None = None
    snoozed_until: UtcTime | None = None
    snooze_priority: str | None = None
    snoozed_since: UtcTime | None = Field(
        default=None, description="when the run of snoozes in a row that ends at snoozed_until began"
    )
    tier: int = Field(default=0, description="escalation tier now notified (0 = first)")
    tier_since: UtcTime | None = None
    news2_total: int | None = None
    news2_partial: bool | None = None
    response: str | None = Field(default=None, description="NEWS2 Chart 4 response, NEWS2 plans only")
    events: list[AlertEventRead] = Field(
        default_factory=list, description="the alert's history, oldest first"
    )


class AlertList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_ALERT_EXAMPLE], "next_cursor": None}]}
    )

    items: list[AlertRead] = Field(description="the patient's alerts on this page, newest raised first")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; null: no more"
    )


class AcknowledgeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"by": "nurse-jb"}, {"by": "nurse-jb", "seen_priority": "high"}]},
    )

    by: ShortText = Field(description="who acknowledges (a staff identifier)")
    seen_priority: SeenPriority = None


class ResolveRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"by": "dr-ak", "outcome": "phoned patient, re-measured 96%"}]},
    )

    by: ShortText
    outcome: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


# -- ward queue -------------------------------------------------------------------------
class LatestReading(BaseModel):
    spo2: float | None
    pulse: float | None
    measured_at: UtcTime
    age_seconds: float = Field(description="seconds between measured_at and the time of the response")


class AlertSummary(BaseModel):
    alert_id: str
    priority: str
    rule: str
    raised_at: UtcTime
    state: str
    acknowledged_by: str | None = None


class QueueItem(BaseModel):
    patient_id: str
    ref: str
    latest: LatestReading | None
    band: Band = Field(description="RAG band of the latest SpO2 (clinical-rules.md §1.2); unknown if none")
    worst_alert: AlertSummary | None
    open_alerts: int


class WardQueue(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ward_id": "north-1",
                    "generated_at": "2025-01-14T10:00:00.000Z",
                    "items": [
                        {
                            "patient_id": "p-7f3a9c2e41d8",
                            "ref": "Bed 3",
                            "latest": {
                                "spo2": 91,
                                "pulse": 104,
                                "measured_at": "2025-01-14T09:58:30.000Z",
                                "age_seconds": 90.0,
                            },
                            "band": "red",
                            "worst_alert": {
                                "alert_id": "a-01HZX3",
                                "priority": "high",
                                "rule": "spo2-red",
                                "raised_at": "2025-01-14T09:58:31.000Z",
                                "state": "open",
                                "acknowledged_by": None,
                            },
                            "open_alerts": 1,
                        }
                    ],
                }
            ]
        }
    )

    ward_id: str
    generated_at: UtcTime
    items: list[QueueItem]


# -- health -----------------------------------------------------------------------------
class CheckResult(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "unready",
                    "checks": {
                        "redis": {"ok": False, "detail": "no answer to PING within 2.0 s"},
                        "broker": {"ok": True, "detail": "ingest connected"},
                    },
                }
            ]
        }
    )

    status: Literal["ready", "unready"]
    checks: dict[str, CheckResult]


class Liveness(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "alive"}]})

    status: Literal["alive"] = "alive"
