"""The wards an administrator may open, on the sign-in page and in the queue's ward filter: every
page of `GET /v1/wards` (100 a page, by id), up to a bound the page says it reached."""

from __future__ import annotations

import uuid

import httpx
import pytest
import redis
from playwright.async_api import Browser, expect

from api import keys
from tests.web.support import DESKTOP, PASSWORD, Service, make_ward, open_queue, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

LEFT_OUT = "Only the first 2000 wards are listed"


def seed_wards(redis_url: str, count: int) -> list[str]:
    """Wards as patients' enrolments leave them (api/registry.py), ids sorting before `make_ward`'s."""
    ids = [f"a-{i:04d}" for i in range(count)]
    client = redis.Redis.from_url(redis_url)
    try:
        client.sadd(keys.wards(), *ids)
    finally:
        client.close()
    return ids


async def administrator(admin: httpx.AsyncClient) -> str:
    name = f"admin.{uuid.uuid4().hex[:6]}"
    body = {"username": name, "password": PASSWORD, "role": "administrator", "wards": []}
    r = await admin.post("/v1/admin/users", json=body)
    assert r.status_code == 201, r.text
    return name


async def test_an_administrator_is_offered_and_opens_wards_past_the_first_page(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    seeded = seed_wards(service.redis_url, 150)
    ward = await make_ward(admin, ("p-late", "Bed 9", ""))  # "w-…": on the second page
    user = await administrator(admin)

    context = await browser.new_context(viewport=DESKTOP)
    page, watch = await sign_in(context, service.url, user)
    await expect(page.locator("#ward-list a")).to_have_count(len(seeded) + 1)
    await expect(page.locator("#ward-list")).not_to_contain_text(LEFT_OUT)
    await open_queue(page, ward.ward_id)
    await expect(page.locator("#queue")).to_contain_text("Bed 9")

    chooser = page.get_by_label("Ward", exact=True)
    await expect(chooser.locator("option")).to_have_count(len(seeded) + 1)
    await expect(chooser).to_have_value(ward.ward_id)
    await chooser.select_option(label="Ward a-0120")  # second page too
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ward a-0120: queue")
    await expect(page.locator("#empty")).to_be_visible()
    assert watch.problems == []
    await context.close()


async def test_past_twenty_pages_the_lists_stop_and_say_so_and_this_ward_stays_chosen(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    seed_wards(service.redis_url, 2050)
    ward = await make_ward(admin, ("p-beyond", "Bed 4", ""))  # past the 2000 listed
    user = await administrator(admin)

    context = await browser.new_context(viewport=DESKTOP)
    page, watch = await sign_in(context, service.url, user)
    await expect(page.locator("#ward-list li").last).to_have_text(
        "Only the first 2000 wards are listed; open another at /ward/<ward id>."
    )
    await expect(page.locator("#ward-list a")).to_have_count(2000)

    await page.goto(f"{service.url}/ward/{ward.ward_id}")
    await expect(page.locator("#queue")).to_contain_text("Bed 4")
    chooser = page.get_by_label("Ward", exact=True)
    await expect(chooser).to_have_value(ward.ward_id)
    await expect(chooser.locator("option:not([disabled])")).to_have_count(2001)
    await expect(chooser.locator("option[disabled]")).to_contain_text(LEFT_OUT)
    assert watch.problems == []
    await context.close()
