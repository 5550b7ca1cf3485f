"""A ward's alerting configuration: escalation ladder, missed-reading ladder, reading schedule, snooze
maxima, technical-alert thresholds, latching. Stored per ward, versioned like care plans.

Every figure here is **LOCAL** (docs/clinical-rules-implemented.md): the sources give no national
escalation times (§5.2, §2.4 [secondary]), no missed-reading rule (§1.8 [unconfirmed]) and no
technical thresholds (§5.3 item 3). So a ward without a configuration escalates nothing, raises no
overdue and no technical alert; only the snooze maxima, the time zone and latching have defaults:

- snooze at most 30 min (LOCAL; S-RAD97's 2 min silence is a bedside figure, not a virtual ward's);
- snoozes in a row (each given while the last still runs) hold an alert at most `snooze_chain_max_s`
  from the first, by default the snooze maximum itself (LOCAL and conservative: clinical-rules.md
  gives no figure for repeated silencing, so a snooze can be changed but never stretched beyond one
  maximum unless the ward says so);
- Europe/London, the NHS wards' wall clock for the reading slots (§1.4 Dorset 09:00/13:00/17:00);
- high priority latches (§5.1, issue 4).

Record JSON (keys.ward_alerting(ward)): {"ward_id", "version", "config": WardConfig.to_dict(),
"set_by", "reason", "set_at", "principal"}; every version is appended to keys.ward_alerting_history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from redis.asyncio import Redis

from alerting import codec
from alerting.escalation import EscalationLadder
from alerting.model import Priority
from alerting.schedule import OverdueLadder, TechnicalPolicy, parse_schedule
from api import keys
from api.alert_record import iso
from api.versioned_store import put_next_version

DEFAULT_SNOOZE_MAX_S = 30 * 60.0
MAX_SNOOZE_MAX_S = 24 * 3600.0
DEFAULT_TIMEZONE = "Europe/London"
_FIELDS = frozenset(
    {
        "escalation",
        "overdue",
        "schedule",
        "timezone",
        "snooze_max_s",
        "snooze_chain_max_s",
        "latch_from",
        "technical",
    }
)
_TECHNICAL = frozenset({"gateway_offline_after_s", "stale_after_s", "battery_low_percent"})


class ConfigError(ValueError):
    """The configuration does not make sense; the message says why (HTTP 422)."""


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ConfigError(f"timezone {name!r} is not a known IANA time zone (e.g. Europe/London)") from err


@dataclass(frozen=True, slots=True)
class WardConfig:
    escalation: EscalationLadder | None = None
    overdue: OverdueLadder | None = None
    #: Reading slots for patients whose care plan has no schedule of its own ("HH:MM", local time).
    schedule: tuple[str, ...] = ()
    timezone: str = DEFAULT_TIMEZONE
    snooze_max_s: float = DEFAULT_SNOOZE_MAX_S
    #: Snoozes in a row hold an alert at most this long in all; None: `snooze_max_s`.
    snooze_chain_max_s: float | None = None
    latch_from: Priority = Priority.HIGH
    technical: TechnicalPolicy | None = None

    @property
    def snooze_max(self) -> timedelta:
        return timedelta(seconds=self.snooze_max_s)

    @property
    def snooze_chain_max(self) -> timedelta:
        return timedelta(seconds=self.snooze_chain_max_s or self.snooze_max_s)

    @property
    def tz(self) -> tzinfo:
        return zone(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        t = self.technical
        return {
            "escalation": None if self.escalation is None else self.escalation.to_dict(),
            "overdue": None if self.overdue is None else self.overdue.to_dict(),
            "schedule": list(self.schedule),
            "timezone": self.timezone,
            "snooze_max_s": self.snooze_max_s,
            "snooze_chain_max_s": self.snooze_chain_max_s,
            "latch_from": self.latch_from.value,
            "technical": None
            if t is None
            else {
                "gateway_offline_after_s": t.gateway_offline_after_s,
                "stale_after_s": t.stale_after_s,
                "battery_low_percent": t.battery_low_percent,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> WardConfig:
        """Decode and validate; raises ConfigError saying what is wrong."""
        try:
            config = _decode(data)
        except ValueError as err:  # codec.DecodeError and the ladders' own checks
            raise ConfigError(str(err)) from err
        config.validate()
        return config

    def validate(self) -> None:
        try:
            parse_schedule(self.schedule)
            if self.overdue is not None:
                self.overdue.validate()
            if self.technical is not None:
                self.technical.validate()
        except ValueError as err:
            raise ConfigError(str(err)) from err
        if not 0 < self.snooze_max_s <= MAX_SNOOZE_MAX_S:
            raise ConfigError("snooze_max_s must be more than 0 and at most 86400 (one day)")
        chain = self.snooze_chain_max_s
        if chain is not None and not self.snooze_max_s <= chain <= MAX_SNOOZE_MAX_S:
            raise ConfigError(
                "snooze_chain_max_s must be at least snooze_max_s and at most 86400 (one day), or null"
            )
        zone(self.timezone)


def _decode(data: Mapping[str, object]) -> WardConfig:
    codec.reject_unknown(data, _FIELDS, "alerting config")
    escalation, overdue, technical = data.get("escalation"), data.get("overdue"), data.get("technical")
    chain = data.get("snooze_chain_max_s")
    policy = None
    if technical is not None:
        given = codec.mapping_in(technical, "technical")
        codec.reject_unknown(given, _TECHNICAL, "technical")
        policy = TechnicalPolicy(
            codec.num_in(given.get("gateway_offline_after_s"), "technical.gateway_offline_after_s"),
            codec.num_in(given.get("stale_after_s"), "technical.stale_after_s"),
            codec.num_in(given.get("battery_low_percent"), "technical.battery_low_percent"),
        )
    return WardConfig(
        escalation=None
        if escalation is None
        else EscalationLadder.from_dict(codec.mapping_in(escalation, "escalation")),
        overdue=None if overdue is None else OverdueLadder.from_dict(codec.mapping_in(overdue, "overdue")),
        schedule=codec.strs_in(data.get("schedule", []), "schedule"),
        timezone=codec.str_in(data.get("timezone", DEFAULT_TIMEZONE), "timezone"),
        snooze_max_s=codec.num_in(data.get("snooze_max_s", DEFAULT_SNOOZE_MAX_S), "snooze_max_s"),
        snooze_chain_max_s=None if chain is None else codec.num_in(chain, "snooze_chain_max_s"),
        latch_from=codec.priority_in(data.get("latch_from", Priority.HIGH.value), "latch_from"),
        technical=policy,
    )


DEFAULT = WardConfig()


def config_from_raw(raw: str | bytes | None) -> WardConfig:
    return DEFAULT if raw is None else WardConfig.from_dict(json.loads(raw)["config"])


def record_json(ward_id: str, raw: str | bytes | None) -> dict[str, Any]:
    if raw is None:
        return {
            "ward_id": ward_id,
            "version": 0,
            "config": DEFAULT.to_dict(),
            "set_by": None,
            "reason": None,
            "set_at": None,
            "principal": None,
            "default": True,
        }
    record: dict[str, Any] = json.loads(raw)
    return {**record, "default": False}


async def get_record(r: Redis, ward_id: str) -> dict[str, Any]:
    return record_json(ward_id, await r.get(keys.ward_alerting(ward_id)))


async def set_config(
    r: Redis,
    ward_id: str,
    config: WardConfig,
    *,
    set_by: str,
    reason: str,
    principal: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Store the next version of the ward's configuration and append it to its history."""

    def make(version: int) -> tuple[dict[str, Any], str, dict[str, str]]:
        record = {
            "ward_id": ward_id,
            "version": version,
            "config": config.to_dict(),
            "set_by": set_by,
            "reason": reason,
            "set_at": iso(now),
            "principal": principal,
        }
        text = json.dumps(record, separators=(",", ":"))
        return {**record, "default": False}, text, {"version": str(version), "record": text}

    return await put_next_version(r, keys.ward_alerting(ward_id), keys.ward_alerting_history(ward_id), make)
