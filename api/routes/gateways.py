"""Home gateways: register, list, read, rotate MQTT credentials, revoke; the broker's password file.

A gateway belongs to a ward, as a device does through its patient: a ward-limited caller must
name one of its wards when registering, lists only its wards' gateways, and is refused (403, as
for another ward's device or patient) reading, rotating or revoking any other. Gateways without
a ward (registered before wards were recorded) are administrators' alone.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from redis.asyncio import Redis

from api.auth import Principal, note_access
from api.deps import NowDep, RedisDep
from api.resources import gateways
from api.resources.access import Administrator, Devices, refusals, require_ward
from api.resources.schemas_kit import (
    GatewayCredentials,
    GatewayPage,
    GatewayRead,
    GatewayRegister,
    Revocation,
)
from api.schemas import ID_PATTERN, problem_responses
from api.security.principal import ward_denied

router = APIRouter(tags=["gateways"])
GatewayId = Annotated[str, Path(pattern=ID_PATTERN, examples=["gw-0042"])]
_PASSWD_EXAMPLE = "gw-0042:$7$1000$c2FsdHNhbHRzYWx0$3q2+7w==...\n"  # noqa: S105 - a made-up hash


def _visible(principal: Principal, gateway: GatewayRead) -> bool:
    if gateway.ward_id is None:
        return principal.wards is None
    return principal.sees_ward(gateway.ward_id)


async def _mine(request: Request, principal: Principal, r: Redis, gateway_id: str) -> GatewayRead:
    """The gateway if the caller may manage it: 404 unknown, 403 on a ward not granted."""
    with refusals():
        found = await gateways.get(r, gateway_id)
    note_access(request, ward_id=found.ward_id)
    if not _visible(principal, found):
        raise ward_denied()
    return found


@router.post(
    "/gateways",
    status_code=status.HTTP_201_CREATED,
    response_model=GatewayCredentials,
    responses=problem_responses(409, 422),
)
async def register_gateway(
    request: Request, body: GatewayRegister, principal: Devices, r: RedisDep, now: NowDep
) -> GatewayCredentials:
    """Register a gateway on a ward and generate its MQTT password, shown in this response only.

    `ward_id` must be a ward you are granted (403 otherwise); only administrators may leave it
    out. Only a PBKDF2-SHA512 hash (Mosquitto's `$7$` format) is kept. The broker accepts the
    password once its password file is refreshed from `GET /v1/mqtt/password-file`.
    """
    if body.ward_id is None and principal.wards is not None:
        raise HTTPException(422, "ward_id: required: name the ward the gateway serves (one you are granted)")
    if body.ward_id is not None:
        require_ward(request, principal, body.ward_id)
    with refusals():
        return await gateways.register(r, body, now)


@router.get("/gateways", response_model=GatewayPage, responses=problem_responses(400, 422))
async def list_gateways(
    request: Request,
    principal: Devices,
    r: RedisDep,
    status_: Annotated[Literal["active", "revoked"] | None, Query(alias="status")] = None,
    ward_id: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this ward's gateways")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> GatewayPage:
    """Gateways of your wards by id with their last status message, optionally only one ward's,
    or only active or revoked ones."""
    if ward_id is not None:
        require_ward(request, principal, ward_id)

    def keep(g: GatewayRead) -> bool:
        wanted = (status_ is None or g.status == status_) and (ward_id is None or g.ward_id == ward_id)
        return wanted and _visible(principal, g)

    page = await gateways.page(r, cursor, limit, keep)
    return GatewayPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/gateways/{gateway_id}", response_model=GatewayRead, responses=problem_responses(404))
async def get_gateway(
    request: Request, gateway_id: GatewayId, principal: Devices, r: RedisDep
) -> GatewayRead:
    return await _mine(request, principal, r, gateway_id)


@router.post(
    "/gateways/{gateway_id}/credentials",
    response_model=GatewayCredentials,
    responses=problem_responses(404, 409),
)
async def rotate_credentials(
    request: Request, gateway_id: GatewayId, principal: Devices, r: RedisDep, now: NowDep
) -> GatewayCredentials:
    """Generate a new MQTT password (shown once); the old one stops working when the broker's
    password file is next refreshed. 409 for a revoked gateway."""
    await _mine(request, principal, r, gateway_id)
    with refusals():
        return await gateways.rotate(r, gateway_id, now)


@router.post(
    "/gateways/{gateway_id}/revoke", response_model=GatewayRead, responses=problem_responses(404, 422)
)
async def revoke_gateway(
    request: Request, gateway_id: GatewayId, body: Revocation, principal: Devices, r: RedisDep, now: NowDep
) -> GatewayRead:
    """Revoke a gateway: its credentials leave the password file. Idempotent."""
    await _mine(request, principal, r, gateway_id)
    with refusals():
        return await gateways.revoke(r, gateway_id, body.reason, now)


@router.get(
    "/mqtt/password-file",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}, "example": _PASSWD_EXAMPLE}}}},
)
async def mosquitto_password_file(_: Administrator, r: RedisDep) -> Response:
    """Mosquitto's `password_file` for every active gateway (hashes only, no passwords).

    Write it where `password_file` points and send Mosquitto SIGHUP (docs/api.md).
    """
    return Response(await gateways.password_file(r), media_type="text/plain; charset=utf-8")
