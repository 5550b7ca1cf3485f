"""REST for reaching people: the ward rota (versioned, with its history) and the accept call of a
delivered notification."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api import alert_store
from api.actor import recorded_actor
from api.alerting_examples import ok
from api.auth import authenticate
from api.deps import (
    AlertHandler,
    AlertId,
    NowDep,
    ReadablePatient,
    ReadableWard,
    RedisDep,
    WritableWard,
    get_settings,
)
from api.notify import accept as accepting
from api.notify import keys as nkeys
from api.notify import rota_store
from api.notify.rota import Rota, RotaPut, public_record
from api.notify.rota_targets import rota_refusal
from api.routes.care_plans import problem
from api.schemas import problem_responses
from api.security.principal import Kind
from api.versioned_store import VersionConflict

router = APIRouter(tags=["notifications"])


class AcceptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"token": "9f2c…"}]})

    token: str = Field(min_length=1, max_length=200, description="the `accept.token` of the delivery")


ROTA_EXAMPLE = {
    "ward_id": "north-1",
    "version": 3,
    "rota": {
        "tiers": [
            {
                "recipients": [
                    {
                        "name": "Ward nurse on shift",
                        "channels": [
                            {
                                "kind": "webhook",
                                "url": "https://pager.example.nhs.uk/…",
                                "privacy": "minimal",
                                "secret": "whsec_…",
                            }
                        ],
                    }
                ]
            }
        ],
        "mqtt": {"privacy": "minimal"},
    },
    "set_by": "ward.admin",
    "set_at": "2026-01-05T09:00:00.000Z",
    "principal": "u-0123456789abcdef",
}
ROTA_HISTORY_EXAMPLE = {"items": [ROTA_EXAMPLE]}
ACCEPT_EXAMPLE = {
    "delivery_id": "4f1c…",
    "status": "accepted",
    "alert_id": "a1b2c3",
    "state": "acknowledged",
    "acknowledged_by": "Ward nurse on shift",
}


#: What a delivery record shows (never its target: that holds the channel's URL and secret).
SHOWN = (
    "delivery_id",
    "tier",
    "kind",
    "recipient",
    "channel",
    "status",
    "attempts",
    "created_at",
    "updated_at",
    "last_error",
    "next_attempt_at",
    "delivered_at",
    "sent_at",
    "read_at",
    "accepted_at",
)
DELIVERIES_EXAMPLE = {
    "items": [
        {
            "delivery_id": "4f1c…",
            "tier": 0,
            "kind": "raised",
            "recipient": "Ward nurse on shift",
            "channel": "webhook",
            "status": "accepted",
            "attempts": 1,
            "created_at": "2026-01-05T09:00:00.000Z",
            "updated_at": "2026-01-05T09:00:01.000Z",
            "last_error": "",
            "delivered_at": "2026-01-05T09:00:01.000Z",
            "read_at": "2026-01-05T09:01:30.000Z",
            "accepted_at": "2026-01-05T09:02:10.000Z",
        }
    ]
}


@router.get(
    "/patients/{patient_id}/alerts/{alert_id}/deliveries",
    responses={**ok(DELIVERIES_EXAMPLE), **problem_responses(404)},
)
async def list_deliveries(patient: ReadablePatient, alert_id: AlertId, r: RedisDep) -> dict[str, Any]:
    """Who was told about the alert, on which channel, and what became of it (oldest first)."""
    ids = await r.lrange(nkeys.alert_deliveries(alert_id), 0, -1)
    items = []
    for did in ids:
        f = {
            alert_store.text(k): alert_store.text(v)
            for k, v in (await r.hgetall(nkeys.delivery(alert_store.text(did)))).items()
        }
        if f.get("patient_id") != patient.patient_id:
            continue  # expired, or another patient's alert id
        item: dict[str, Any] = {k: f[k] for k in SHOWN if k in f}
        item["tier"], item["attempts"] = int(f.get("tier", "0")), int(f.get("attempts", "0"))
        items.append(item)
    return {"items": items}


@router.get("/wards/{ward_id}/rota", responses=ok(ROTA_EXAMPLE))
async def get_rota(ward_id: ReadableWard, r: RedisDep) -> dict[str, Any]:
    """Who is told at each escalation tier, and how. Secrets are masked. Version 0: no rota (the ward
    page only)."""
    return public_record(ward_id, await r.get(nkeys.rota(ward_id)))


@router.put("/wards/{ward_id}/rota", responses={**ok(ROTA_EXAMPLE), **problem_responses(409, 422)})
async def put_rota(request: Request, ward_id: WritableWard, body: RotaPut, r: RedisDep, now: NowDep) -> Any:
    """Replace the ward's rota (the next version; its history keeps every one). Tier k is told when an
    alert reaches tier k of the ward's escalation ladder (`alerting-config`); webhooks need a signing
    secret; apprise URLs are checked by apprise. A webhook's host, and the server an apprise URL names
    (an SMS gateway, an SMTP server, ...), must resolve to public addresses unless the operator allows
    more (422 otherwise; docs/notifications.md). 409 when `if_version` is not the current version."""
    principal = await authenticate(request)
    refused = await rota_refusal(body, get_settings(request))
    if refused:
        return problem(request, 422, refused)
    try:
        stored = await rota_store.set_rota(
            r,
            ward_id,
            Rota.from_put(body),
            set_by=await recorded_actor(request, r, principal.subject),
            principal=principal.subject,
            now=now,
            if_version=body.if_version,
        )
    except VersionConflict as err:
        return problem(request, 409, str(err))
    return public_record(ward_id, json.dumps(stored))


@router.get("/wards/{ward_id}/rota/history", responses=ok(ROTA_HISTORY_EXAMPLE))
async def rota_history(
    ward_id: ReadableWard, r: RedisDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> dict[str, Any]:
    """Every version of the ward's rota, newest first: who set it (`set_by`, `principal`) and when.
    Secrets are masked as in GET."""
    return {"items": await rota_store.history(r, ward_id, limit)}


@router.post(
    "/alerts/deliveries/{delivery_id}/accept",
    responses={**ok(ACCEPT_EXAMPLE), **problem_responses(404, 409, 422)},
)
async def accept_delivery(
    request: Request, principal: AlertHandler, delivery_id: str, body: AcceptRequest, r: RedisDep, now: NowDep
) -> Any:
    """Accept the alert a delivery carried (the token from its message): it is acknowledged as the
    delivery's recipient (as yourself when signed in). 404 for an unknown delivery, a wrong token or
    a ward the caller does not see; 409 once the alert is resolved."""
    person = await recorded_actor(request, r, "") if principal.kind is Kind.USER else None
    try:
        alert = await accepting.accept(r, delivery_id, body.token, now, principal.sees_ward, person)
    except accepting.BadToken:
        return problem(request, 404, "no such delivery for this token")
    except alert_store.NotFound:
        return problem(request, 404, "the alert no longer exists")
    except alert_store.Conflict:
        return problem(request, 409, "the alert is already resolved")
    return JSONResponse(
        {
            "delivery_id": delivery_id,
            "status": "accepted",
            "alert_id": alert["alert_id"],
            "state": alert["state"],
            "acknowledged_by": alert.get("acknowledged_by"),
        }
    )
