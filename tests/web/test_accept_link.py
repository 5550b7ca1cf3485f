"""One-click accept from a message that cannot carry a bearer: the clinician follows the notification's
tracked link (here from the ward's MQTT alert topic, as an SMS or e-mail would carry it), signs in,
lands back on the patient page, acknowledges, and that delivery is recorded read, then accepted."""

from __future__ import annotations

import json
import queue
import time
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.async_api import Browser, expect

from tests.services import MosquittoBroker
from tests.web.support import DESKTOP, PASSWORD, PageWatch, Service, make_ward, store_spot_checks

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

DEVICE = "C0:FF:EE:E6:02:01"


def _subscribe(broker: MosquittoBroker, topic: str) -> tuple[mqtt.Client, queue.Queue[bytes]]:
    got: queue.Queue[bytes] = queue.Queue()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"link-{time.monotonic_ns()}")

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        got.put(bytes(msg.payload))

    sub.on_message = on_message
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    time.sleep(0.3)  # let the SUBACK land before the alert is raised
    return sub, got


async def test_a_followed_link_then_acknowledging_accepts_that_delivery(
    service: Service, admin: httpx.AsyncClient, browser: Browser, mosquitto: MosquittoBroker
) -> None:
    ward = await make_ward(admin, ("p-link", "Bed 5", DEVICE))
    rota = {"tiers": [], "mqtt": {"privacy": "minimal"}}
    assert (await admin.put(f"/v1/wards/{ward.ward_id}/rota", json=rota)).status_code == 200
    sub, got = _subscribe(mosquitto, f"oxiward/v1/alerts/{ward.ward_id}")
    try:
        store_spot_checks(service.redis_url, DEVICE, 97, 88)  # red band: a high alert, notified
        message = json.loads(got.get(timeout=60))
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert message["link"].startswith("/n/")  # this service has no public URL: relative
    alert_id = message["alert_id"]

    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    watch = PageWatch(page, service.url)
    await page.goto(service.url + message["link"])  # not signed in: to sign-in, and back
    await expect(page.locator("#notice")).to_contain_text("Sign in to open the page you asked for")
    await page.get_by_label("Username").fill(ward.clinician)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#title")).to_have_text("Bed 5")
    patient_page = f"{service.url}/ward/{ward.ward_id}/patients/p-link"
    assert page.url == patient_page  # the token left the address bar (and the history) at once

    deliveries = f"/v1/patients/p-link/alerts/{alert_id}/deliveries"
    [read] = (await admin.get(deliveries)).json()["items"]
    assert (read["channel"], read["status"]) == ("mqtt", "read")

    await page.get_by_role("button", name="Acknowledge high alert for Bed 5").click()
    await expect(page.locator("#status")).to_have_text(
        "Acknowledged by you; the message you opened is marked accepted."
    )
    [accepted] = (await admin.get(deliveries)).json()["items"]
    assert accepted["status"] == "accepted"
    assert accepted["read_at"] <= accepted["accepted_at"]
    [alert] = [
        a
        for a in (await admin.get("/v1/patients/p-link/alerts")).json()["items"]
        if a["alert_id"] == alert_id
    ]
    assert alert["acknowledged_by"] == ward.clinician  # the person signed in, not the channel
    assert watch.problems == []
    await context.close()
