"""Request and response models of the webhook subscription API, with examples."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from api.schemas import EntityId, UtcTime

EventType = Literal["reading.created", "alert.raised", "alert.updated"]
_TEXT = r"^[^\x00-\x1f\x7f]+$"


def _check_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; deliveries are authenticated by their signature")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    return value


WebhookUrl = Annotated[
    str, StringConstraints(min_length=8, max_length=2048, pattern=r"^\S+$"), AfterValidator(_check_url)
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=_TEXT)]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://epr.example.nhs.uk/oxiward/events",
                    "events": ["alert.raised", "alert.updated"],
                    "ward_ids": ["north-1"],
                    "description": "EPR alert feed",
                }
            ]
        },
    )

    url: WebhookUrl
    events: list[EventType] = Field(min_length=1, max_length=3)
    ward_ids: list[EntityId] | None = Field(
        default=None,
        max_length=100,
        description="null: every ward the caller is granted (checked per delivery)",
    )
    description: Description | None = None


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    url: WebhookUrl | None = None
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=3)
    ward_ids: list[EntityId] | None = Field(default=None, max_length=100)
    description: Description | None = None
    active: StrictBool | None = None  # 1 or "yes" is no answer to a yes/no question


_WEBHOOK: dict[str, Any] = {
    "subscription_id": "wh-4f1c2a9e7b3d5c60",
    "url": "https://epr.example.nhs.uk/oxiward/events",
    "events": ["alert.raised", "alert.updated"],
    "ward_ids": ["north-1"],
    "description": "EPR alert feed",
    "active": True,
    "created_at": "2025-01-14T09:00:00.000Z",
    "stats": {
        "delivered": 41,
        "failed_attempts": 2,
        "dead_lettered": 0,
        "last_success_at": "2025-01-14T10:02:10.000Z",
        "last_failure_at": None,
        "last_status": 200,
    },
}


class DeliveryStats(BaseModel):
    delivered: int
    failed_attempts: int
    dead_lettered: int
    last_success_at: UtcTime | None
    last_failure_at: UtcTime | None
    last_status: int | None = Field(description="HTTP status of the last attempt; 0 when it got no response")


class WebhookRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_WEBHOOK]})

    subscription_id: str
    url: str
    events: list[EventType]
    ward_ids: list[str] | None
    description: str | None
    active: bool
    created_at: UtcTime
    stats: DeliveryStats


class WebhookCreated(WebhookRead):
    """The subscription and its signing secret: shown now and on rotation only."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_WEBHOOK, "secret": "whsec_9mQ2…"}]})

    secret: str = Field(description="HMAC-SHA256 key for `Oxiward-Signature`; store it now")


class WebhookSecret(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"subscription_id": "wh-4f1c2a9e7b3d5c60", "secret": "whsec_9mQ2…"}]}
    )

    subscription_id: str
    secret: str


class WebhookPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_WEBHOOK], "next_cursor": None}]})

    items: list[WebhookRead]
    next_cursor: str | None


_DEAD: dict[str, Any] = {
    "dead_letter_id": "1736850000000-0",
    "event_id": "evt_alert_03_1736849990000-0",
    "event_type": "alert.raised",
    "attempts": 10,
    "last_status": 503,
    "last_error": "HTTP 503",
    "dead_at": "2025-01-14T10:20:00.000Z",
    "payload": {"id": "evt_alert_03_1736849990000-0", "type": "alert.raised", "data": {}},
}


class DeadLetter(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DEAD]})

    dead_letter_id: str
    event_id: str
    event_type: str
    attempts: int
    last_status: int
    last_error: str
    dead_at: UtcTime
    payload: dict[str, Any] = Field(description="the event exactly as it would have been delivered")


class DeadLetterPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_DEAD], "next_cursor": None}]})

    items: list[DeadLetter]
    next_cursor: str | None


class PingAccepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"event_id": "evt_ping_5b0c9e1f2a3d4c6b"}]})

    event_id: str
