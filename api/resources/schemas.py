"""Request and response models of wards, patients, enrolments and manual observations, with examples."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints

from api.schemas import DeviceAddress, EntityId, NotTrueOrFalse, ShortText, UtcTime

_TEXT = r"^[^\x00-\x1f\x7f]+$"
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=_TEXT)
]
#: Digits with optional spaces/hyphens; the Modulus 11 check is api/nhs_number.py's.
NhsNumberText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=12)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ]{5,19}$")]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]
PatientStatus = Literal["registered", "admitted", "discharged"]


# -- wards ------------------------------------------------------------------------------
class WardCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ward_id": "north-1", "name": "North virtual ward"}]},
    )

    ward_id: EntityId
    name: ShortText
    description: LongText | None = None


class WardUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "North VW (COVID)"}]})

    name: ShortText | None = None
    description: LongText | None = None


_WARD: dict[str, Any] = {
    "ward_id": "north-1",
    "name": "North virtual ward",
    "description": None,
    "created_at": "2025-01-14T09:00:00.000Z",
    "patients": 12,
}


class WardRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_WARD]})

    ward_id: str
    name: str | None = Field(description="null for a ward that exists only through an enrolment")
    description: str | None
    created_at: UtcTime | None
    patients: int = Field(description="patients currently admitted")


class WardPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_WARD], "next_cursor": None, "wards": ["north-1"]}]}
    )

    items: list[WardRead]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: no more")
    wards: list[str] = Field(
        deprecated=True,
        description="the ward ids of `items`: the answer's shape before it was paged; read `items`",
    )


# -- patients ---------------------------------------------------------------------------
class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Phone | None = Field(default=None, description="a number the ward can call, e.g. +44 7700 900123")
    email: Email | None = None
    preferred: Literal["phone", "sms", "email"] | None = None


_CONTACT_EXAMPLE: dict[str, Any] = {"phone": "+44 7700 900123", "email": None, "preferred": "phone"}
#: Older than this is taken for a typing slip in the year (the oldest person recorded was 122).
MAX_AGE_YEARS = 130


def _calendar_date_text(value: Any) -> Any:
    # pydantic would also take a number, or digits in a string, as seconds since 1970.
    if not isinstance(value, date) and not (
        isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)
    ):
        raise ValueError("must be a calendar date written YYYY-MM-DD")
    return value


def _plausible_birth(born: date) -> date:
    # "Today" where it is latest (UTC+14), so a baby born today in any time zone is accepted.
    today = (datetime.now(UTC) + timedelta(hours=14)).date()
    if born > today:
        raise ValueError("must not be in the future")
    if today.year - born.year - ((today.month, today.day) < (born.month, born.day)) > MAX_AGE_YEARS:
        raise ValueError(f"gives an age over {MAX_AGE_YEARS} years; check the year")
    return born


BirthDate = Annotated[date, BeforeValidator(_calendar_date_text), AfterValidator(_plausible_birth)]


class PatientRegister(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"nhs_number": "943 476 5919", "date_of_birth": "1950-03-14", "contact": _CONTACT_EXAMPLE}
            ]
        },
    )

    patient_id: EntityId | None = Field(default=None, description="omit to have the service generate one")
    nhs_number: NhsNumberText = Field(
        description="10 digits, spaces allowed; refused unless the Modulus 11 check holds"
    )
    date_of_birth: BirthDate = Field(description="YYYY-MM-DD; not in the future, an age up to 130 years")
    contact: Contact | None = None


class PatientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"contact": _CONTACT_EXAMPLE}]})

    nhs_number: NhsNumberText | None = None
    date_of_birth: BirthDate | None = None
    contact: Contact | None = None


_PATIENT_DETAIL: dict[str, Any] = {
    "patient_id": "p-7f3a9c2e41d8",
    "nhs_number": "9434765919",
    "date_of_birth": "1950-03-14",
    "contact": _CONTACT_EXAMPLE,
    "registered_at": "2025-01-14T09:20:00.000Z",
    "status": "admitted",
    "ward_id": "north-1",
    "ref": "Bed 3",
    "enrolment_id": "e-01945f3a7c00-3b1d9a2e",
    "enrolled_at": "2025-01-14T09:30:00.000Z",
    "discharged_at": None,
    "devices": ["C0:FF:EE:00:00:03"],
}


class PatientDetail(BaseModel):
    """A patient with demographics and the current (or last) enrolment."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PATIENT_DETAIL]})

    patient_id: str
    nhs_number: str | None
    date_of_birth: date | None
    contact: Contact | None
    registered_at: UtcTime | None
    status: PatientStatus
    ward_id: str | None = Field(description="current ward, or the last one after a discharge")
    ref: str | None
    enrolment_id: str | None
    enrolled_at: UtcTime | None
    discharged_at: UtcTime | None
    devices: list[str]


class PatientPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_PATIENT_DETAIL], "next_cursor": None}]}
    )

    items: list[PatientDetail]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: no more")


# -- enrolments -------------------------------------------------------------------------
class Admission(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"patient_id": "p-7f3a9c2e41d8", "ward_id": "north-1", "ref": "Bed 3", "devices": []}
            ]
        },
    )

    patient_id: EntityId | None = Field(
        default=None, description="a registered (or discharged) patient; omit to admit a new, unnamed patient"
    )
    ward_id: EntityId
    ref: ShortText = Field(description='ward-local reference shown on the queue, e.g. "Bed 3" (no names)')
    devices: list[DeviceAddress] = Field(default_factory=list, max_length=8)


class Discharge(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "recovered", "by": "dr-ak", "note": "SpO2 stable 7 days"}]
        },
    )

    reason: Literal["recovered", "escalated", "transferred", "died", "declined", "other"]
    by: ShortText = Field(description="who discharges (a staff identifier)")
    note: LongText | None = None


