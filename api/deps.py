"""FastAPI dependencies as Annotated aliases; the objects live on ``app.state`` (set by the lifespan)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from redis.asyncio import Redis

from api.auth import Principal, Scope, requires
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

Reader = Annotated[Principal, Depends(requires(Scope.READ))]
Writer = Annotated[Principal, Depends(requires(Scope.WRITE))]
AlertHandler = Annotated[Principal, Depends(requires(Scope.ALERTS))]

WardId = Annotated[str, Path(pattern=ID_PATTERN, examples=["north-1"])]
PatientId = Annotated[str, Path(pattern=ID_PATTERN, examples=["p-7f3a9c2e41d8"])]
AlertId = Annotated[str, Path(pattern=ID_PATTERN, examples=["a-1f0c2d"])]
DeviceAddressPath = Annotated[str, Path(pattern=ADDRESS_PATTERN, examples=["C0:FF:EE:00:00:03"])]
