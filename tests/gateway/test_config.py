"""Device bindings: OXIWARD_GATEWAY_CONFIG (TOML or JSON) merged with OXIWARD_GATEWAY_DEVICES."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gateway.config import ConfigError, DeviceConfig, parse_config
from gateway.protocols.registry import PROFILES
from gateway.settings import PROFILE_KEYS, load_settings

KEYS = [p.key for p in PROFILES]
TOML = """
[[devices]]
address = "00:a0:50:12:34:56"
label = "Bedroom"
mode = "spot-check"
protocol = "berrymed"

[[devices]]
address = "C0:FF:EE:00:00:02"
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OXIWARD_GATEWAY_"):
            monkeypatch.delenv(name)


def test_profile_keys_in_settings_match_the_registry() -> None:
    assert tuple(KEYS) == PROFILE_KEYS


def test_toml_file_and_environment_list_are_merged(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(TOML)
    monkeypatch.setenv("OXIWARD_GATEWAY_GATEWAY_ID", "gw-1")
    monkeypatch.setenv("OXIWARD_GATEWAY_CONFIG", str(path))
    monkeypatch.setenv("OXIWARD_GATEWAY_DEVICES", "C0:FF:EE:00:00:02,C0:FF:EE:00:00:03")
    settings = load_settings()
    assert settings.device_configs == [
        DeviceConfig("00:A0:50:12:34:56", "Bedroom", "spot-check", "berrymed"),
        DeviceConfig("C0:FF:EE:00:00:02"),
        DeviceConfig("C0:FF:EE:00:00:03"),
    ]
    assert settings.addresses[0] == "00:A0:50:12:34:56"
    assert settings.device_configs[0].name == "'Bedroom'"
    assert settings.device_configs[1].name == "C0:FF:EE:00:00:02"


def test_json_works_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps({"devices": [{"address": "C0:FF:EE:00:00:09", "label": "Lounge"}]}))
    monkeypatch.setenv("OXIWARD_GATEWAY_GATEWAY_ID", "gw-1")
    monkeypatch.setenv("OXIWARD_GATEWAY_CONFIG", str(path))
    assert load_settings().device_configs == [DeviceConfig("C0:FF:EE:00:00:09", "Lounge")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[devices]]\nlabel = 'x'\n", "device 1: `address` is missing"),
        ("[[devices]]\naddress = 'nope'\n", "device 1: 'nope' is not a BLE address"),
        ("[[devices]]\naddress = 'C0:FF:EE:00:00:01'\nmode = 'hourly'\n", "mode must be one of auto"),
        ("[[devices]]\naddress = 'C0:FF:EE:00:00:01'\nprotocol = 'acme'\n", "protocol must be one of"),
        ("[[devices]]\naddress = 'C0:FF:EE:00:00:01'\ncolour = 'red'\n", "unknown key(s) colour"),
        ("[[devices]]\naddress = 'C0:FF:EE:00:00:01'\nlabel = 'Mrs <script>'\n", "label must be"),
        ("devices = 3\n", "needs a `devices` list"),
        ("[[devices]\n", "not valid TOML"),
        (
            "[[devices]]\naddress = 'C0:FF:EE:00:00:01'\n[[devices]]\naddress = 'c0:ff:ee:00:00:01'\n",
            "listed twice",
        ),
    ],
)
def test_a_wrong_file_says_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(text, toml=True, protocols=KEYS)


def test_a_wrong_file_stops_the_gateway_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OXIWARD_GATEWAY_GATEWAY_ID", "gw-1")
    monkeypatch.setenv("OXIWARD_GATEWAY_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SystemExit, match=r"OXIWARD_GATEWAY_CONFIG .*missing.toml: cannot read"):
        load_settings()
