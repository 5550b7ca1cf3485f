"""docker-compose.yml is valid, complete and refuses to start without its secrets.

Validated offline by Debian's docker-compose 1.29 (docs/services.md: no Docker engine here);
`make test` installs it, so a missing binary is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {
    "OXIWARD_API_TOKENS": "t" * 32,
    "OXIWARD_SIM_API_TOKEN": "s" * 32,
    "OXIWARD_MQTT_SERVICE_PASSWORD": "service-password",
    "OXIWARD_SIM_MQTT_PASSWORD": "sim-password",
    "OXIWARD_REDIS_PASSWORD": "0123abcd",
    "OXIWARD_JWT_SECRET": "j" * 40,
}


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose is not installed: apt-get install docker-compose (make test does this as root)"
        )
    # Only PATH and the variables under test: nothing from the developer's shell leaks in.
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT), **env}
    return subprocess.run(
        [binary, "-f", str(COMPOSE), *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_compose_file_is_valid_with_its_secrets_set() -> None:
    result = _compose("config", "-q", env=SECRETS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_each_secret_is_required(missing: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != missing}
    result = _compose("config", "-q", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    result = _compose("config", env=SECRETS)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_services_and_health(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {"mosquitto", "redis", "api", "sim"}
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert services["redis"]["image"] == "redis:7"
    assert services["api"]["command"] == ["api"]
    assert services["sim"]["command"][0] == "simulate"
    assert services["api"]["depends_on"] == {
        "redis": {"condition": "service_healthy"},
        "mosquitto": {"condition": "service_healthy"},
    }
    assert services["sim"]["depends_on"]["api"] == {"condition": "service_healthy"}


def test_redis_keeps_an_append_only_file(resolved: dict[str, Any]) -> None:
    command = " ".join(resolved["services"]["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command


def test_secrets_reach_the_services(resolved: dict[str, Any]) -> None:
    api_env = resolved["services"]["api"]["environment"]
    # The simulator enrols with its own token, which the API must accept alongside the staff tokens.
    assert api_env["OXIWARD_API_API_TOKENS"].split(",") == [
        SECRETS["OXIWARD_API_TOKENS"],
        SECRETS["OXIWARD_SIM_API_TOKEN"],
    ]
    assert api_env["OXIWARD_API_MQTT_PASSWORD"] == SECRETS["OXIWARD_MQTT_SERVICE_PASSWORD"]
    assert api_env["OXIWARD_API_JWT_SECRET"] == SECRETS["OXIWARD_JWT_SECRET"]
    assert api_env["OXIWARD_API_REDIS_URL"] == f"redis://:{SECRETS['OXIWARD_REDIS_PASSWORD']}@redis:6379/0"
    sim_env = resolved["services"]["sim"]["environment"]
    assert sim_env["OXIWARD_SIM_API_TOKEN"] == SECRETS["OXIWARD_SIM_API_TOKEN"]
    assert (
        sim_env["OXIWARD_SIM_PATIENTS"]
        == resolved["services"]["mosquitto"]["environment"]["OXIWARD_SIM_PATIENTS"]
    )


def test_no_secret_is_committed() -> None:
    # The broker's password file is generated at container start, never kept in the repository.
    assert not (ROOT / "deploy" / "mosquitto" / "passwd").exists()
    text = COMPOSE.read_text()
    for value in SECRETS.values():
        assert value not in text
