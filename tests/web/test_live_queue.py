"""The ward queue in a real browser, with nothing faked: an emulated oximeter (bumble) desaturates,
the gateway (bleak, outbox, paho) sends through Mosquitto to the service process (ingest, Redis,
worker), and the signed-in clinician sees the red patient arrive on the open page without a reload,
acknowledges and resolves it, and finds it all on the patient page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from emulator import BleWorld, scenario
from tests.services import MosquittoBroker
from tests.web.support import (
    DESKTOP,
    TABLET,
    TICK,
    Service,
    gateway_reading,
    make_ward,
    screenshot,
    serious_violations,
    sign_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CALM, RED = "C0:FF:EE:E6:00:01", "C0:FF:EE:E6:00:02"


async def test_a_desaturating_patient_turns_red_live_and_is_acknowledged_and_resolved(
    service: Service, admin: httpx.AsyncClient, browser: Browser, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    ward = await make_ward(admin, ("p-calm", "Bed 2", CALM), ("p-red", "Bed 10", RED))
    context = await browser.new_context(viewport=DESKTOP)
    page, watch = await sign_in(context, service.url, ward.clinician)
    await page.get_by_role("link", name=f"Ward {ward.ward_id}").click()
    queue = page.locator("#queue > li")
    await expect(queue).to_have_count(2)
    await expect(queue.first).to_contain_text("Bed 2")  # no alerts yet: by reference, Bed 2 before Bed 10
    await page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # 80 % is 13 points under the red edge (93 %): the rapid-desaturation bypass, no 15 s persistence.
    async with BleWorld(not_found_wait=0.5) as world:
        world.add_oximeter(CALM, "Oxi calm", scenario("stable"), interval=TICK)
        world.add_oximeter(
            RED, "Oxi red", scenario("sudden-drop", stable_ticks=40, drop_to=80), interval=TICK
        )
        await world.start()
        async with gateway_reading(world, mosquitto, tmp_path, CALM, RED):
            top = queue.first
            await expect(top).to_contain_text("Bed 10", timeout=60_000)
            await expect(top.locator(".rank")).to_have_text("High priority")
            await expect(top.locator(".band")).to_have_text("Red band")
            await expect(top).to_contain_text("Not acknowledged")
            await expect(top.locator(".trend")).to_contain_text("Falling")
            await expect(top.locator(".link")).to_contain_text("online")
            await expect(top.locator(".link")).to_contain_text("Oximeter connected")
            await expect(queue.nth(1)).to_contain_text("Green band")
            assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"
            await screenshot(page, "queue-red-patient-1280x720")
            assert await serious_violations(page) == []

    await top.get_by_role("button", name="Acknowledge high alert for Bed 10").click()
    await expect(top.locator(".action-msg").first).to_contain_text("Acknowledged by you")
    await expect(top.locator(".alert-who").first).to_contain_text(f"Acknowledged by {ward.clinician}")

    await top.get_by_role("button", name="Resolve… high alert for Bed 10").click()
    dialog = page.get_by_role("dialog", name="Resolve alert")
    # No outcome is chosen for the clinician: a hasty Confirm records nothing and says why.
    await expect(dialog.get_by_role("radio", checked=True)).to_have_count(0)
    await dialog.get_by_role("button", name="Confirm").click()
    await expect(dialog.get_by_role("alert")).to_have_text(
        "Choose an outcome: nothing is recorded until you do."
    )
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("radio").first).to_be_focused()
    await dialog.get_by_label("Advised 999 / emergency department").check()
    await dialog.get_by_role("button", name="Confirm").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#status")).to_contain_text("Resolved by you")
    red_row = page.locator("li.row[data-patient='p-red']")
    await expect(red_row.locator(".rank")).not_to_have_text("High priority")

    await page.set_viewport_size(TABLET)
    await screenshot(page, "queue-after-resolve-820x1180")
    assert await serious_violations(page) == []

    await red_row.get_by_role("link", name="Bed 10").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bed 10")
    history = page.locator("#alert-history")
    await expect(history).to_contain_text("Acknowledged")
    await expect(history).to_contain_text("Resolved")
    await expect(history).to_contain_text("Advised 999 / emergency department")
    await expect(history).to_contain_text(ward.clinician)
    await expect(page.locator("#chart svg")).to_be_visible()
    await expect(page.locator("#readings tbody tr").first).to_be_visible()
    # Manual observations for NEWS2: the name recorded is the signed-in clinician's.
    await page.get_by_label("Respiration rate (/min)").fill("23")
    await page.get_by_label("Consciousness (ACVPU)").select_option("A")
    await page.get_by_role("button", name="Save observations").click()
    await expect(page.locator("#obs-status")).to_contain_text("Saved by you")
    observations = page.locator("#observations")
    await expect(observations).to_contain_text("Respiration rate")
    await expect(observations).to_contain_text(ward.clinician)
    await screenshot(page, "patient-820x1180")
    assert await serious_violations(page) == []
    await page.set_viewport_size(DESKTOP)
    await screenshot(page, "patient-1280x720")
    assert await serious_violations(page) == []
    # The form posts the whole set at once: a refused value refuses it all, and the page says which.
    watch.expected.append("422 (Unprocessable")  # the refused set: answered, and shown on the page
    await page.get_by_label("Respiration rate (/min)").fill("20")
    await page.get_by_label("Systolic BP (mmHg)").fill("30")
    await page.get_by_role("button", name="Save observations").click()
    await expect(page.locator("#obs-error")).to_have_text(
        "Not saved, none of these observations was recorded: check Systolic BP: "
        "systolic_bp must be a number from 40 to 300 mmHg"  # the API's UCUM mm[Hg], as people write it
    )
    await expect(page.get_by_label("Respiration rate (/min)")).to_have_value("20")  # kept to correct
    stored = (await admin.get("/v1/patients/p-red/observations")).json()["items"]
    assert [(o["parameter"], o["value"]) for o in stored] == [
        ("respiration_rate", 23.0),
        ("consciousness", "A"),
    ]
    assert len({o["measured_at"] for o in stored}) == 1  # saved as one set
    assert watch.problems == []
    await context.close()
