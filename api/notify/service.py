"""The delivery worker as the service runs it (api/main.py starts it with the evaluation worker)."""

from __future__ import annotations

import logging

from api.notify.delivery import NotificationDelivery
from api.notify.mqtt_channel import MqttPublisher
from api.settings import ApiSettings
from api.store import connect

log = logging.getLogger(__name__)


def from_settings(settings: ApiSettings) -> NotificationDelivery:
    """The worker, its links based at OXIWARD_API_PUBLIC_URL (relative without it: said once, here)."""
    if settings.public_url is None:
        # A relative link in an SMS or e-mail cannot be opened: say so at start, where it is fixed.
        log.warning(
            "OXIWARD_API_PUBLIC_URL is not set: links in alert notifications are relative (/n/...); "
            "set it to the address clinicians open, e.g. https://oxiward.example"
        )
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else ""
    mqtt = MqttPublisher(
        settings.mqtt_url,
        client_id=f"oxiward-notify-{settings.worker_name}",
        username=settings.mqtt_username or "",
        password=password,
        protocol=settings.mqtt_protocol,
    )
    return NotificationDelivery(
        connect(settings.redis_url),
        name=f"notify-{settings.worker_name}",
        link_base=settings.public_url or "",
        mqtt=mqtt,
        targets=settings.webhook_targets(),
    )
