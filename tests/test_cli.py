"""The `oxiward` command line: help, version, settings errors and the frame decoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def oxiward(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command as a user would, in a fresh process, with only the given OXIWARD_* variables."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OXIWARD_") and k not in ("REDIS_URL", "MQTT_URL")
    }
    return subprocess.run(
        [sys.executable, "-m", "oxiward", *args],
        cwd=ROOT, env={**base, **(env or {})}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_version() -> None:
    result = oxiward("--version")
    assert result.returncode == 0
    assert result.stdout.strip().startswith("oxiward 0.")


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ([], ["demo", "api", "gateway", "simulate", "--version"]),
        (["demo"], ["REDIS_URL", "MQTT_URL", "OXIWARD_API_API_TOKENS", "Example"]),
        (["api"], ["OXIWARD_API_REDIS_URL", "OXIWARD_API_MQTT_URL", "OXIWARD_API_API_TOKENS", "Example"]),
        (["gateway"], ["OXIWARD_GATEWAY_GATEWAY_ID", "OXIWARD_GATEWAY_DEVICES", "Example"]),
        (["gateway", "run"], ["OXIWARD_GATEWAY_GATEWAY_ID", "OXIWARD_GATEWAY_MQTT_URL", "Example"]),
        (["gateway", "decode"], ["PROTOCOL", "HEX", "Example"]),
        (["simulate"], ["OXIWARD_SIM_MQTT_URL", "OXIWARD_SIM_PATIENTS", "--enrol-url", "Example"]),
    ],
)
def test_help_says_what_it_reads(command: list[str], mentions: list[str]) -> None:
    result = oxiward(*command, "--help")
    assert result.returncode == 0, result.stderr
    for word in mentions:
        assert word in result.stdout, f"`oxiward {' '.join(command)} --help` does not mention {word}"


def test_gateway_help_does_not_import_the_service() -> None:
    # A home gateway installs only oxiward[gateway]: its commands must not need FastAPI or Redis.
    probe = (
        "import sys\n"
        "from oxiward.cli import main\n"
        "for argv in (['gateway', '-h'], ['gateway', 'run', '-h'], ['gateway', 'decode', '-h']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "main(['gateway', 'decode', 'plx-continuous', '0064005a00'])\n"
        "heavy = ('fastapi', 'uvicorn', 'redis', 'api', 'bumble', 'emulator')\n"
        "loaded = sorted(m for m in heavy if m in sys.modules)\n"
        "print('LOADED', loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout


def test_decode_prints_json() -> None:
    result = oxiward("gateway", "decode", "plx-continuous", "0064005a00")
    assert result.returncode == 0, result.stderr
    decoded = json.loads(result.stdout)
    assert decoded["spo2"] == 100
    assert decoded["pulse_rate"] == 90


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["plx-continuous", "00"], "plx-continuous"),  # truncated frame
        (["no-such-protocol", "0064005a00"], "no-such-protocol"),
        (["plx-continuous", "zz"], "not hexadecimal"),
    ],
)
def test_decode_errors_exit_2_without_traceback(args: list[str], says: str) -> None:
    result = oxiward("gateway", "decode", *args)
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_api_with_bad_settings_names_the_variables() -> None:
    secret = "short-secret"
    result = oxiward(
        "api",
        env={"OXIWARD_API_REDIS_URL": "http://127.0.0.1:1/0", "OXIWARD_API_MQTT_URL": "mqtt://127.0.0.1:1",
             "OXIWARD_API_API_TOKENS": secret, "OXIWARD_API_PORT": "not-a-port"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for variable in ("OXIWARD_API_REDIS_URL", "OXIWARD_API_API_TOKENS", "OXIWARD_API_PORT"):
        assert variable in result.stderr
    assert "redis://" in result.stderr  # says what a good value looks like
    assert secret not in result.stderr  # a mistyped token is still a secret
    assert "OXIWARD_API_MQTT_URL" not in result.stderr  # only what is wrong


def test_api_with_missing_settings_says_so() -> None:
    result = oxiward("api")
    assert result.returncode == 2
    assert "OXIWARD_API_REDIS_URL: is not set" in result.stderr


def test_gateway_run_with_bad_settings_names_the_variables() -> None:
    result = oxiward(
        "gateway", "run", env={"OXIWARD_GATEWAY_GATEWAY_ID": "bad/id", "OXIWARD_GATEWAY_DEVICES": "x"}
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "OXIWARD_GATEWAY_GATEWAY_ID" in result.stderr
    assert "OXIWARD_GATEWAY_DEVICES" in result.stderr


@pytest.mark.parametrize(
    ("env", "args", "variable"),
    [
        ({}, [], "OXIWARD_SIM_MQTT_URL"),
        ({"OXIWARD_SIM_MQTT_URL": "mqtt://127.0.0.1:1", "OXIWARD_SIM_SCENARIOS": "stable,bogus"}, [],
         "OXIWARD_SIM_SCENARIOS"),
        ({"OXIWARD_SIM_MQTT_URL": "mqtt://127.0.0.1:1"}, ["--enrol-url", "http://127.0.0.1:1"],
         "OXIWARD_SIM_API_TOKEN"),
        ({}, ["--mqtt-url", "http://wrong"], "OXIWARD_SIM_MQTT_URL"),
        ({"OXIWARD_SIM_MQTT_URL": "mqtt://127.0.0.1:1"}, ["--patients", "0"], "OXIWARD_SIM_PATIENTS"),
    ],
)  # fmt: skip
def test_simulate_with_bad_settings_names_the_variable(
    env: dict[str, str], args: list[str], variable: str
) -> None:
    result = oxiward("simulate", *args, env=env)
    assert result.returncode == 2
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_rejects_nonsense_flags() -> None:
    result = oxiward("demo", "--patients", "0")
    assert result.returncode == 2
    assert "--patients" in result.stderr
