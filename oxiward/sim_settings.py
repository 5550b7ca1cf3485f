"""Settings of `oxiward simulate` (prefix OXIWARD_SIM_); command-line flags override them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX: Final = "OXIWARD_SIM_"
#: The four scripted scenarios the emulator offers, in the order the demo shows them.
SCENARIO_NAMES: Final = ("stable", "slow-desaturation", "sudden-drop", "probe-off")
# docs/wire-contract.md: gateway ids become topic segments and MQTT usernames.
_GATEWAY_PREFIX: Final = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
_ADDRESS_PREFIX: Final = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){3}$")


class SimSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    mqtt_url: str = Field(description="broker the simulated gateways publish to, e.g. mqtt://127.0.0.1:1883")
    mqtt_password: SecretStr | None = Field(
        default=None, description="MQTT password of every simulated gateway (username = gateway id)"
    )
    patients: int = Field(default=4, ge=1, le=500, description="emulated patients")
    scenarios: Annotated[list[str], NoDecode] = Field(
        default=list(SCENARIO_NAMES), description="comma-separated scenarios, assigned round-robin"
    )
    mode: Literal["continuous", "spot-check"] = Field(
        default="continuous", description="what the oximeters send"
    )
    interval: float = Field(default=1.0, gt=0, le=3600, description="seconds between readings")
    enrol_url: str | None = Field(default=None, description="API base URL to enrol the patients through")
    api_token: SecretStr | None = Field(default=None, description="bearer token for --enrol-url")
    ward: str = Field(default="sim-ward", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="ward to enrol on")
    gateway_prefix: str = Field(default="sim-gw", description="gateway ids are <prefix>-01, <prefix>-02, ...")
    device_prefix: str = Field(
        default="5E:00:00:00", description="first 4 bytes of the emulated oximeters' BLE addresses"
    )
    state_dir: Path | None = Field(default=None, description="outboxes live here (default: temporary dir)")

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://host:1883 or mqtts://host:8883")
        return value

    @field_validator("enrol_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and (
            urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname
        ):
            raise ValueError("must look like http://127.0.0.1:8000 (the API's base URL)")
        return value.rstrip("/") if value else value

    @field_validator("scenarios", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("scenarios")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in SCENARIO_NAMES]
        if unknown or not value:
            raise ValueError(f"choose from {', '.join(SCENARIO_NAMES)} (got {', '.join(unknown) or 'none'})")
        return value

    @field_validator("gateway_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _GATEWAY_PREFIX.fullmatch(value):
            raise ValueError("use 1-60 characters from A-Z a-z 0-9 _ -")
        return value

    @field_validator("device_prefix")
    @classmethod
    def _device_prefix(cls, value: str) -> str:
        value = value.upper()
        if not _ADDRESS_PREFIX.fullmatch(value):
            raise ValueError("give 4 bytes like 5E:00:00:00 (the last two bytes number the patients)")
        return value

    @model_validator(mode="after")
    def _token_with_url(self) -> SimSettings:
        if self.enrol_url and self.api_token is None:
            raise ValueError(
                f"{ENV_PREFIX}API_TOKEN must be set to enrol patients through {ENV_PREFIX}ENROL_URL"
            )
        return self

    def gateway_id(self, index: int) -> str:
        return f"{self.gateway_prefix}-{index + 1:02d}"

    def device_address(self, index: int) -> str:
        return f"{self.device_prefix}:{(index + 1) >> 8:02X}:{(index + 1) & 0xFF:02X}"

    def scenario_of(self, index: int) -> str:
        return self.scenarios[index % len(self.scenarios)]
