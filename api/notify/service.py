"""The delivery worker as the service runs it (api/main.py starts it with the evaluation worker)."""

from __future__ import annotations

from api.notify.delivery import NotificationDelivery
from api.notify.mqtt_channel import MqttPublisher
from api.settings import ApiSettings
from api.store import connect


def from_settings(settings: ApiSettings, link_base: str = "") -> NotificationDelivery:
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else ""
    mqtt = MqttPublisher(
        settings.mqtt_url,
        client_id=f"oxiward-notify-{settings.worker_name}",
        username=settings.mqtt_username or "",
        password=password,
    )
    return NotificationDelivery(
        connect(settings.redis_url),
        name=f"notify-{settings.worker_name}",
        link_base=link_base,
        mqtt=mqtt,
        targets=settings.webhook_targets(),
    )
