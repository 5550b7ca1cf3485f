"""The optional wire-contract v1 additions: present only when they say something; pinned by the schemas."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.clock import DeviceClock
from gateway.model import Derivation, DeviceStatus, Frame, Reading, parse_utc
from gateway.payload import status_payload, to_payload
from gateway.pipeline import DevicePipeline
from gateway.protocols import registry
from tests.conftest import load_ble_vectors, load_golden
from tests.gateway.gateway_harness import READINGS, STATUSES

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _reading(**extra: Any) -> Reading:
    return Reading(
        measured_at=AT - timedelta(minutes=30), received_at=AT, mode="spot-check", spo2=95.0, pulse=71.0,
        perfusion_index=None, measurement_status=0x0200, device_sensor_status=0, device_clock_not_set=False,
        gateway_id="gw-1", device_address="C0:FF:EE:00:00:01", protocol="plx-spot-check", model="Emu",
        frame=b"\x0f\x5f\x00\x47\x00", **extra,
    )  # fmt: skip


def test_every_addition_in_one_payload_is_valid() -> None:
    derivation = Derivation("nhs-highest-steady-5s-after-60s", "SpO2 95 held 5 s", 700, AT, AT)
    payload = to_payload(
        _reading(from_storage=True, time_source="device-corrected", device_offset_s=3600.5123,
                 derivation=derivation, unconfirmed=True)
    )  # fmt: skip
    READINGS.validate(payload)
    assert payload["status"]["from_storage"] is True
    assert payload["source"]["unconfirmed"] is True
    assert payload["clock"] == {"source": "device-corrected", "device_offset_s": 3600.512}
    assert payload["derivation"]["window_start"] == "2026-11-30T09:00:00.000Z"


def test_nothing_is_added_when_there_is_nothing_to_say() -> None:
    payload = to_payload(_reading())
    assert "clock" not in payload
    assert "derivation" not in payload
    assert "from_storage" not in payload["status"]
    assert "unconfirmed" not in payload["source"]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("clock", "source"), "sundial"),
        (("derivation", "method"), None),
        (("derivation", "samples"), -1),
        (("status", "from_storage"), "yes"),
    ],
)
def test_the_schema_pins_the_additions(path: tuple[str, str], value: Any) -> None:
    payload = to_payload(
        _reading(from_storage=True, time_source="gateway",
                 derivation=Derivation("sampled", "one whole frame per 1 s", 100))
    )  # fmt: skip
    bad = copy.deepcopy(payload)
    if value is None:
        del bad[path[0]][path[1]]
    else:
        bad[path[0]][path[1]] = value
    assert READINGS.is_valid(payload)
    assert not READINGS.is_valid(bad)


def test_status_device_fields() -> None:
    device = DeviceStatus(
        "C0:FF:EE:00:00:01", "away", "plx-spot-check", "Emu", label="Bedroom", since=AT, firmware="1.2",
        battery_percent=62, rssi=-70, last_reading_at=AT, stores_readings=True,
    )  # fmt: skip
    status = status_payload(
        "gw-1",
        "online",
        at=AT,
        outbox_depth=3,
        devices=[device],
        extra={"outbox_dropped": 0, "outbox_capacity": 1000, "clock": {"sync": "unknown"}},
    )
    STATUSES.validate(status)
    assert status["devices"][0]["since"] == "2026-11-30T09:00:00.000Z"
    bad = copy.deepcopy(status)
    bad["devices"][0]["battery_percent"] = 150
    assert not STATUSES.is_valid(bad)


VECTORS = {v["id"]: v for v in load_ble_vectors("plx")}
ACCEPT = [(n, g) for n, g in load_golden("accept-")]


@pytest.mark.parametrize(("name", "golden"), ACCEPT, ids=[n for n, _ in ACCEPT])
def test_the_runtime_path_produces_the_golden_payloads(name: str, golden: dict[str, Any]) -> None:
    """The gateway's pipeline (not only reading_from_plx) yields the wire contract's golden payloads.

    A spot-check differs in one documented way: its device timestamp is placed in the gateway's clock
    (here the first live frame: measured "just now", minus the half second a whole-second stamp lags),
    and the reading says so in `clock`.
    """
    source = golden["decoded_from"]
    vector = VECTORS[source["vector"]]
    pipeline = DevicePipeline(
        registry.PLX, gateway_id=source["gateway_id"], address=source["device_address"], mode="auto",
        continuous_rate_hz=1.0, clock=DeviceClock(),
    )  # fmt: skip
    received = parse_utc(source["received_at"])
    frame = Frame(vector["characteristic"], bytes.fromhex(vector["hex"]), received)
    [reading] = pipeline.feed([frame], model=source["model"]).readings
    payload = to_payload(reading)
    expected = copy.deepcopy(golden["payload"])
    if golden["payload"]["mode"] == "spot-check":
        assert payload.pop("clock")["source"] == "device-corrected"
        assert parse_utc(payload["measured_at"]) == received - timedelta(seconds=0.5)
        for key in ("measured_at", "reading_id"):
            payload.pop(key)
            expected.pop(key)
    assert payload == expected
