"""The service's composition root: ``create_app()`` for ASGI servers and tests, ``serve()`` for the CLI.

The lifespan owns the redis.asyncio client and, when enabled in the settings, the MQTT ingest
and evaluation worker threads (each opens its own connections). Errors leave as RFC 9457
problem details (``application/problem+json``); under /fhir as OperationOutcomes (api/fhir/errors.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import NoMatchFound

from api import alert_store, logs, registry
from api.auth import Authenticator, AuthError, RateLimited, request_principal
from api.fhir.errors import FHIR_JSON, is_fhir_path, outcome_for
from api.ingest import IngestService
from api.metrics import HttpMetrics
from api.notify.service import from_settings as notification_delivery
from api.queries import CursorError
from api.resources.access import sees_ward
from api.routes import mount
from api.schemas import problem_body
from api.security.audit import AuditCursorError
from api.security.middleware import EdgeMiddleware
from api.security.principals import PrincipalNotFound, UsernameTaken
from api.security.tokens import TokenConfig, derive_key
from api.settings import ApiSettings
from api.store import ReadingStore
from api.store import connect as store_connect
from api.web_middleware import WebSessionMiddleware
from api.webhooks.delivery import WebhookDelivery
from api.worker import EvaluationWorker

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: Redis client timeouts: connecting should be near-instant on a LAN; a command that takes
#: longer than this means Redis is in trouble, and the caller gets a 503 instead of a hang.
REDIS_CONNECT_TIMEOUT_S = 2.0
REDIS_COMMAND_TIMEOUT_S = 5.0
#: Seconds open connections get to finish when the service stops.
SHUTDOWN_GRACE_S = 5

_STATUS_OF: dict[type[Exception], int] = {
    registry.PatientNotFound: 404,
    registry.PatientExists: 409,
    registry.DeviceAssigned: 409,
    alert_store.NotFound: 404,
    alert_store.Conflict: 409,
    CursorError: 400,
    AuditCursorError: 400,
    PrincipalNotFound: 404,
    UsernameTaken: 409,
}


def problem(request: Request, status: int, detail: str, **extra: Any) -> JSONResponse:
    """The error answer: problem details, or under /fhir an OperationOutcome saying the same."""
    if is_fhir_path(request.url.path):
        return JSONResponse(outcome_for(status, detail), status_code=status, media_type=FHIR_JSON)
    body = problem_body(status, detail, request.url.path, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


async def _domain_error(request: Request, exc: Exception) -> Response:
    status = next(s for cls, s in _STATUS_OF.items() if isinstance(exc, cls))
    if isinstance(exc, registry.DeviceAssigned):
        # Whose the device is may be told only to those who may see that patient's ward.
        principal = request_principal(request)
        shown = principal is not None and sees_ward(principal, exc.owner_ward)
        return problem(request, 409, str(exc) if shown else exc.neutral())
    if isinstance(exc, alert_store.Conflict):
        # The current record lets the caller see who resolved (or escalated) it and when.
        return problem(request, 409, str(exc), alert=exc.alert)
    if isinstance(exc, alert_store.NotFound):
        return problem(request, 404, "no such alert for this patient")
    return problem(request, status, str(exc))


async def _auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    response = problem(request, exc.status, exc.detail)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = exc.www_authenticate
    return response


async def _rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    response = problem(request, 429, f"rate limit reached; retry after {exc.retry_after} s")
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Drop the rejected input from each error: it may be long, and it is the caller's own data.
    errors = [{k: v for k, v in e.items() if k in {"type", "loc", "msg"}} for e in exc.errors()]
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
    return problem(request, 422, detail, errors=jsonable_encoder(errors))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(request, exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


async def _storage_down(request: Request, exc: Exception) -> Response:
    log.warning("redis unavailable: %s", type(exc).__name__)
    return problem(request, 503, "the data store is unavailable; retry shortly")


def _build_routes(app: FastAPI) -> None:
    """Have FastAPI build every route's parameter and response models now, at startup.

    It builds them lazily, while matching the first request against the routes: ~100 ms that the
    first request after every start would wait, however light (docs/performance.md, cold chart).
    Looking up a route name that does not exist walks, and so builds, them all.
    """
    with suppress(NoMatchFound):
        app.url_path_for("-")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: ApiSettings = app.state.settings
    _build_routes(app)
    redis = Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=REDIS_COMMAND_TIMEOUT_S,
    )
    app.state.redis = redis
    # The HTTPS ingest for gateways (api/routes/gateway_ingest.py) stores through MQTT ingest's store.
    readings_client = store_connect(settings.redis_url)
    app.state.reading_store = ReadingStore(
        readings_client, retention_ms=int(settings.retention_hours * 3_600_000)
    )
    worker = EvaluationWorker(settings) if settings.run_worker else None
    # Alert notifications to the wards' rotas (api/notify/): runs wherever the evaluation worker runs.
    notifier = notification_delivery(settings) if settings.run_worker else None
    # Integrators' webhook subscriptions (api/webhooks/): also where the evaluation worker runs.
    webhooks = (
        WebhookDelivery(
            store_connect(settings.redis_url), name=settings.worker_name, targets=settings.webhook_targets()
        )
        if settings.run_worker
        else None
    )
    ingest = IngestService(settings) if settings.run_ingest else None
    app.state.ingest = ingest
    app.state.worker = worker
    try:
        # Worker first so entries already queued are evaluated; ingest last, stopped first,
        # so nothing new arrives while the worker drains.
        if worker is not None:
            await asyncio.to_thread(worker.start)
        if notifier is not None:
            notifier.start()
        if webhooks is not None:
            webhooks.start()
        if ingest is not None:
            await asyncio.to_thread(ingest.start)
        yield
    finally:
        if ingest is not None:
            await asyncio.to_thread(ingest.stop)
        if worker is not None:
            await asyncio.to_thread(worker.stop)
        if notifier is not None:
            await asyncio.to_thread(notifier.stop)
        if webhooks is not None:
            await asyncio.to_thread(webhooks.stop)
        readings_client.close()
        await redis.aclose()


def _authenticator(settings: ApiSettings) -> Authenticator:
    secret = settings.jwt_secret
    key = secret.get_secret_value().encode("utf-8") if secret is not None else derive_key(settings.tokens())
    config = TokenConfig(key, settings.jwt_issuer, settings.jwt_audience, settings.access_token_ttl_s)
    return Authenticator(settings.tokens(), config)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The ASGI application. Without ``settings`` they are read from OXIWARD_API_* variables."""
    settings = settings if settings is not None else ApiSettings()  # type: ignore[call-arg]
    # FastAPIOffline serves the Swagger UI / ReDoc assets from the wheel: nothing is fetched from a CDN.
    app: FastAPI = FastAPIOffline(
        title="Oxiward",
        version="1",
        summary="Remote monitoring for pulse-oximetry virtual wards",
        description=(
            "Readings, alerts and the ward queue. /v1 calls need `Authorization: Bearer <token>`: an access "
            "token from `POST /v1/auth/token`, an API key, or a bootstrap token. Each operation states its "
            "scope; ward-limited principals see only their wards. Errors are RFC 9457 problem details. "
            "See docs/api.md for roles, rate limits, audit and the versioning policy."
        ),
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.authenticator = _authenticator(settings)
    app.state.http_metrics = HttpMetrics()
    app.state.ingest = None
    app.state.worker = None
    for cls in _STATUS_OF:
        app.add_exception_handler(cls, _domain_error)
    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RedisConnectionError, _storage_down)
    app.add_exception_handler(RedisTimeoutError, _storage_down)
    # Request id, body size limit, audit entry, access log and latency for every request.
    # The ward pages' session cookie -> bearer (api/web_middleware.py); added first, so it runs inside
    # EdgeMiddleware and a request it refuses is still audited.
    app.add_middleware(WebSessionMiddleware)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes, metrics=app.state.http_metrics)
    mount(app)
    return app


def serve(settings: ApiSettings) -> None:
    """Run the service with uvicorn until SIGINT/SIGTERM (used by ``oxiward api``)."""
    import uvicorn

    logs.configure(settings.log_format)
    # access_log off: uvicorn's line carries the raw path (patient ids); EdgeMiddleware logs the route.
    # Open live streams (the ward pages' Server-Sent Events) never finish on their own: give them a few
    # seconds on shutdown, then close them (the pages reconnect to the next process).
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        # None: uvicorn's own lines go through the root handlers, as JSON with the rest (api/logs.py).
        log_config=None,
    )
