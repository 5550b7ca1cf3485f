"""What the resource routes need from api/auth.py, and how their refusals become HTTP errors.

Ward scoping is api/auth.py's (`Principal.sees_ward`, `principal_can_see_ward`); the one rule
added here is for a patient registered but not yet admitted (no ward): only principals that see
every ward, or that may admit patients (`ward:write`), can see them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError

from api import registry
from api.auth import Principal, Scope, note_access, principal_can_see_ward, scoped
from api.nhs_number import InvalidNhsNumber
from api.resources import devices, enrolments, gateways, observations, wards
from api.resources.patients import NhsNumberTaken
from api.security.principal import ward_denied

Devices = Annotated[Principal, scoped(Scope.DEVICES)]
Clinical = Annotated[Principal, scoped(Scope.CLINICAL)]
WebhookManager = Annotated[Principal, scoped(Scope.WEBHOOKS)]
Administrator = Annotated[Principal, scoped(Scope.ADMIN)]

_NOT_FOUND = (
    registry.PatientNotFound,
    wards.WardNotFound,
    enrolments.EnrolmentNotFound,
    devices.DeviceNotFound,
    gateways.GatewayNotFound,
)
# registry.DeviceAssigned is left to api/main.py: its message depends on the caller's wards.
_CONFLICT = (
    registry.PatientExists,
    NhsNumberTaken,
    wards.WardExists,
    enrolments.EnrolmentConflict,
    devices.DeviceConflict,
    gateways.GatewayConflict,
)


@contextmanager
def refusals() -> Iterator[None]:
    """Turn the resource modules' refusals into 404 / 409 / 422 problem details."""
    try:
        yield
    except _NOT_FOUND as exc:
        raise HTTPException(404, exc.detail) from exc
    except _CONFLICT as exc:
        raise HTTPException(409, exc.detail) from exc
    except observations.SetRejected as exc:
        # As FastAPI's own 422s: `errors[].loc` names the item of the body that was refused.
        error = {"type": "value_error", "loc": ("body", *exc.loc), "msg": str(exc)}
        raise RequestValidationError([error]) from exc
    except (InvalidNhsNumber, observations.ObservationRejected) as exc:
        raise HTTPException(422, str(exc)) from exc


def sees_ward(principal: Principal, ward_id: str | None) -> bool:
    if ward_id is None:
        return principal.wards is None or Scope.WRITE in principal.scopes
    return principal_can_see_ward(principal, ward_id)


def require_ward(
    request: Request, principal: Principal, ward_id: str | None, patient_id: str | None = None
) -> None:
    """403 unless the principal may see the ward; notes the access for the audit log either way."""
    note_access(request, patient_id=patient_id, ward_id=ward_id)
    if not sees_ward(principal, ward_id):
        raise ward_denied()
