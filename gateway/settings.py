"""Gateway settings from the environment (prefix OXIWARD_GATEWAY_); a wrong value stops with what to fix."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.config import ConfigError, DeviceConfig, load_config, merge_devices, normalize_address

ENV_PREFIX: Final = "OXIWARD_GATEWAY_"
# docs/wire-contract.md: gateway ids appear in topics, so no '/', '+', '#'.
_GATEWAY_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Profile keys a configuration file may name (gateway/protocols/registry.py PROFILES); kept here
# as text so that reading settings never imports the protocol code.
PROFILE_KEYS: Final = ("plx", "nonin", "wellue-o2ring", "berrymed", "wellue-pc60fw", "jumper")
# Requirement: hold 7 days of 1 Hz continuous readings from 2 oximeters while the uplink is down.
DEFAULT_OUTBOX_MAX_ROWS: Final = 7 * 24 * 3600 * 1 * 2  # 1,209,600


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "oxiward-gateway"


class GatewaySettings(BaseSettings):
    """Everything the home gateway needs; read from OXIWARD_GATEWAY_* variables or passed as keywords."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    gateway_id: str = Field(description="this gateway's id; also its MQTT username and topic segment")
    mqtt_url: str = Field(
        default="mqtt://127.0.0.1:1883", description="mqtt://host:port or mqtts://host:port"
    )
    mqtt_username: str | None = Field(default=None, description="defaults to gateway_id")
    mqtt_password: SecretStr | None = None
    mqtt_ca_file: Path | None = Field(default=None, description="CA bundle for mqtts:// (else system CAs)")
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=3600)
    mqtt_max_inflight: int = Field(default=200, ge=1, le=10_000)
    mqtt_protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="MQTT 5 tells the gateway when the broker refuses a reading; 3.1.1 cannot"
    )
    devices: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated BLE addresses to read (and/or CONFIG)"
    )
    config: Path | None = Field(
        default=None, description="device bindings file, TOML (.toml) or JSON; see docs/gateway.md"
    )
    experimental_protocols: bool = Field(
        default=False, description="also read UNCONFIRMED protocols (Jumper/CDEACB80)"
    )
    continuous_rate_hz: float = Field(
        default=1.0, gt=0, le=100, description="continuous readings per second made from a stream"
    )
    berrymed_berry: bool = Field(
        default=False, description="ask BerryMed units for the BERRY protocol (adds PI and battery)"
    )
    o2ring_poll_s: float = Field(default=1.0, ge=0.2, le=60, description="O2Ring read-sensors interval")
    heartbeat_s: float = Field(default=60.0, ge=1, le=3600, description="status topic refresh interval")
    state_dir: Path = Field(default_factory=_default_state_dir)
    outbox_path: Path | None = Field(default=None, description="defaults to <state_dir>/outbox.sqlite3")
    outbox_max_rows: int = Field(default=DEFAULT_OUTBOX_MAX_ROWS, ge=1_000)
    scan_timeout_s: float = Field(default=10.0, gt=0, le=300)
    reconnect_min_s: float = Field(default=1.0, gt=0, le=600)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3600)
    model: str | None = Field(default=None, max_length=80, description="model name override for readings")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("gateway_id")
    @classmethod
    def _check_gateway_id(cls, value: str) -> str:
        if not _GATEWAY_ID.fullmatch(value):
            raise ValueError("use 1-64 characters from A-Z a-z 0-9 _ - (no '/', '+', '#' or spaces)")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError("must start with mqtt:// or mqtts://, e.g. mqtts://broker.example.org:8883")
        if not parts.hostname:
            raise ValueError("needs a host, e.g. mqtt://127.0.0.1:1883")
        try:
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        if parts.username or parts.password:
            raise ValueError("put credentials in MQTT_USERNAME / MQTT_PASSWORD, not in the URL")
        return value

    @field_validator("devices", mode="before")
    @classmethod
    def _split_devices(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in (p.strip() for p in value.split(",")) if part]
        return value

    @field_validator("devices")
    @classmethod
    def _check_devices(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for raw in value:
            address = normalize_address(raw)  # ConfigError is a ValueError: reported per variable
            if address not in out:
                out.append(address)
        return out

    _bindings: list[DeviceConfig] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _check_backoff(self) -> GatewaySettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError(f"{ENV_PREFIX}RECONNECT_MAX_S must be >= {ENV_PREFIX}RECONNECT_MIN_S")
        return self

    @model_validator(mode="after")
    def _bind_devices(self) -> GatewaySettings:
        from_file: list[DeviceConfig] = []
        if self.config is not None:
            try:
                from_file = load_config(self.config, protocols=PROFILE_KEYS)
            except ConfigError as exc:
                raise ValueError(f"{ENV_PREFIX}CONFIG {self.config}: {exc}") from None
        self._bindings = merge_devices(self.devices, from_file)
        if not self._bindings:
            raise ValueError(
                f"no oximeters to read: set {ENV_PREFIX}DEVICES (comma-separated addresses) "
                f"or {ENV_PREFIX}CONFIG (a device file, see docs/gateway.md)"
            )
        return self

    @property
    def device_configs(self) -> list[DeviceConfig]:
        """Every oximeter this gateway reads: the CONFIG file's entries plus the DEVICES list."""
        return list(self._bindings)

    @property
    def addresses(self) -> list[str]:
        return [device.address for device in self._bindings]

    @property
    def mqtt_host(self) -> str:
        return urlsplit(self.mqtt_url).hostname or ""

    @property
    def mqtt_tls(self) -> bool:
        return urlsplit(self.mqtt_url).scheme == "mqtts"

    @property
    def mqtt_port(self) -> int:
        return urlsplit(self.mqtt_url).port or (8883 if self.mqtt_tls else 1883)

    @property
    def resolved_outbox_path(self) -> Path:
        return self.outbox_path or self.state_dir / "outbox.sqlite3"


def describe_errors(error: ValidationError) -> str:
    """One line per bad setting, named by its environment variable; input values are left out (secrets)."""
    lines = ["Gateway settings are not valid; fix these environment variables:"]
    for item in error.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in item["loc"] if isinstance(part, str)) or "(settings)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "required but not set"
        if field == "(settings)":  # a check across variables: its message names them
            lines.append(f"  {message}")
        else:
            lines.append(f"  {ENV_PREFIX}{field.split('.')[0].upper()}: {message}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> GatewaySettings:
    """Read the settings, or exit with a message listing each bad variable and what is wrong with it."""
    try:
        return GatewaySettings(**overrides)
    except ValidationError as exc:
        raise SystemExit(describe_errors(exc)) from None
