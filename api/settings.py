"""Service settings: environment variables prefixed OXIWARD_API_, validated at start."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.contract import PARTITIONS
from api.webhooks.targets import TargetPolicy, parse_networks


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OXIWARD_API_", extra="ignore")

    redis_url: str = Field(description="Redis (or Valkey) URL, e.g. redis://127.0.0.1:6379/0")
    mqtt_url: str = Field(description="Broker URL, mqtt://host:port or mqtts://host:port")
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    #: Persistent-session client id; each ingest process needs its own.
    mqtt_client_id: str = "oxiward-ingest-0"
    #: Subscribe through a shared subscription group (Mosquitto); off for brokers without $share.
    #: The broker spreads messages over the group, so one gateway's readings may be stored out of
    #: order: for scale-out in order use `mqtt_partitions` instead.
    mqtt_shared_group: str | None = None
    #: The reading-topic partitions (docs/wire-contract.md, 0-15) this ingest process subscribes,
    #: e.g. "0-7" here and "8-15" in a second process: each gateway's readings then reach one
    #: process, in order. Unset: all sixteen.
    mqtt_partitions: str | None = None
    #: The ward alert topic's publisher: MQTT 5 tells it when the broker refuses a publish (3.1.1
    #: cannot); 3.1.1 only for a broker without 5 (the demo's in-process amqtt).
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    #: Bearer tokens accepted by the REST API, comma-separated. Required: every call is authenticated.
    api_tokens: SecretStr = Field(description="comma-separated bearer tokens for the REST API")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: How long a patient's reading history stays in Redis.
    retention_hours: float = Field(default=24 * 14, gt=0, le=24 * 366)
    #: Ingest batching: the linger lets batches grow under load (docs/services.md: ~90 us per
    #: round trip vs 15-30 us per entry inside a pipeline).
    ingest_batch_max: int = Field(default=500, ge=1, le=10_000)
    ingest_linger_ms: float = Field(default=5.0, ge=0, le=1000)
    #: Run the MQTT ingest and the evaluation worker inside the API process.
    run_ingest: bool = True
    run_worker: bool = True
    worker_name: str = "worker-0"
    # -- security (docs/api.md) --
    #: HS256 key for access tokens (32+ characters). Unset: derived from api_tokens (see
    #: api/security/tokens.py); set it explicitly in production, the same in every API process.
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = Field(default="oxiward", min_length=1)
    jwt_audience: str = Field(default="oxiward-api", min_length=1)
    #: Access-token lifetime: short, because a stolen token works until it expires or is revoked.
    access_token_ttl_s: int = Field(default=900, ge=60, le=900)
    #: Per-principal token bucket: sustained requests per second, and the burst allowed.
    rate_limit_per_s: float = Field(default=20.0, gt=0, le=1_000_000)
    rate_limit_burst: int = Field(default=200, ge=1, le=1_000_000)
    #: Token endpoint, per client address and account: slows password guessing (and scrypt CPU).
    auth_rate_limit_per_s: float = Field(default=0.5, gt=0, le=1_000_000)
    auth_rate_limit_burst: int = Field(default=10, ge=1, le=1_000_000)
    #: Largest request body accepted (413 above it).
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    # -- webhook targets (api/webhooks/targets.py): global addresses only, unless allowed here --
    #: Let webhooks (integrator subscriptions, rota channels) reach any address, loopback and
    #: private included: for development and tests with local receivers. Never in production.
    webhook_allow_private: bool = False
    #: Networks webhooks may reach although not global, comma-separated CIDRs (e.g. the trust's
    #: EPR subnet, 10.20.0.0/16).
    webhook_allowed_networks: str = ""
    #: Application log lines as JSON objects (with the request id), or plain text for a terminal.
    log_format: Literal["json", "text"] = "json"
    #: The address clinicians open the service at, e.g. https://oxiward.example: the base of the
    #: links in alert notifications (docs/notifications.md). Unset: the links are relative.
    public_url: str | None = None

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str) -> str:
        if urlparse(v).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must start with redis://, rediss:// or unix:// (e.g. redis://127.0.0.1:6379/0)")
        return v

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_scheme(cls, v: str) -> str:
        u = urlparse(v)
        if u.scheme not in {"mqtt", "mqtts"} or not u.hostname:
            raise ValueError("must look like mqtt://host:1883 or mqtts://host:8883")
        return v

    @field_validator("mqtt_partitions")
    @classmethod
    def _partitions(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        parse_partitions(v)
        return v

    def partitions(self) -> tuple[int, ...]:
        """The owned reading-topic partitions, sorted; all sixteen when none are set."""
        return parse_partitions(self.mqtt_partitions) if self.mqtt_partitions else tuple(range(PARTITIONS))

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        if not v:
            return None
        u = urlparse(v)
        extra = u.username or u.password or u.query or u.fragment
        if u.scheme not in {"http", "https"} or not u.hostname or extra:
            # Never echo the value: a mistaken one may hold credentials.
            raise ValueError("must look like https://oxiward.example (no credentials, query or fragment)")
        return v.rstrip("/")

    @field_validator("api_tokens")
    @classmethod
    def _tokens(cls, v: SecretStr) -> SecretStr:
        tokens = [t.strip() for t in v.get_secret_value().split(",") if t.strip()]
        if not tokens or any(len(t) < 16 for t in tokens):
            raise ValueError("give at least one token of 16 or more characters (e.g. `openssl rand -hex 24`)")
        return v

    @field_validator("jwt_secret")
    @classmethod
    def _jwt_secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError("give at least 32 characters (e.g. `openssl rand -hex 32`)")
        return v

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _webhook_networks(cls, v: str) -> str:
        parse_networks(v)
        return v

    def webhook_targets(self) -> TargetPolicy:
        return TargetPolicy(self.webhook_allow_private, parse_networks(self.webhook_allowed_networks))

    def tokens(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.api_tokens.get_secret_value().split(",") if t.strip())


def parse_partitions(text: str) -> tuple[int, ...]:
    """ "0-3,8,10-11" -> (0, 1, 2, 3, 8, 10, 11); ValueError naming what is wrong."""
    owned: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        first, _, last = part.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            raise ValueError(f"partitions: {part!r} is not a number or a range like 0-7") from None
        if not 0 <= lo <= hi < PARTITIONS:
            raise ValueError(f"partitions: {part!r} must lie within 0-{PARTITIONS - 1}")
        owned.update(range(lo, hi + 1))
    return tuple(sorted(owned))
