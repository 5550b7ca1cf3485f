"""`oxiward simulate` against the real service (`oxiward api`), Redis and Mosquitto."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from oxiward.simulate import enrolments, settings_from
from tests.services import MosquittoBroker, free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sim-test-token-" + "x" * 16
TIMEOUT_S = 45.0


def _args(**given: object) -> argparse.Namespace:
    names = ("patients", "scenario", "mode", "interval", "mqtt_url", "enrol_url", "ward", "state_dir")
    return argparse.Namespace(**{name: given.get(name) for name in names})


def test_flags_override_environment_and_scenarios_go_round_robin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OXIWARD_SIM_MQTT_URL", "mqtt://broker.invalid:1883")
    monkeypatch.setenv("OXIWARD_SIM_PATIENTS", "9")
    settings = settings_from(_args(patients=5, scenario=["sudden-drop", "stable"]))
    assert settings.mqtt_url == "mqtt://broker.invalid:1883"
    assert settings.patients == 5
    assert [settings.scenario_of(i) for i in range(5)] == ["sudden-drop", "stable"] * 2 + ["sudden-drop"]
    assert [settings.gateway_id(i) for i in (0, 9)] == ["sim-gw-01", "sim-gw-10"]
    patients = enrolments(settings)
    assert len({p.device for p in patients}) == len({p.patient_id for p in patients}) == 5
    assert patients[0].device == "5E:00:00:00:00:01"
    assert patients[4].ref == "Bed 5 (sudden-drop)"


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OXIWARD_")}
    return {**base, "OXIWARD_LOG_LEVEL": "WARNING", **extra}


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


@pytest.fixture
def api(redis_url: str, mosquitto: MosquittoBroker) -> Iterator[str]:
    port = free_port()
    env = _env(
        OXIWARD_API_REDIS_URL=redis_url, OXIWARD_API_MQTT_URL=mosquitto.url, OXIWARD_API_API_TOKENS=TOKEN,
        OXIWARD_API_PORT=str(port), OXIWARD_API_MQTT_CLIENT_ID=f"ingest-{port}",
    )  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "oxiward", "api"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "oxiward api exited while starting"
            assert time.monotonic() < deadline, "oxiward api not ready in time"
            time.sleep(0.2)
        yield base
        # SIGTERM is how a service manager stops it: a graceful exit, status 0.
        assert _stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _simulate(api: str, mosquitto: MosquittoBroker, tmp_path: Path) -> subprocess.Popen[bytes]:
    args = [
        "simulate", "--patients", "2", "--interval", "0.5", "--mqtt-url", mosquitto.url, "--enrol-url", api,
        "--ward", "test-ward", "--scenario", "sudden-drop", "--scenario", "probe-off",
        "--state-dir", str(tmp_path / "sim"),
    ]  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "oxiward", *args], cwd=ROOT, env=_env(OXIWARD_SIM_API_TOKEN=TOKEN)
    )


def _queue(api: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{api}/v1/wards/test-ward/queue", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def test_simulated_patients_are_enrolled_and_their_readings_reach_the_queue(
    api: str, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    sim = _simulate(api, mosquitto, tmp_path)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not ((items := _queue(api)) and len(items) == 2 and all(i["latest"] for i in items)):
            assert sim.poll() is None, "oxiward simulate exited on its own"
            assert time.monotonic() < deadline, f"no readings from both simulated patients: {items}"
            time.sleep(0.25)
        assert sorted(str(i["ref"]) for i in items) == ["Bed 1 (sudden-drop)", "Bed 2 (probe-off)"]
        assert (tmp_path / "sim" / "heartbeat").exists()
        assert {p.name for p in (tmp_path / "sim").iterdir()} >= {"sim-gw-01", "sim-gw-02"}
    finally:
        assert _stop(sim) == 0

    # Run again against the same service: already enrolled with the same device is not an error,
    # and the gateways pick up their outboxes where they left them.
    restarted = datetime.now(UTC)
    again = _simulate(api, mosquitto, tmp_path)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not all(_measured_at(item) > restarted for item in _queue(api)):
            assert again.poll() is None, "a second simulator run over the same patients failed"
            assert time.monotonic() < deadline, "the second simulator run did not publish for both patients"
            time.sleep(0.25)
    finally:
        assert _stop(again) == 0


def test_sigterm_while_enrolling_is_a_clean_exit(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    # An "API" that accepts the connection and never answers: once the simulator connects, it is
    # enrolling, and the signal arrives while it waits.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(TIMEOUT_S)
        sim = _simulate(f"http://127.0.0.1:{silent.getsockname()[1]}", mosquitto, tmp_path)
        try:
            connection, _ = silent.accept()
        except TimeoutError:
            sim.kill()
            raise
        with connection:
            assert _stop(sim) == 0


def _measured_at(item: dict[str, object]) -> datetime:
    latest = item["latest"]
    assert isinstance(latest, dict)
    return datetime.fromisoformat(str(latest["measured_at"]))
