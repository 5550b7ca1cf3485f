"""Prometheus metrics (no authentication: aggregate counts only, no identifiers)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api import metrics
from api.deps import RedisDep

router = APIRouter(tags=["operations"])
_EXAMPLE = """\
# HELP oxiward_redis_up 1 if Redis answered this scrape
# TYPE oxiward_redis_up gauge
oxiward_redis_up 1.0
# HELP oxiward_readings_stored_total ox:metrics stored
# TYPE oxiward_readings_stored_total counter
oxiward_readings_stored_total 86400.0
# HELP oxiward_patients_with_open_alert patients by the priority of their worst open alert
# TYPE oxiward_patients_with_open_alert gauge
oxiward_patients_with_open_alert{priority="red"} 1.0
"""


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {metrics.CONTENT_TYPE: {"schema": {"type": "string"}, "example": _EXAMPLE}},
            "description": "exposition",
        }
    },
    openapi_extra={"security": []},
)
async def prometheus_metrics(request: Request, r: RedisDep) -> Response:
    """Request latency by route, ingest and evaluation counters, dead letters, consumer lag,
    open alerts by priority, delivery failures. Open like the probes: expose it only to the
    monitoring network."""
    snap = await metrics.snapshot(r)
    return Response(metrics.render(request.app.state.http_metrics, snap), media_type=metrics.CONTENT_TYPE)
