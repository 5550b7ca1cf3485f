"""A ward's rota: who is told at each escalation tier, on which channels, with how much patient data.

Tier k of the rota is told when the alert reaches tier k of the ward's escalation ladder
(api/ward_config.py; alerting/escalation.py); an alert beyond the rota's last tier goes to the last
tier's recipients. The ward's MQTT alert topic (`oxiward/v1/alerts/<ward>`) carries every
notification for local integrations, whatever the tier.

Secrets (webhook signing secrets; passwords and tokens inside apprise URLs) are stored, used to
send, and never returned or logged in full: `public()` masks them.

Record JSON (api/notify/keys.rota): {"ward_id", "version", "rota": Rota.to_dict() (with secrets),
"set_by", "set_at", "principal"}; versions and history: api/notify/rota_store.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from api.notify import keys as nkeys
from api.schemas import WholeNumber

MQTT_TOPIC = "oxiward/v1/alerts/{ward}"
#: A webhook secret shorter than this is guessable (api/webhooks uses 32 random bytes).
MIN_SECRET_LEN = 16


class Privacy(StrEnum):
    """How much of the patient a channel may carry (docs/notifications.md, "Privacy levels")."""

    #: The default: the ward-local reference, the priority, what happened, a link. No name, no NHS number.
    MINIMAL = "minimal"
    #: Also the rule and the late / questionable marks: for channels approved for clinical content.
    CLINICAL = "clinical"


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    APPRISE = "apprise"


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ChannelKind
    url: SecretStr = Field(description="webhook: http(s) URL; apprise: an apprise URL (mailto://, sms..)")
    secret: SecretStr | None = Field(default=None, description="webhook only: the HMAC-SHA256 signing secret")
    privacy: Privacy = Privacy.MINIMAL


class RecipientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120, description="who accepts (recorded on the alert)")
    channels: list[ChannelIn] = Field(min_length=1, max_length=10)


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[RecipientIn] = Field(min_length=1, max_length=50)


class MqttIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    privacy: Privacy = Privacy.MINIMAL


EXAMPLE_PUT: dict[str, Any] = {
    "tiers": [
        {
            "recipients": [
                {
                    "name": "Ward nurse on shift",
                    "channels": [
                        {
                            "kind": "webhook",
                            "url": "https://pager.example.nhs.uk/oxiward",
                            "secret": "whsec_change-me-0123456789",
                        },
                        {
                            "kind": "apprise",
                            "url": "mailtos://ward-alerts:app-password@smtp.example.nhs.uk/?to=north-1@example.nhs.uk",
                        },
                    ],
                }
            ]
        },
        {
            "recipients": [
                {
                    "name": "On-call clinician",
                    "channels": [{"kind": "apprise", "url": "json://pager.example"}],
                }
            ]
        },
    ],
    "mqtt": {"privacy": "minimal"},
}


class RotaPut(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_PUT]})

    tiers: list[TierIn] = Field(max_length=10, description="tier 0 first, in escalation-ladder order")
    mqtt: MqttIn | None = Field(default=None, description="publish to oxiward/v1/alerts/<ward>; null: off")
    if_version: WholeNumber | None = Field(
        default=None, description="refuse (409) unless the current version is this one (0: no rota yet)"
    )

    @field_validator("tiers")
    @classmethod
    def _channels_valid(cls, tiers: list[TierIn]) -> list[TierIn]:
        for t, tier in enumerate(tiers):
            for p, person in enumerate(tier.recipients):
                for c, channel in enumerate(person.channels):
                    error = channel_error(channel)
                    if error:
                        raise ValueError(f"tiers[{t}].recipients[{p}].channels[{c}]: {error}")
        return tiers


def channel_error(channel: ChannelIn) -> str:
    """Why the channel cannot be used ('' when it can); never repeats the URL (it may hold a secret)."""
    url = channel.url.get_secret_value()
    if channel.kind is ChannelKind.WEBHOOK:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "a webhook URL must be http(s)://host/..."
        secret = channel.secret.get_secret_value() if channel.secret else ""
        if len(secret) < MIN_SECRET_LEN:
            return f"a webhook needs a signing secret of at least {MIN_SECRET_LEN} characters"
        return ""
    if channel.secret is not None:
        return "only a webhook takes a secret (an apprise URL carries its own credentials)"
    from api.notify.channels import apprise_redacted  # apprise loads its plugins slowly: only when used

    return "" if apprise_redacted(url) else "not a URL apprise can send to (see its supported services)"


@dataclass(frozen=True, slots=True)
class Channel:
    kind: ChannelKind
    url: str
    secret: str
    privacy: Privacy

    def public(self) -> dict[str, Any]:
        from api.notify.channels import redact

        out: dict[str, Any] = {"kind": self.kind.value, "url": redact(self), "privacy": self.privacy.value}
        if self.kind is ChannelKind.WEBHOOK:
            out["secret"] = self.secret[:6] + "…"
        return out


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    channels: tuple[Channel, ...]


@dataclass(frozen=True, slots=True)
class Rota:
    tiers: tuple[tuple[Recipient, ...], ...]
    mqtt: Privacy | None = None

    def recipients(self, tier: int) -> tuple[Recipient, ...]:
        """Who is told at `tier` (beyond the last tier: the last tier's recipients)."""
        return self.tiers[min(tier, len(self.tiers) - 1)] if self.tiers else ()

    def to_dict(self, *, public: bool = False) -> dict[str, Any]:
        def chan(c: Channel) -> dict[str, Any]:
            if public:
                return c.public()
            return {"kind": c.kind.value, "url": c.url, "secret": c.secret, "privacy": c.privacy.value}

        return {
            "tiers": [
                {"recipients": [{"name": r.name, "channels": [chan(c) for c in r.channels]} for r in tier]}
                for tier in self.tiers
            ],
            "mqtt": None if self.mqtt is None else {"privacy": self.mqtt.value},
        }

    @classmethod
    def from_put(cls, body: RotaPut) -> Rota:
        tiers = tuple(
            tuple(
                Recipient(
                    r.name,
                    tuple(
                        Channel(
                            c.kind,
                            c.url.get_secret_value(),
                            c.secret.get_secret_value() if c.secret else "",
                            c.privacy,
                        )
                        for c in r.channels
                    ),
                )
                for r in tier.recipients
            )
            for tier in body.tiers
        )
        return cls(tiers, None if body.mqtt is None else body.mqtt.privacy)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rota:
        """Decode a stored rota (validated when it was put)."""
        tiers = tuple(
            tuple(
                Recipient(
                    r["name"],
                    tuple(
                        Channel(ChannelKind(c["kind"]), c["url"], c.get("secret", ""), Privacy(c["privacy"]))
                        for c in r["channels"]
                    ),
                )
                for r in tier["recipients"]
            )
            for tier in data["tiers"]
        )
        mqtt = data.get("mqtt")
        return cls(tiers, None if mqtt is None else Privacy(mqtt["privacy"]))


EMPTY = Rota(())


def rota_from_raw(raw: str | bytes | None) -> Rota:
    return EMPTY if raw is None else Rota.from_dict(json.loads(raw)["rota"])


def record(ward_id: str, rota: Rota, version: int, set_by: str, set_at: str) -> dict[str, Any]:
    return {
        "ward_id": ward_id,
        "version": version,
        "rota": rota.to_dict(),
        "set_by": set_by,
        "set_at": set_at,
    }


def public_record(ward_id: str, raw: str | bytes | None) -> dict[str, Any]:
    """The record as the API shows it: secrets masked; version 0 = no rota (the browser only)."""
    if raw is None:
        return {
            "ward_id": ward_id,
            "version": 0,
            "rota": EMPTY.to_dict(public=True),
            "set_by": None,
            "set_at": None,
            "principal": None,
        }
    stored: dict[str, Any] = json.loads(raw)
    return {**stored, "rota": Rota.from_dict(stored["rota"]).to_dict(public=True)}


def rota_key(ward_id: str) -> str:
    return nkeys.rota(ward_id)