_ENROLMENT: dict[str, Any] = {
    "enrolment_id": "e-01945f3a7c00-3b1d9a2e",
    "patient_id": "p-7f3a9c2e41d8",
    "ward_id": "north-1",
    "ref": "Bed 3",
    "status": "active",
    "admitted_at": "2025-01-14T09:30:00.000Z",
    "discharged_at": None,
    "discharge_reason": None,
    "discharged_by": None,
    "discharge_note": None,
}


class EnrolmentRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ENROLMENT]})

    enrolment_id: str
    patient_id: str
    ward_id: str
    ref: str
    status: Literal["active", "discharged"]
    admitted_at: UtcTime
    discharged_at: UtcTime | None
    discharge_reason: str | None
    discharged_by: str | None
    discharge_note: str | None


class EnrolmentPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_ENROLMENT], "next_cursor": None}]})

    items: list[EnrolmentRead]
    next_cursor: str | None


# -- manual observations ------------------------------------------------------------------
ManualParameter = Literal["respiration_rate", "systolic_bp", "temperature", "consciousness", "oxygen"]


#: The request examples' `measured_at`: ten minutes before the service started (whole minutes), so
#: the documented example can be sent as it is; a fixed date would soon be over the 30 days an
#: observation may be late (api/resources/observations.py MAX_AGE) and only ever be refused.
EXAMPLE_MEASURED_AT = (datetime.now(UTC) - timedelta(minutes=10)).replace(second=0, microsecond=0)
_MEASURED_EXAMPLE = EXAMPLE_MEASURED_AT.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ObservationItem(BaseModel):
    """One observation: the parameter and its value, measured when and by whom its request says."""

    model_config = ConfigDict(extra="forbid")

    parameter: ManualParameter
    value: Annotated[Annotated[float, Strict()] | str, NotTrueOrFalse] = Field(
        description="breaths/min, mmHg, °C; an ACVPU letter for consciousness; `air` or `oxygen` for oxygen"
    )
    note: LongText | None = None


class ObservationCreate(ObservationItem):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "parameter": "respiration_rate",
                    "value": 18,
                    "measured_at": _MEASURED_EXAMPLE,
                    "by": "rn-12",
                },
                {"parameter": "consciousness", "value": "A", "measured_at": _MEASURED_EXAMPLE, "by": "rn-12"},
            ]
        },
    )

    measured_at: UtcTime
    by: ShortText = Field(description="who measured or recorded it (staff id, or `patient`)")


_OBSERVATION: dict[str, Any] = {
    "observation_id": "1736847600000-0",
    "parameter": "respiration_rate",
    "value": 18.0,
    "unit": "/min",
    "measured_at": "2025-01-14T09:40:00.000Z",
    "recorded_at": "2025-01-14T09:41:02.000Z",
    "by": "rn-12",
    "note": None,
}


class ObservationRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_OBSERVATION]})

    observation_id: str
    parameter: ManualParameter
    value: float | str
    unit: str | None = Field(description="UCUM unit: `/min`, `mm[Hg]`, `Cel`; null for coded values")
    measured_at: UtcTime
    recorded_at: UtcTime
    by: str
    note: str | None


_SCORED = (
    "true: the patient's NEWS2 is scored with it (the care plan in force is a NEWS2 pack and the patient "
    "is admitted); false: stored for the record only, it raises no alert (e.g. an Oximetry @home plan)"
)


class ObservationRecorded(ObservationRead):
    """A recorded observation, and whether it is scored."""

    model_config = ConfigDict(json_schema_extra={"examples": [_OBSERVATION | {"scored": True}]})

    scored: bool = Field(description=_SCORED)


class ObservationPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_OBSERVATION], "next_cursor": None}]}
    )

    items: list[ObservationRead]
    next_cursor: str | None


def _distinct(items: list[ObservationItem]) -> list[ObservationItem]:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.parameter in seen:
            raise ValueError(f"{item.parameter} is given twice (items {seen[item.parameter]} and {i})")
        seen[item.parameter] = i
    return items


class ObservationSetCreate(BaseModel):
    """A set measured together (a nurse's round): stored at once and scored once, as one NEWS2."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # No fixed `measured_at` in the first example: it is valid whenever it is sent.
            "examples": [
                {
                    "by": "rn-12",
                    "observations": [
                        {"parameter": "respiration_rate", "value": 18},
                        {"parameter": "systolic_bp", "value": 124},
                        {"parameter": "consciousness", "value": "A"},
                    ],
                },
                {
                    "measured_at": _MEASURED_EXAMPLE,
                    "by": "rn-12",
                    "observations": [
                        {"parameter": "temperature", "value": 38.4, "note": "tympanic"},
                        {"parameter": "oxygen", "value": "air"},
                    ],
                },
            ]
        },
    )

    measured_at: UtcTime | None = Field(default=None, description="when the set was measured; default: now")
    by: ShortText = Field(description="who measured or recorded it (staff id, or `patient`)")
    observations: Annotated[list[ObservationItem], AfterValidator(_distinct)] = Field(
        min_length=1, max_length=5, description="1 to 5 observations, each parameter at most once"
    )


class ObservationSetRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"observations": [_OBSERVATION], "scored": True}]}
    )

    observations: list[ObservationRead] = Field(description="as stored, in the order given")
    scored: bool = Field(description=_SCORED)


def example(model: type[BaseModel]) -> dict[str, Any]:
    """The first example of a model, for OpenAPI `openapi_examples`."""
    extra: Any = model.model_config.get("json_schema_extra")
    first: dict[str, Any] = extra["examples"][0]
    return first
