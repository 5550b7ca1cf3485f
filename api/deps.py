"""FastAPI dependencies as Annotated aliases; the objects live on ``app.state`` (set by the lifespan)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from redis.asyncio import Redis

from api.auth import Principal, Scope, patient_access, scoped, ward_access
from api.registry import PatientRecord
from api.schemas import ADDRESS_PATTERN, ID_PATTERN
from api.settings import ApiSettings


def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def utc_now() -> datetime:
    """The request's clock; tests may override it through ``app.dependency_overrides``."""
    return datetime.now(UTC)


RedisDep = Annotated[Redis, Depends(get_redis)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(utc_now)]

# Each route takes exactly ONE of these scope-carrying aliases (it becomes the operation's
# OpenAPI `security`). The *Patient / *Ward ones also check the path's patient / ward against the
# caller's ward grants (404 unknown patient, 403 other ward) and note it in the audit entry.
Reader = Annotated[Principal, scoped(Scope.READ)]
Writer = Annotated[Principal, scoped(Scope.WRITE)]
AlertHandler = Annotated[Principal, scoped(Scope.ALERTS)]
Auditor = Annotated[Principal, scoped(Scope.AUDIT)]
Administrator = Annotated[Principal, scoped(Scope.ADMIN)]
ReadablePatient = Annotated[PatientRecord, Depends(patient_access(Scope.READ))]
WritablePatient = Annotated[PatientRecord, Depends(patient_access(Scope.WRITE))]
ClinicalPatient = Annotated[PatientRecord, Depends(patient_access(Scope.CLINICAL))]
AlertablePatient = Annotated[PatientRecord, Depends(patient_access(Scope.ALERTS))]
ReadableWard = Annotated[str, Depends(ward_access(Scope.READ))]
WritableWard = Annotated[str, Depends(ward_access(Scope.WRITE))]

WardId = Annotated[str, Path(pattern=ID_PATTERN, examples=["north-1"])]
PatientId = Annotated[str, Path(pattern=ID_PATTERN, examples=["p-7f3a9c2e41d8"])]
AlertId = Annotated[str, Path(pattern=ID_PATTERN, examples=["a-1f0c2d"])]
DeviceAddressPath = Annotated[str, Path(pattern=ADDRESS_PATTERN, examples=["C0:FF:EE:00:00:03"])]
