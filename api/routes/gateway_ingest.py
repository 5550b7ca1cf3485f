"""HTTPS ingest for gateways that cannot use MQTT: ``POST /v1/gateways/{gateway_id}/readings``.

The body is a batch of wire-contract v1 reading payloads (docs/wire-contract.md), each stored
exactly as if it had arrived over MQTT on the gateway's own topic: the same check
(api/ingest.py ``check``, so `source.gateway_id` must be the path's gateway: topic-mismatch
otherwise) and the same storage step (``store_checked``: api/store.py and api/lua/ingest.lua,
de-duplication by reading id, dead letters with their reason). The answer says per payload what
became of it. Like the broker's ACL (a gateway's MQTT username is its id), a `gateway` key may
submit for its own gateway only; administrators for any. The gateway must be registered, on a
ward the caller is granted, and not revoked (409, as for rotating its credentials).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import redis
from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, Scope, note_access, scoped
from api.contract import BatchError, ValidReading, readings_topic, split_batch
from api.deps import RedisDep
from api.ingest import check, store_checked
from api.resources import gateways
from api.resources.access import refusals
from api.schemas import ID_PATTERN, problem_responses
from api.security.principal import AuthError, ward_denied
from api.security.roles import Role
from api.store import Outcome, ReadingStore

router = APIRouter(tags=["gateways"])
Submitter = Annotated[Principal, scoped(Scope.READINGS)]
GatewayId = Annotated[str, Path(pattern=ID_PATTERN, examples=["gw-0042"])]
#: Readings per request: an outbox drained over HTTPS sends several batches, each answered in time.
MAX_READINGS = 500

_READING_EXAMPLE: dict[str, Any] = {
    "v": 1,
    "reading_id": "138490298086109fac09db0ae620619c",
    "measured_at": "2025-01-14T09:38:31.000Z",
    "received_at": "2025-01-14T09:38:31.000Z",
    "mode": "spot-check",
    "spo2": 94.0,
    "pulse": 88.0,
    "perfusion_index": 8.7,
    "status": {"measurement": 0, "device_sensor": 0, "device_clock_not_set": False},
    "source": {
        "gateway_id": "gw-0042",
        "device_address": "C0:FF:EE:00:00:03",
        "protocol": "plx-spot-check",
        "model": "Oxiward Emulated PLX",
    },
}
_ITEMS = (
    "wire-contract v1 reading payloads (docs/contract/reading.v1.schema.json), each as the gateway "
    "would publish it over MQTT; one that breaks the contract is dead-lettered with its reason, "
    "not refused with the batch"
)
_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["readings"],
                "properties": {
                    "readings": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_READINGS,
                        "description": _ITEMS,
                        "items": {},
                    }
                },
            },
            "example": {"readings": [_READING_EXAMPLE]},
        }
    },
}


class ReadingOutcome(BaseModel):
    index: int = Field(description="position of the payload in `readings`")
    reading_id: str | None = Field(description="the payload's reading id, when it passed the contract")
    outcome: Literal["stored", "duplicate", "dead-lettered"]
    reason: str | None = Field(
        description="why it was dead-lettered: a docs/wire-contract.md reason "
        "(`malformed`, `schema`, `unknown-device`, `topic-mismatch`, …) or `ingest-failed`"
    )
    detail: str | None = Field(description="what is wrong, for the gateway's log")


class GatewayReadingsResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "stored": 1,
                    "duplicates": 0,
                    "dead_lettered": 0,
                    "items": [
                        {
                            "index": 0,
                            "reading_id": "138490298086109fac09db0ae620619c",
                            "outcome": "stored",
                            "reason": None,
                            "detail": None,
                        }
                    ],
                }
            ]
        }
    )

    stored: int
    duplicates: int
    dead_lettered: int
    items: list[ReadingOutcome]


_OUTCOMES: dict[Outcome, Literal["stored", "duplicate", "dead-lettered"]] = {
    Outcome.STORED: "stored",
    Outcome.DUPLICATE: "duplicate",
    Outcome.DEAD_LETTERED: "dead-lettered",
}


def _refuse_other_gateway(principal: Principal, gateway_id: str) -> None:
    if principal.role is Role.GATEWAY and principal.gateway_id != gateway_id:
        raise AuthError(403, "this key submits readings for its own gateway only", "insufficient_scope")


@router.post(
    "/gateways/{gateway_id}/readings",
    response_model=GatewayReadingsResult,
    responses=problem_responses(404, 409, 422, 503),
    openapi_extra={"requestBody": _BODY},
)
async def submit_readings(
    request: Request, gateway_id: GatewayId, principal: Submitter, r: RedisDep
) -> GatewayReadingsResult:
    """Submit a batch of readings over HTTPS, for a gateway that cannot reach the MQTT broker.

    Each payload is stored exactly as MQTT ingest stores it: a reading id already stored is a
    `duplicate` (re-sending a batch is safe), one that breaks the wire contract or comes from a
    device assigned to no patient is `dead-lettered` with its reason. `source.gateway_id` must be
    this gateway. A `gateway` key may submit for its own gateway only (403 otherwise), and a
    revoked gateway not at all (409). 503: nothing was stored for sure; send the batch again.
    """
    _refuse_other_gateway(principal, gateway_id)
    with refusals():
        gateway = await gateways.get(r, gateway_id)
    note_access(request, ward_id=gateway.ward_id)
    # As for managing it (api/routes/gateways.py): a gateway without a ward is administrators' alone.
    if principal.wards is not None and (gateway.ward_id is None or gateway.ward_id not in principal.wards):
        raise ward_denied()
    if gateway.status == "revoked":  # as rotating its credentials is (api/routes/gateways.py)
        raise HTTPException(409, "this gateway is revoked: it may no longer submit readings")
    try:
        payloads = split_batch(await request.body())
    except BatchError as exc:
        raise HTTPException(400 if exc.malformed else 422, str(exc)) from exc
    if not 1 <= len(payloads) <= MAX_READINGS:
        raise HTTPException(422, f"readings: give 1 to {MAX_READINGS} payloads per request")
    topic = readings_topic(gateway_id)
    checked = [check(topic, p) for p in payloads]
    store: ReadingStore = request.app.state.reading_store
    try:
        results = await asyncio.to_thread(store_checked, store, checked)
    except redis.RedisError as exc:  # away, or refusing every write: the caller sends it again
        raise HTTPException(503, "the data store is unavailable; send the batch again shortly") from exc
    devices = {c.value.device_address for c in checked if isinstance(c.value, ValidReading)}
    for patient_id in (await asyncio.to_thread(store.lookup_devices, devices)).values():
        if patient_id is not None:  # whose history this batch wrote to
            note_access(request, patient_id=patient_id)
    items = [
        ReadingOutcome(
            index=i,
            reading_id=c.value.reading_id if isinstance(c.value, ValidReading) else None,
            outcome=_OUTCOMES[res.outcome],
            reason=res.reason or None,
            detail=res.detail or None,
        )
        for i, (c, res) in enumerate(zip(checked, results, strict=True))
    ]
    return GatewayReadingsResult(
        stored=sum(res.outcome is Outcome.STORED for res in results),
        duplicates=sum(res.outcome is Outcome.DUPLICATE for res in results),
        dead_lettered=sum(res.outcome is Outcome.DEAD_LETTERED for res in results),
        items=items,
    )
