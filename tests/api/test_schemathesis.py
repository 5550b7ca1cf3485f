"""The contract, fuzzed: schemathesis generates requests for every operation of the published
OpenAPI document and sends them to the real service (the uvicorn CLI serving api.main:create_app
on a free port, in its own process, with a real Redis). No
answer may be a 5xx, and every answer must match the document: status code, content type,
headers and body schema.

Bounded (a few examples per operation, no shrinking) so the module stays well under a minute.
The caller is the bootstrap administrator, so requests reach the handlers instead of stopping
at 403; the ward-scoping matrix is tested elsewhere (tests/api/test_rest_auth.py et al.).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from tests.api import factories
from tests.api.rest_support import AUTH, TOKEN, evaluate, store_readings
from tests.api.rest_support import settings as api_settings
from tests.services import MosquittoBroker, RedisServer, free_port, wait_for_port

SCHEMA = schemathesis.openapi.from_dict(create_app(api_settings("redis://127.0.0.1:1/0")).openapi())
# Documented examples, then random valid and invalid requests (`max_examples` below). The coverage
# phase (every boundary of every parameter) is left out: it multiplies the requests by ~10.
SCHEMA.config.phases.update(phases=["examples", "fuzzing"])
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: The examples in the document name these; seeding them lets example-driven cases reach real data.
PATIENT, WARD, DEVICE = "p-7f3a9c2e41d8", "north-1", "C0:FF:EE:00:00:03"


def _seed(base_url: str, redis_url: str) -> None:
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as c:
        c.post("/v1/wards", json={"ward_id": WARD, "name": "North"}).raise_for_status()
        c.post(
            "/v1/patients",
            json={"patient_id": PATIENT, "nhs_number": "9434765919", "date_of_birth": "1950-03-14"},
        ).raise_for_status()
        c.post(
            "/v1/enrolments",
            json={"patient_id": PATIENT, "ward_id": WARD, "ref": "Bed 3", "devices": [DEVICE]},
        )
        c.post("/v1/gateways", json={"gateway_id": "gw-0042"}).raise_for_status()
        c.post(
            "/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["alert.raised"]}
        ).raise_for_status()
    now = datetime.now(UTC)
    store_readings(
        redis_url,
        [
            factories.payload(spo2=90.0 + i, device=DEVICE, measured_at=now - timedelta(minutes=i), seq=i)
            for i in range(5)
        ],
    )
    evaluate(redis_url)


def _env(values: dict[str, Any]) -> dict[str, str]:
    """OXIWARD_API_* variables for the same settings the in-process tests use."""
    env = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"OXIWARD_API_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoBroker) -> Iterator[str]:
    """Base URL of the service run by the uvicorn CLI in its own process, with its own Redis (the
    fuzzing's data stays out of other tests) and a reachable broker (so /readyz is ready)."""
    workdir = tmp_path_factory.mktemp("fuzz")
    store = RedisServer(name="redis", workdir=workdir)
    store.start()
    unlimited = {"rate_limit_per_s": 1_000_000, "rate_limit_burst": 1_000_000}
    port = free_port()
    values = dict(api_settings(store.url, mosquitto.url, **unlimited))
    cmd = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    log = (workdir / "uvicorn.log").open("wb")
    proc = subprocess.Popen(cmd, env={**os.environ, **_env(values)}, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=60)
        _seed(base_url, store.url)
        yield base_url
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
        store.stop()


@SCHEMA.parametrize()
@settings(
    max_examples=int(os.environ.get("OXIWARD_FUZZ_EXAMPLES", "3")),  # more for a deeper local run
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_honours_the_contract(case: Any, service: str, session: requests.Session) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if case.path == "/v1/auth/token":
        headers = {}  # credentials travel in the form body there
    case.call_and_validate(base_url=service, session=session, headers=headers, checks=CHECKS, timeout=30)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One keep-alive connection pool for every generated request (a TCP connect each is slow)."""
    with requests.Session() as s:
        yield s


def test_the_fuzzed_service_stored_only_what_it_accepted(service: str) -> None:
    """A guard against a vacuous run: the seeded patient is still readable and intact."""
    with httpx.Client(base_url=service, headers=AUTH, timeout=30) as c:
        response = c.get(f"/v1/patients/{PATIENT}/readings")
    assert response.status_code == 200
    assert len(response.json()["items"]) == 5
