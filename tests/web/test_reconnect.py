"""The live page when the link to the service breaks: it says at once that its data may be out of
date and since when, keeps saying it while the service is away, reconnects by itself, and shows
what happened meanwhile, all without a reload."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.web.support import DESKTOP, Service, make_ward, screenshot, sign_in, store_spot_checks

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

DEVICE = "C0:FF:EE:E6:02:01"


async def test_the_page_shows_it_is_stale_while_the_service_is_away_and_catches_up_after(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    ward = await make_ward(admin, ("p-away", "Bed 5", DEVICE))
    store_spot_checks(service.redis_url, DEVICE, 97)
    context = await browser.new_context(viewport=DESKTOP)
    page, watch = await sign_in(context, service.url, ward.clinician)
    await page.get_by_role("link", name=f"Ward {ward.ward_id}").click()
    row = page.locator("li.row[data-patient='p-away']")
    await expect(row.locator(".band")).to_have_text("Green band")
    banner = page.locator("#stale")
    await expect(banner).to_be_hidden()
    await page.evaluate("window.__sameDocument = true")

    # While the service is away the browser logs the cut stream and the refused reconnections.
    watch.expected += ["ERR_INCOMPLETE_CHUNKED_ENCODING", "ERR_CONNECTION_REFUSED", "ERR_EMPTY_RESPONSE"]
    service.stop()  # the network drops, as far as the page can tell
    await expect(banner).to_be_visible(timeout=30_000)
    await expect(banner).to_have_text(
        re.compile(r"^Connection lost — data may be out of date since \d\d:\d\d\. Reconnecting…$")
    )
    await expect(page.get_by_role("alert")).to_contain_text("Connection lost")
    await screenshot(page, "queue-connection-lost-1280x720")
    # Meanwhile the patient desaturates: the reading is stored and waits for the service's worker.
    store_spot_checks(service.redis_url, DEVICE, 86)
    await expect(row.locator(".band")).to_have_text("Green band")  # still the old data, marked stale

    service.start()
    await expect(banner).to_be_hidden(timeout=60_000)
    await expect(row.locator(".rank")).to_have_text("High priority", timeout=30_000)
    await expect(row.locator(".band")).to_have_text("Red band")
    assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"
    assert watch.problems == []
    await context.close()
