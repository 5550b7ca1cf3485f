"""Devices and gateways: register, assign to an enrolment, revoke, and MQTT credentials that a real
Mosquitto accepts (and stops accepting) through the password file the API serves."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion

from api import keys
from api.contract import validate_reading
from api.resources.mqtt_password import hash_line, verify
from api.store import Checked, Outcome, ReadingStore
from tests.api import factories
from tests.api.integration_support import admit
from tests.api.rest_support import AUTH, api_client, store_readings
from tests.services import MosquittoBroker

ADDR = "C0:FF:EE:00:00:07"


async def test_device_lifecycle_register_assign_revoke(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    async with api_client(redis_url) as client:
        reg = await client.post(
            "/v1/devices", json={"address": ADDR.lower(), "model": "Nonin 3230"}, headers=AUTH
        )
        dup = await client.post("/v1/devices", json={"address": ADDR}, headers=AUTH)
        first = await admit(client, "north-1", "Bed 1")
        second = await admit(client, "north-1", "Bed 2")
        assigned = await client.put(
            f"/v1/devices/{ADDR}/assignment", json={"enrolment_id": first["enrolment_id"]}, headers=AUTH
        )
        stolen = await client.put(
            f"/v1/devices/{ADDR}/assignment", json={"enrolment_id": second["enrolment_id"]}, headers=AUTH
        )
        listed = (await client.get("/v1/devices", params={"status": "assigned"}, headers=AUTH)).json()
        unassigned = await client.delete(f"/v1/devices/{ADDR}/assignment", headers=AUTH)
        moved = await client.put(
            f"/v1/devices/{ADDR}/assignment", json={"enrolment_id": second["enrolment_id"]}, headers=AUTH
        )
        revoked = await client.post(
            f"/v1/devices/{ADDR}/revoke", json={"reason": "reported lost"}, headers=AUTH
        )
        after = await client.put(
            f"/v1/devices/{ADDR}/assignment", json={"enrolment_id": first["enrolment_id"]}, headers=AUTH
        )
        unknown = await client.get("/v1/devices/C0:FF:EE:00:00:99", headers=AUTH)
    assert reg.status_code == 201
    assert reg.json()["status"] == "available"
    assert reg.json()["address"] == ADDR
    assert dup.status_code == 409
    assert assigned.status_code == 200, assigned.text
    assert assigned.json() | {"registered_at": None} == {
        "address": ADDR, "model": "Nonin 3230", "serial": None, "status": "assigned", "registered_at": None,
        "patient_id": first["patient_id"], "ward_id": "north-1", "enrolment_id": first["enrolment_id"],
        "revoked_at": None, "revoke_reason": None,
    }  # fmt: skip
    assert stolen.status_code == 409
    assert [d["address"] for d in listed["items"]] == [ADDR]
    assert unassigned.json()["status"] == "available"
    assert moved.json()["patient_id"] == second["patient_id"]
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["patient_id"] is None
    assert after.status_code == 409
    assert unknown.status_code == 404
    # Revocation took the device off the patient: nothing of it left in the registry's records.
    assert r.get(keys.device(ADDR)) is None
    assert r.hget(keys.patient(second["patient_id"]), "devices") == ""
    r.close()


async def test_readings_of_a_revoked_device_are_dead_lettered_not_filed(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    async with api_client(redis_url) as client:
        enrolment = await admit(client, "north-1", "Bed 1", devices=[factories.DEVICE])
        store_readings(redis_url, [factories.payload(seq=1)])
        await client.post(f"/v1/devices/{factories.DEVICE}/revoke", json={"reason": "faulty"}, headers=AUTH)
        raw = factories.encode(factories.payload(seq=2))
        store = ReadingStore(redis.Redis.from_url(redis_url), retention_ms=10**9, device_cache_ttl=0)
        outcome = store.store_batch([Checked(factories.TOPIC, raw, validate_reading(factories.TOPIC, raw))])
        readings = (await client.get(f"/v1/patients/{enrolment['patient_id']}/readings", headers=AUTH)).json()
    assert outcome == [Outcome.DEAD_LETTERED]
    assert len(readings["items"]) == 1
    letters: list[Any] = r.xrange(keys.DEAD_LETTER) or []
    [(_, letter)] = letters
    assert letter["reason"] == "unknown-device"
    r.close()


def test_password_lines_match_mosquitto_passwd_format() -> None:
    line = hash_line("gw-1", "s3cret", salt=b"0123456789ab", iterations=101)
    assert line.startswith("gw-1:$7$101$MDEyMzQ1Njc4OWFi$")
    assert verify(line, "gw-1", "s3cret")
    assert not verify(line, "gw-1", "s3cret!")
    assert not verify(line, "gw-2", "s3cret")
    with pytest.raises(ValueError, match="username"):
        hash_line("gw:1", "x")


def _connects(port: int, username: str, password: str) -> bool:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{time.monotonic_ns()}")
    client.username_pw_set(username, password)
    result: list[int] = []
    client.on_connect = lambda c, u, f, reason, p: result.append(reason.value)
    client.connect("127.0.0.1", port, keepalive=10)
    deadline = time.monotonic() + 15
    while not result and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    assert result, "no CONNACK from the broker"
    return result[0] == 0


async def test_gateway_credentials_work_with_a_real_mosquitto_and_rotate(
    redis_url: str, tmp_path: Path
) -> None:
    passwd = tmp_path / "passwd"
    async with api_client(redis_url) as client:
        created = (
            await client.post("/v1/gateways", json={"gateway_id": "gw-42", "label": "Bed 3"}, headers=AUTH)
        ).json()
        dup = await client.post("/v1/gateways", json={"gateway_id": "gw-42"}, headers=AUTH)
        passwd.write_text((await client.get("/v1/mqtt/password-file", headers=AUTH)).text)
        listed = (await client.get("/v1/gateways", headers=AUTH)).json()
    assert created["mqtt_username"] == "gw-42"
    assert len(created["mqtt_password"]) >= 40
    assert dup.status_code == 409
    assert created["mqtt_password"] not in passwd.read_text()
    assert [g["gateway_id"] for g in listed["items"]] == ["gw-42"]
    assert "passwd" not in str(listed)
    assert created["mqtt_password"] not in str(listed)

    # The later `allow_anonymous false` overrides the fixture config's `true`: a password is required.
    config = f"password_file {passwd}\nallow_anonymous false\n"
    broker = MosquittoBroker(name="mosquitto", workdir=tmp_path, extra_config=config)
    broker.start()
    try:
        assert _connects(broker.port, "gw-42", created["mqtt_password"])
        assert not _connects(broker.port, "gw-42", "wrong-password")
        async with api_client(redis_url) as client:
            rotated = (await client.post("/v1/gateways/gw-42/credentials", headers=AUTH)).json()
            passwd.write_text((await client.get("/v1/mqtt/password-file", headers=AUTH)).text)
        broker.stop()
        broker.start()
        assert _connects(broker.port, "gw-42", rotated["mqtt_password"])
        assert not _connects(broker.port, "gw-42", created["mqtt_password"])
        async with api_client(redis_url) as client:
            revoked = await client.post(
                "/v1/gateways/gw-42/revoke", json={"reason": "returned"}, headers=AUTH
            )
            after = await client.post("/v1/gateways/gw-42/credentials", headers=AUTH)
            passwd.write_text((await client.get("/v1/mqtt/password-file", headers=AUTH)).text)
        assert revoked.json()["status"] == "revoked"
        assert after.status_code == 409
        assert passwd.read_text() == ""
    finally:
        broker.stop()
