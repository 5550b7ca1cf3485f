"""Home gateways: register, list, read, rotate MQTT credentials, revoke; the broker's password file."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import NowDep, RedisDep
from api.resources import gateways
from api.resources.access import Administrator, Devices, refusals
from api.resources.schemas_kit import (
    GatewayCredentials,
    GatewayPage,
    GatewayRead,
    GatewayRegister,
    Revocation,
)
from api.schemas import ID_PATTERN, problem_responses

router = APIRouter(tags=["gateways"])
GatewayId = Annotated[str, Path(pattern=ID_PATTERN, examples=["gw-0042"])]
_PASSWD_EXAMPLE = "gw-0042:$7$1000$c2FsdHNhbHRzYWx0$3q2+7w==...\n"  # noqa: S105 - a made-up hash


@router.post(
    "/gateways",
    status_code=status.HTTP_201_CREATED,
    response_model=GatewayCredentials,
    responses=problem_responses(409, 422),
)
async def register_gateway(body: GatewayRegister, _: Devices, r: RedisDep, now: NowDep) -> GatewayCredentials:
    """Register a gateway and generate its MQTT password, shown in this response only.

    Only a PBKDF2-SHA512 hash (Mosquitto's `$7$` format) is kept. The broker accepts the
    password once its password file is refreshed from `GET /v1/mqtt/password-file`.
    """
    with refusals():
        return await gateways.register(r, body, now)


@router.get("/gateways", response_model=GatewayPage, responses=problem_responses(400, 422))
async def list_gateways(
    _: Devices,
    r: RedisDep,
    status_: Annotated[Literal["active", "revoked"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> GatewayPage:
    """Gateways by id with their last status message, optionally only active or revoked ones."""
    page = await gateways.page(r, cursor, limit, lambda g: status_ is None or g.status == status_)
    return GatewayPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/gateways/{gateway_id}", response_model=GatewayRead, responses=problem_responses(404))
async def get_gateway(gateway_id: GatewayId, _: Devices, r: RedisDep) -> GatewayRead:
    with refusals():
        return await gateways.get(r, gateway_id)


@router.post(
    "/gateways/{gateway_id}/credentials",
    response_model=GatewayCredentials,
    responses=problem_responses(404, 409),
)
async def rotate_credentials(
    gateway_id: GatewayId, _: Devices, r: RedisDep, now: NowDep
) -> GatewayCredentials:
    """Generate a new MQTT password (shown once); the old one stops working when the broker's
    password file is next refreshed. 409 for a revoked gateway."""
    with refusals():
        return await gateways.rotate(r, gateway_id, now)


@router.post(
    "/gateways/{gateway_id}/revoke", response_model=GatewayRead, responses=problem_responses(404, 422)
)
async def revoke_gateway(
    gateway_id: GatewayId, body: Revocation, _: Devices, r: RedisDep, now: NowDep
) -> GatewayRead:
    """Revoke a gateway: its credentials leave the password file. Idempotent."""
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
