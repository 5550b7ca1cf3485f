"""Request and response models of devices, gateways, chart series and the cross-patient alert list."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas import AlertRead, DeviceAddress, EntityId, ShortText, UtcTime

_TEXT = r"^[^\x00-\x1f\x7f]+$"
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_TEXT)]


# -- devices ----------------------------------------------------------------------------
class DeviceRegister(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"address": "C0:FF:EE:00:00:03", "model": "Nonin 3230", "serial": "SN-0042"}]
        },
    )

    address: DeviceAddress
    model: ShortText | None = None
    serial: ShortText | None = None


class DeviceAssignment(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"enrolment_id": "e-01945f3a7c00-3b1d9a2e"}]}
    )

    enrolment_id: Annotated[str, StringConstraints(pattern=r"^e-[0-9a-f]{12}-[0-9a-f]{8}$")]


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "reported lost"}]})

    reason: Reason


_DEVICE: dict[str, Any] = {
    "address": "C0:FF:EE:00:00:03",
    "model": "Nonin 3230",
    "serial": "SN-0042",
    "status": "assigned",
    "registered_at": "2025-01-14T09:00:00.000Z",
    "patient_id": "p-7f3a9c2e41d8",
    "ward_id": "north-1",
    "enrolment_id": "e-01945f3a7c00-3b1d9a2e",
    "revoked_at": None,
    "revoke_reason": None,
}


class DeviceRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DEVICE]})

    address: str
    model: str | None
    serial: str | None
    status: Literal["available", "assigned", "revoked"]
    registered_at: UtcTime | None = Field(
        description="null for a device only ever assigned, never registered"
    )
    patient_id: str | None
    ward_id: str | None = Field(description="the assigned patient's ward")
    enrolment_id: str | None
    revoked_at: UtcTime | None
    revoke_reason: str | None


class DevicePage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_DEVICE], "next_cursor": None}]})

    items: list[DeviceRead]
    next_cursor: str | None


# -- gateways ---------------------------------------------------------------------------
class GatewayRegister(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"gateway_id": "gw-0042", "label": "Hub for Bed 3", "ward_id": "north-1"}]
        },
    )

    gateway_id: EntityId = Field(description="also the gateway's MQTT username (docs/wire-contract.md)")
    label: ShortText | None = None
    ward_id: EntityId | None = Field(
        default=None,
        description="the ward the gateway serves (one you are granted); only administrators may omit it",
    )


_GATEWAY: dict[str, Any] = {
    "gateway_id": "gw-0042",
    "label": "Hub for Bed 3",
    "ward_id": "north-1",
    "status": "active",
    "registered_at": "2025-01-14T09:00:00.000Z",
    "credentials_rotated_at": "2025-01-14T09:00:00.000Z",
    "revoked_at": None,
    "revoke_reason": None,
    "last_status": {"state": "online", "received_at": "2025-01-14T10:00:02.000Z", "outbox_depth": "0"},
}


class GatewayRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_GATEWAY]})

    gateway_id: str
    label: str | None
    ward_id: str | None = Field(description="null for gateways registered before wards were recorded")
    status: Literal["active", "revoked"]
    registered_at: UtcTime
    credentials_rotated_at: UtcTime | None
    revoked_at: UtcTime | None
    revoke_reason: str | None
    last_status: dict[str, str] | None = Field(description="the gateway's last retained status message")


class GatewayCredentials(BaseModel):
    """Shown once: the service keeps only a PBKDF2-SHA512 hash of the password."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "gateway_id": "gw-0042",
                    "mqtt_username": "gw-0042",
                    "mqtt_password": "4kQ3yN0v2m8bJm4m8Jd3c9b0uGJfQm1XyZ2s3T4u5V6",
                    "rotated_at": "2025-01-14T09:00:00.000Z",
                }
            ]
        }
    )

    gateway_id: str
    mqtt_username: str
    mqtt_password: str = Field(description="store it on the gateway now: it cannot be shown again")
    rotated_at: UtcTime


class GatewayPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_GATEWAY], "next_cursor": None}]})

    items: list[GatewayRead]
    next_cursor: str | None


# -- chart series ---------------------------------------------------------------------------
class SeriesStats(BaseModel):
    n: int = Field(description="values in the bucket")
    min: float | None
    max: float | None
    mean: float | None


class SeriesBucket(BaseModel):
    start: UtcTime
    readings: int = Field(description="readings measured in the bucket, including those excluded")
    excluded: int = Field(description="readings the device flagged unreliable (probe off, invalid, ...)")
    spo2: SeriesStats
    pulse: SeriesStats


_BUCKET: dict[str, Any] = {
    "start": "2025-01-14T09:00:00.000Z",
    "readings": 60,
    "excluded": 2,
    "spo2": {"n": 58, "min": 93.0, "max": 97.0, "mean": 95.4},
    "pulse": {"n": 58, "min": 70.0, "max": 88.0, "mean": 76.2},
}


class Series(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "patient_id": "p-7f3a9c2e41d8",
                    "from": "2025-01-14T09:00:00.000Z",
                    "to": "2025-01-15T09:00:00.000Z",
                    "bucket_seconds": 60,
                    "buckets": [_BUCKET],
                }
            ]
        },
        populate_by_name=True,
    )

    patient_id: str
    start: UtcTime = Field(alias="from")
    end: UtcTime = Field(alias="to")
    bucket_seconds: int
    buckets: list[SeriesBucket] = Field(description="only buckets holding at least one reading, oldest first")


# -- alerts across patients ---------------------------------------------------------------
class AlertPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            **AlertRead.model_json_schema()["examples"][0],
                            "ward_id": "north-1",
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[WardAlert]
    next_cursor: str | None


class WardAlert(AlertRead):
    ward_id: str


AlertPage.model_rebuild()
