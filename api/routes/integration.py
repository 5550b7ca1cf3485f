"""The integrator API's routers (resources, exports, webhooks under /v1; FHIR R4), mounted by
api/routes/__init__.py."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.auth import authenticate
from api.routes.alert_list import router as alert_list
from api.routes.devices import router as devices
from api.routes.enrolments import router as enrolments
from api.routes.export import router as export
from api.routes.fhir import router as fhir
from api.routes.gateway_ingest import router as gateway_ingest
from api.routes.gateways import router as gateways
from api.routes.observations import router as observations
from api.routes.people import router as people
from api.routes.wards import router as wards
from api.routes.webhooks import router as webhooks

#: Included in the /v1 router (which authenticates every request).
V1_ROUTERS = (
    wards,
    people,
    enrolments,
    devices,
    gateways,
    gateway_ingest,
    observations,
    export,
    alert_list,
    webhooks,
)

#: /fhir/R4, with the same authentication safety net as /v1.
fhir_router = APIRouter(dependencies=[Depends(authenticate)])
fhir_router.include_router(fhir)
