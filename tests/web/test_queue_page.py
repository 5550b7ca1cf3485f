"""The queue page itself: switching between a clinician's wards, the notice shown while a ward's
alerts can reach nobody or never escalate (issue 6.4, "no black holes"), and how many patients fit
on a 1280x720 screen with the numbers still readable from two metres."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.web.support import (
    DESKTOP,
    PASSWORD,
    Service,
    make_ward,
    open_queue,
    screenshot,
    serious_violations,
    sign_in,
    store_spot_checks,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

LADDER = {"tiers": [{"name": "ward-nurse", "ack_within_s": 900}]}
# A service on its provider's own hosts: accepted by the default target policy without a DNS lookup
# (an SMTP server would be resolved and checked, docs/notifications.md; example names do not resolve).
SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ward"
ROTA = {"tiers": [{"recipients": [{"name": "Ward nurse", "channels": [{"kind": "apprise", "url": SLACK}]}]}]}
NO_LADDER = "No escalation ladder: alerts nobody acknowledges are not escalated."
NO_ROTA = "No rota: alerts reach only this page; nobody is messaged or paged."


async def test_switching_wards_and_the_notice_while_alerts_can_go_unnoticed(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    bare = await make_ward(admin, ("p-bare", "Bed 1", ""))
    covered = await make_ward(admin, ("p-covered", "Bed 21", ""))
    config = {"config": {"escalation": LADDER}, "by": "matron", "reason": "go-live"}
    assert (await admin.put(f"/v1/wards/{covered.ward_id}/alerting-config", json=config)).status_code == 200
    assert (await admin.put(f"/v1/wards/{covered.ward_id}/rota", json=ROTA)).status_code == 200
    charge = f"charge.{uuid.uuid4().hex[:6]}"
    body = {
        "username": charge,
        "password": PASSWORD,
        "role": "clinician",
        "wards": [bare.ward_id, covered.ward_id],
    }
    assert (await admin.post("/v1/admin/users", json=body)).status_code == 201

    context = await browser.new_context(viewport=DESKTOP)
    page, watch = await sign_in(context, service.url, charge)
    await open_queue(page, bare.ward_id)
    notice = page.locator("#reach")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text(NO_LADDER)
    await expect(notice).to_contain_text(NO_ROTA)
    await expect(page.locator("#queue")).to_contain_text("Bed 1")
    await screenshot(page, "queue-no-ladder-no-rota-1280x720")
    assert await serious_violations(page) == []

    # The ward filter lists this clinician's wards and goes to the one chosen, keeping the filters.
    ward = page.get_by_label("Ward", exact=True)
    options = sorted(await ward.locator("option").all_text_contents())
    assert options == sorted([f"Ward {bare.ward_id}", f"Ward {covered.ward_id}"])
    await page.get_by_label("Show").select_option(label="Any open alert")
    await expect(page.locator("#empty")).to_be_visible()
    await ward.select_option(label=f"Ward {covered.ward_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Ward {covered.ward_id}: queue")
    assert page.url == f"{service.url}/ward/{covered.ward_id}?priority=alerts"
    await expect(page.get_by_label("Show")).to_have_value("alerts")
    await page.get_by_label("Show").select_option(label="All patients")
    await expect(page.locator("#queue > li h2")).to_have_text(["Bed 21"])
    await expect(notice).to_be_hidden()  # a ladder and a rota: nothing to warn about
    assert watch.problems == []
    await context.close()


async def test_several_alerting_patients_fit_above_the_fold_at_1280x720(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    beds = [(f"p-fold-{i}", f"Bed {i}", f"C0:FF:EE:E6:07:0{i}") for i in range(1, 6)]
    ward = await make_ward(admin, *beds)
    context = await browser.new_context(viewport=DESKTOP)
    page, watch = await sign_in(context, service.url, ward.clinician)
    await open_queue(page, ward.ward_id, len(beds))
    for _, _, device in beds:
        store_spot_checks(service.redis_url, device, 97, 87)
    await expect(page.locator("#queue .rank-high.rank")).to_have_count(len(beds), timeout=30_000)
    await expect(page.locator("#reach")).to_be_visible()  # the worst case: the notice takes room too

    await screenshot(page, "queue-five-high-1280x720", full_page=False)
    cards = await page.evaluate(
        """[...document.querySelectorAll('#queue > li')].map((li) => ({
             bottom: li.getBoundingClientRect().bottom,
             buttonRows: new Set([...li.querySelectorAll('.actions button')].map((b) => b.offsetTop)).size,
             big: parseFloat(getComputedStyle(li.querySelector('.big')).fontSize),
           }))"""
    )
    above_fold = [c for c in cards if c["bottom"] <= DESKTOP["height"]]
    assert len(above_fold) >= 3, cards  # was 1.7 cards before the layout was tightened
    assert all(c["buttonRows"] == 1 for c in cards), cards  # Acknowledge … Resolve… on one line
    assert all(c["big"] >= 44 for c in cards), cards  # SpO2 and pulse figures: readable at two metres
    assert await serious_violations(page) == []
    assert watch.problems == []
    await context.close()
