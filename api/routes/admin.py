"""Administration: users, API keys, roles and ward grants (scope `admin`)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response, status

from api.auth import note_access
from api.deps import Administrator, NowDep, RedisDep, WardId
from api.schemas import problem_responses
from api.security import principals
from api.security.principal import Kind, effective_wards
from api.security.principals import PrincipalRecord
from api.security.roles import ROLE_SCOPES
from api.security.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    PrincipalList,
    PrincipalRead,
    PrincipalUpdate,
    UserCreate,
)
from api.security.secrets import hash_password

router = APIRouter(prefix="/admin", tags=["administration"])
PrincipalId = Annotated[str, Path(pattern=r"^[uk]-[0-9a-f]{16}$", examples=["u-4f1c2d3e4a5b6c7d"])]


def principal_read(record: PrincipalRecord) -> PrincipalRead:
    wards = effective_wards(record.role, record.wards)
    return PrincipalRead(
        principal_id=record.principal_id,
        kind=record.kind,
        name=record.name,
        role=record.role,
        scopes=sorted(ROLE_SCOPES[record.role]),
        wards=None if wards is None else sorted(wards),
        created_at=record.created_at,
        disabled=record.disabled,
        tokens_not_before=None
        if record.not_before is None
        else datetime.fromtimestamp(record.not_before, UTC),
        gateway_id=record.gateway_id,
    )


@router.get("/principals", response_model=PrincipalList)
async def list_principals(_: Administrator, r: RedisDep) -> PrincipalList:
    """Every user and API key (never their credentials)."""
    return PrincipalList(items=[principal_read(p) for p in await principals.list_all(r)])


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=PrincipalRead,
    responses=problem_responses(409, 422),
)
async def create_user(body: UserCreate, _: Administrator, r: RedisDep, now: NowDep) -> PrincipalRead:
    """Create a user who signs in with the password grant. The password is stored as a scrypt hash."""
    password_hash = await asyncio.to_thread(hash_password, body.password)
    return principal_read(
        await principals.create_user(r, body.username, password_hash, body.role, body.wards, now)
    )


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=problem_responses(422),
)
async def create_api_key(body: ApiKeyCreate, _: Administrator, r: RedisDep, now: NowDep) -> ApiKeyCreated:
    """Create an API key for a system. The key is in this response only; the service keeps a hash.

    A `gateway` key names its gateway (`gateway_id`): it submits readings for that one only."""
    record, key = await principals.create_api_key(r, body.name, body.role, body.wards, now, body.gateway_id)
    return ApiKeyCreated(**principal_read(record).model_dump(), api_key=key.token)


@router.get("/principals/{principal_id}", response_model=PrincipalRead, responses=problem_responses(404))
async def get_principal(principal_id: PrincipalId, _: Administrator, r: RedisDep) -> PrincipalRead:
    return principal_read(await principals.require(r, principal_id))


@router.patch(
    "/principals/{principal_id}", response_model=PrincipalRead, responses=problem_responses(400, 404, 422)
)
async def update_principal(
    principal_id: PrincipalId, body: PrincipalUpdate, _: Administrator, r: RedisDep
) -> PrincipalRead:
    """Change the role, disable / enable, or set a user's password (which also revokes their tokens).

    Role and disabling take effect on the next request, even for tokens already issued.
    """
    record = await principals.require(r, principal_id)
    fields: dict[str, str] = {}
    if body.role is not None:
        fields["role"] = body.role.value
    if body.disabled is not None:
        fields["disabled"] = "1" if body.disabled else "0"
    if body.password is not None:
        if record.kind is not Kind.USER:
            raise HTTPException(400, "only users have passwords; create a new API key instead")
        fields["secret"] = await asyncio.to_thread(hash_password, body.password)
        fields["not_before"] = f"{time.time():.3f}"
    return principal_read(await principals.update(r, principal_id, fields))


@router.delete(
    "/principals/{principal_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_principal(principal_id: PrincipalId, _: Administrator, r: RedisDep) -> Response:
    """Delete a user, or revoke an API key: its key and every token issued to it stop working at once."""
    await principals.delete(r, principal_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/principals/{principal_id}/revoke-tokens", response_model=PrincipalRead, responses=problem_responses(404)
)
async def revoke_tokens(principal_id: PrincipalId, _: Administrator, r: RedisDep) -> PrincipalRead:
    """Refuse every access token issued to the principal until now (it can sign in again)."""
    return principal_read(await principals.revoke_tokens(r, principal_id, time.time()))


@router.put(
    "/principals/{principal_id}/wards/{ward_id}",
    response_model=PrincipalRead,
    responses=problem_responses(404),
)
async def grant_ward(
    request: Request, principal_id: PrincipalId, ward_id: WardId, _: Administrator, r: RedisDep
) -> PrincipalRead:
    """Grant a ward (idempotent). Takes effect on the principal's next request."""
    note_access(request, ward_id=ward_id)
    return principal_read(await principals.edit_ward(r, principal_id, ward_id, grant=True))


@router.delete(
    "/principals/{principal_id}/wards/{ward_id}",
    response_model=PrincipalRead,
    responses=problem_responses(404),
)
async def revoke_ward(
    request: Request, principal_id: PrincipalId, ward_id: WardId, _: Administrator, r: RedisDep
) -> PrincipalRead:
    """Withdraw a ward grant (idempotent). Takes effect on the principal's next request."""
    note_access(request, ward_id=ward_id)
    return principal_read(await principals.edit_ward(r, principal_id, ward_id, grant=False))
