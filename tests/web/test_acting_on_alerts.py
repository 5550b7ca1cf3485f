"""Acting on alerts in the browser: two clinicians acting on the same alert at once -- acknowledging,
resolving, escalating by hand, snoozing -- both get a clear answer (who got there first, and when), never a
silent overwrite; nor is an action meant for the priority shown applied to one an upgrade set meanwhile."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.web.support import (
    DESKTOP,
    PageWatch,
    Service,
    Ward,
    make_ward,
    open_queue,
    serious_violations,
    sign_in,
    store_spot_checks,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

DEVICE, ESCALATING, SNOOZING = "C0:FF:EE:E6:01:01", "C0:FF:EE:E6:01:02", "C0:FF:EE:E6:01:03"
UPGRADING = "C0:FF:EE:E6:01:04"
LADDER = {
    "tiers": [{"name": "ward-nurse", "ack_within_s": 900}, {"name": "ward-clinician", "ack_within_s": 900}]
}
CALLED = "Called patient — reassured, continue monitoring"


async def test_two_clinicians_acting_at_once_see_who_got_there_first(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    ward = await make_ward(admin, ("p-both", "Bed 3", DEVICE))
    contexts = [await browser.new_context(viewport=DESKTOP) for _ in range(2)]
    names = (ward.clinician, ward.other_clinician)
    (nurse, nurse_watch), (doctor, doctor_watch) = [
        await sign_in(c, service.url, name) for c, name in zip(contexts, names, strict=True)
    ]
    pages = (nurse, doctor)
    for page in (nurse, doctor):
        await open_queue(page, ward.ward_id)
    store_spot_checks(service.redis_url, DEVICE, 97, 88)  # red band: a high alert
    for page in (nurse, doctor):
        await expect(page.locator(".rank")).to_have_text("High priority", timeout=30_000)

    # Both click in the same instant: each button's handler runs even if a live update has just
    # redrawn the row under it (the clinician had already decided).
    acknowledge = [p.get_by_role("button", name="Acknowledge high alert for Bed 3") for p in pages]
    ack = [await b.element_handle() for b in acknowledge]
    await asyncio.gather(*(b.evaluate("b => b.click()") for b in ack))
    for page in (nurse, doctor):
        await expect(page.locator(".action-msg").first).not_to_be_empty()
    said = [await p.locator(".action-msg").first.text_content() for p in (nurse, doctor)]
    wins = [s for s in said if s and s.startswith("Acknowledged by you")]
    loses = [s for s in said if s and s.startswith("Already acknowledged by ")]
    assert len(wins) == 1, said
    assert len(loses) == 1, said
    winner = ward.clinician if said[0] == wins[0] else ward.other_clinician
    assert loses[0].startswith(f"Already acknowledged by {winner} at ")

    for page in pages:
        await page.get_by_role("button", name="Resolve… high alert for Bed 3").click()
        await page.get_by_role("dialog").get_by_label(CALLED).check()
    confirm = [
        await p.get_by_role("dialog").get_by_role("button", name="Confirm").element_handle() for p in pages
    ]
    for watch in (nurse_watch, doctor_watch):
        watch.expected.append("409 (Conflict)")  # the loser's resolve: answered, and shown below
    await asyncio.gather(*(b.evaluate("b => b.click()") for b in confirm))
    for page in (nurse, doctor):
        await expect(page.locator("#status")).not_to_be_empty()
    statuses = [await p.locator("#status").text_content() or "" for p in (nurse, doctor)]
    first = [i for i, s in enumerate(statuses) if s.startswith("Resolved by you at ")]
    assert len(first) == 1, statuses
    other = statuses[1 - first[0]]
    assert other.startswith(f"Already resolved by {names[first[0]]} at "), statuses
    assert other.endswith(f"({CALLED})"), statuses
    assert nurse_watch.problems == []
    assert doctor_watch.problems == []
    for c in contexts:
        await c.close()


@dataclass
class Two:
    """Two clinicians of one ward, signed in, both watching the same patient's high alert."""

    ward: Ward
    names: tuple[str, str]
    pages: tuple[Page, Page]
    watches: tuple[PageWatch, PageWatch]
    contexts: list[BrowserContext]

    async def confirm_at_once(self) -> list[str]:
        """Both press the open dialog's Confirm in the same instant; what each page then says."""
        confirm = [
            await p.get_by_role("dialog").get_by_role("button", name="Confirm").element_handle()
            for p in self.pages
        ]
        for watch in self.watches:
            watch.expected.append("409 (Conflict)")  # the second one: answered, and shown on the page
        await asyncio.gather(*(b.evaluate("b => b.click()") for b in confirm))
        for page in self.pages:
            await expect(page.locator(".action-msg").first).not_to_be_empty()
        return [await p.locator(".action-msg").first.text_content() or "" for p in self.pages]

    async def close(self) -> None:
        assert [w.problems for w in self.watches] == [[], []]
        for c in self.contexts:
            await c.close()


