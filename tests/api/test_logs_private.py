"""No patient identifier, token or secret in the application's logs.

A full session against the real service process (`oxiward api`: REST, MQTT ingest, evaluation
worker) with logging at DEBUG: register and admit patients, readings over MQTT, the ward queue,
alerts, FHIR, audit, users, API keys, tokens and failed sign-ins. Then every log line is scanned for
each identifier and secret used. The lines are JSON objects carrying request ids.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.api import factories
from tests.api.rest_support import AUTH, TOKEN
from tests.api.test_ingest import publish
from tests.services import MosquittoBroker, free_port

NHS = "9434765919"
#: Valid NHS numbers (Modulus 11 check digit), one per patient; the first is the issue's example.
NHS_NUMBERS = [NHS, "4010232137"]
PHONE = "+44 7700 900123"
PASSWORD = "private passphrase 42"
DEVICES = ["C0:FF:EE:0D:00:01", "C0:FF:EE:0D:00:02"]
REFS = ["Bed Quebec-7", "Bed Romeo-8"]


async def _poll(check: Callable[[], Awaitable[bool]], within_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)


def _env(redis_url: str, mqtt_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OXIWARD_")}
    env.update(
        {
            "OXIWARD_LOG_LEVEL": "DEBUG",
            "OXIWARD_API_REDIS_URL": redis_url,
            "OXIWARD_API_MQTT_URL": mqtt_url,
            "OXIWARD_API_API_TOKENS": TOKEN,
            "OXIWARD_API_PORT": str(port),
            "OXIWARD_API_MQTT_CLIENT_ID": f"ingest-logs-{port}",
        }
    )
    return env


async def _session(client: httpx.AsyncClient, mqtt_url: str) -> dict[str, str]:
    """Everything a ward and an integrator do in a day; returns the secrets it used."""
    secrets: dict[str, str] = {}
    pids = []
    for n, (ref, device) in enumerate(zip(REFS, DEVICES, strict=True)):
        body: dict[str, Any] = {
            "nhs_number": NHS_NUMBERS[n],
            "date_of_birth": "1950-03-14",
            "contact": {"phone": PHONE, "preferred": "phone"},
        }
        registered = await client.post("/v1/patients", json=body, headers=AUTH)
        assert registered.status_code == 201, registered.text
        pid = registered.json()["patient_id"]
        admission = {"patient_id": pid, "ward_id": "w-logs", "ref": ref, "devices": [device]}
        admitted = await client.post("/v1/enrolments", json=admission, headers=AUTH)
        assert admitted.status_code == 201, admitted.text
        pids.append(pid)
    now = datetime.now(UTC).replace(microsecond=0)
    messages = [
        (
            factories.TOPIC,
            factories.encode(
                factories.payload(spo2=s, device=d, seq=i, measured_at=now - timedelta(seconds=30 - i))
            ),
        )
        for d in DEVICES
        for i, s in enumerate((96.0, 84.0))
    ]
    await asyncio.to_thread(publish, mqtt_url, messages)

    async def alerted() -> bool:
        r = await client.get(f"/v1/patients/{pids[0]}/alerts", headers=AUTH)
        return r.status_code == 200 and bool(r.json()["items"])

    await _poll(alerted)
    created = await client.post(
        "/v1/admin/users",
        json={"username": "nurse.logs", "password": PASSWORD, "role": "clinician", "wards": ["w-logs"]},
        headers=AUTH,
    )
    key = await client.post(
        "/v1/admin/api-keys", json={"name": "epr", "role": "integrator", "wards": ["w-logs"]}, headers=AUTH
    )
    secrets["api_key"] = key.json()["api_key"]
    token = await client.post(
        "/v1/auth/token", data={"grant_type": "password", "username": "nurse.logs", "password": PASSWORD}
    )
    secrets["jwt"] = token.json()["access_token"]
    nurse = {"Authorization": f"Bearer {secrets['jwt']}", "X-Request-ID": "logs-session-1"}
    alert = (await client.get(f"/v1/patients/{pids[0]}/alerts", headers=nurse)).json()["items"][0]["alert_id"]
    steps = [
        await client.get("/v1/wards/w-logs/queue", headers=nurse),
        await client.get(f"/v1/patients/{pids[0]}/readings", headers=nurse),
        await client.post(
            f"/v1/patients/{pids[0]}/alerts/{alert}/acknowledge", json={"by": "nurse-logs"}, headers=nurse
        ),
        await client.post(
            f"/v1/patients/{pids[0]}/alerts/{alert}/resolve",
            json={"by": "nurse-logs", "outcome": "rang"},
            headers=nurse,
        ),
        await client.get(
            f"/fhir/R4/Observation?patient={pids[1]}",
            headers={"Authorization": f"Bearer {secrets['api_key']}"},
        ),
        await client.get("/fhir/R4/Patient", params={"identifier": NHS}, headers=AUTH),
        await client.get("/v1/audit", params={"patient": pids[0]}, headers=AUTH),
        await client.get("/metrics"),
    ]
    assert [s.status_code for s in steps] == [200] * len(steps), [s.text[:200] for s in steps]
    assert (created.status_code, key.status_code, token.status_code) == (201, 201, 200)
    failures = [
        await client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": "nurse.logs", "password": "wrong " + PASSWORD},
        ),
        await client.get("/v1/wards", headers={"Authorization": f"Bearer {secrets['api_key'][:-2]}xx"}),
        await client.get("/v1/wards", headers={"Authorization": f"Bearer {secrets['jwt'][:-3]}abc"}),
        await client.get("/v1/wards", headers={"Authorization": "Bearer guessed-token-0123456789"}),
    ]
    assert [f.status_code for f in failures] == [400, 401, 401, 401]
    secrets["patients"] = ",".join(pids)
    return secrets


async def test_a_full_session_logs_no_identifier_token_or_secret(
    redis_url: str, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "service.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - starting is instant; waiting happens off the loop
        [sys.executable, "-m", "oxiward", "api"],
        env=_env(redis_url, mosquitto.url, port),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    assert proc.poll() is None, log_path.read_text()
                    return False

            await _poll(ready)
            used = await _session(client, mosquitto.url)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)
        log.close()
    output = log_path.read_text()
    forbidden = {
        "bootstrap token": TOKEN,
        "api key": used["api_key"],
        "api key secret": used["api_key"].split("_", 2)[2],
        "access token": used["jwt"],
        "access token signature": used["jwt"].rsplit(".", 1)[1],
        "password": PASSWORD,
        "nhs number": NHS,
        "nhs number (spaced)": "943 476 5919",
        "second nhs number": NHS_NUMBERS[1],
        "phone": PHONE,
        "date of birth": "1950-03-14",
        **{f"patient {n}": pid for n, pid in enumerate(used["patients"].split(","))},
        **{f"ref {n}": ref for n, ref in enumerate(REFS)},
        **{f"device {n}": d for n, d in enumerate(DEVICES)},
        **{f"device {n} (lower)": d.lower() for n, d in enumerate(DEVICES)},
        **{f"device {n} (bare)": d.replace(":", "") for n, d in enumerate(DEVICES)},
    }
    found = {name: value for name, value in forbidden.items() if value in output}
    assert found == {}, f"found in the logs: {sorted(found)}"
    # The lines are structured: JSON objects, access lines with a request id and a route template.
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("logger") == "api.access"]
    assert len(access) >= 20
    assert all(r["request_id"] and r["route"] and r["status"] for r in access)
    assert any(
        r["request_id"] == "logs-session-1" and r["route"] == "/v1/wards/{ward_id}/queue" for r in access
    )
    assert any(r["level"] == "DEBUG" for r in records)  # DEBUG really was on