async def two_on_a_high_alert(
    service: Service, admin: httpx.AsyncClient, browser: Browser, patient: tuple[str, str, str], **config: Any
) -> Two:
    ward = await make_ward(admin, patient)
    if config:
        body = {"config": config, "by": "matron", "reason": "go-live"}
        assert (await admin.put(f"/v1/wards/{ward.ward_id}/alerting-config", json=body)).status_code == 200
    contexts = [await browser.new_context(viewport=DESKTOP) for _ in range(2)]
    names = (ward.clinician, ward.other_clinician)
    (nurse, nurse_watch), (doctor, doctor_watch) = [
        await sign_in(c, service.url, name) for c, name in zip(contexts, names, strict=True)
    ]
    for page in (nurse, doctor):
        await open_queue(page, ward.ward_id)
    store_spot_checks(service.redis_url, patient[2], 97, 88)
    for page in (nurse, doctor):
        await expect(page.locator(".rank")).to_have_text("High priority", timeout=30_000)
    return Two(ward, names, (nurse, doctor), (nurse_watch, doctor_watch), contexts)


async def test_escalating_by_hand_at_once_tells_the_second_clinician_who_did_it(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    two = await two_on_a_high_alert(
        service, admin, browser, ("p-esc", "Bed 4", ESCALATING), escalation=LADDER
    )
    # Both saw tier 0 and both ask for the next tier in the same instant: one tier up, not two.
    for page, why in zip(two.pages, ("breathless on the phone", "no answer at home"), strict=True):
        await page.get_by_role("button", name="Escalate… high alert for Bed 4").click()
        await page.get_by_role("dialog", name="Escalate alert now").get_by_label("Why (optional)").fill(why)
    said = await two.confirm_at_once()
    first = [i for i, s in enumerate(said) if s.startswith("Escalated by you to tier 1 at ")]
    assert len(first) == 1, said
    winner, why = two.names[first[0]], ("breathless on the phone", "no answer at home")[first[0]]
    assert said[1 - first[0]].startswith(f"Already escalated by {winner} to tier 1 at "), said
    for page in two.pages:
        await expect(page.locator(".alert-who").first).to_contain_text("escalated to tier 1")

    nurse = two.pages[0]
    await nurse.locator("li.row[data-patient='p-esc']").get_by_role("link", name="Bed 4").click()
    history = nurse.locator("#alert-history")
    await expect(history).to_contain_text("Escalated to tier 1")
    await expect(history).to_contain_text(winner)
    await expect(history).to_contain_text(f"by hand to ward-clinician: {why}")
    assert await serious_violations(nurse) == []
    await two.close()


async def test_snoozing_at_once_tells_the_second_clinician_whose_snooze_runs(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    two = await two_on_a_high_alert(service, admin, browser, ("p-snz", "Bed 5", SNOOZING))
    # Both saw it unsnoozed and both snooze it in the same instant: the first snooze stands.
    for page in two.pages:
        await page.get_by_role("button", name="Snooze… high alert for Bed 5").click()
    said = await two.confirm_at_once()
    first = [i for i, s in enumerate(said) if s.startswith("Snoozed by you until ")]
    assert len(first) == 1, said
    assert said[1 - first[0]].startswith(f"Already snoozed by {two.names[first[0]]} until "), said
    await two.close()


async def test_an_upgrade_while_the_snooze_dialog_is_open_is_told_and_not_snoozed(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    ward = await make_ward(admin, ("p-upg", "Bed 6", UPGRADING))
    context = await browser.new_context(viewport=DESKTOP)
    page, watch = await sign_in(context, service.url, ward.clinician)
    await open_queue(page, ward.ward_id)
    store_spot_checks(service.redis_url, UPGRADING, 97, 94)  # amber band: a medium alert
    await expect(page.locator(".rank")).to_have_text("Medium priority", timeout=30_000)
    await page.get_by_role("button", name="Snooze… medium alert for Bed 6").click()
    # Red arrives while the clinician is choosing how long to hold the amber alert they saw.
    store_spot_checks(service.redis_url, UPGRADING, 88)
    await expect(page.locator(".rank")).to_have_text("High priority", timeout=30_000)
    watch.expected.append("409 (Conflict)")  # the snooze for medium: refused, and said below
    await page.get_by_role("dialog").get_by_role("button", name="Confirm").click()
    await expect(page.locator(".action-msg").first).to_have_text(
        "Upgraded to HIGH meanwhile; nothing done. Look at it again before acting."
    )
    [alert] = (await admin.get("/v1/patients/p-upg/alerts")).json()["items"]
    assert (alert["priority"], alert["snoozed_until"]) == ("high", None)
    assert watch.problems == []
    await context.close()
