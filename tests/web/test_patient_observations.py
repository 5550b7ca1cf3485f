"""The patient page says whether the observations it records are scored: only a NEWS2 care plan
scores them, so for an Oximetry @home patient the page says, beside the form and again on saving,
that they raise no alert; for a NEWS2 patient that they are scored. The page also writes times,
dates and units one way whatever the browser's locale (a US-set browser here): the snooze in the
alert history at HH:MM, not as the service's ISO text; °C and mmHg, not UCUM codes; the enrolment
date as "30 Nov 2026"."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.web.support import (
    DESKTOP,
    Service,
    make_ward,
    screenshot,
    serious_violations,
    sign_in,
    store_spot_checks,
    until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

O2HOME_DEVICE, NEWS2_DEVICE = "C0:FF:EE:E6:0A:01", "C0:FF:EE:E6:0A:02"
NOT_SCORED = (
    "This patient's care plan (Oximetry @home bands) does not score NEWS2: observations are recorded "
    "for the record but raise no alert. Change the care plan to a NEWS2 pack to have them scored."
)


async def _set_plan(admin: httpx.AsyncClient, patient_id: str, rule_pack: str) -> None:
    body = {"plan": {"rule_pack": rule_pack}, "by": "dr-ak", "reason": "started monitoring"}
    put = await admin.put(f"/v1/patients/{patient_id}/care-plan", json=body)
    assert put.status_code == 200, put.text


async def test_an_o2home_patients_observations_are_said_to_raise_no_alert(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    ward = await make_ward(admin, ("p-o2h", "Bed 3", O2HOME_DEVICE), ("p-news", "Bed 4", NEWS2_DEVICE))
    await _set_plan(admin, "p-o2h", "o2home")
    await _set_plan(admin, "p-news", "news2-scale1")
    # A red spot check, its alert snoozed: the history then has a snooze "until" to show.
    store_spot_checks(service.redis_url, O2HOME_DEVICE, 88)
    alerts: list[dict[str, str]] = []

    async def raised() -> bool:
        alerts[:] = (await admin.get("/v1/patients/p-o2h/alerts")).json()["items"]
        return bool(alerts)

    await until(raised, 30, "the red reading's alert")
    snoozed = await admin.post(
        f"/v1/patients/p-o2h/alerts/{alerts[0]['alert_id']}/snooze", json={"by": "nurse-jb", "minutes": 15}
    )
    assert snoozed.status_code == 200, snoozed.text
    until_iso = snoozed.json()["snoozed_until"]

    context = await browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="Europe/London")
    page, watch = await sign_in(context, service.url, ward.clinician)
    await page.goto(f"{service.url}/ward/{ward.ward_id}/patients/p-o2h")
    notice = page.locator("#obs-scoring")
    await expect(notice).to_have_text(NOT_SCORED)
    await expect(notice).to_have_class("reach")

    # Enrolled today, written the UK way in the US-set browser (not 11/30/2026).
    today = await page.evaluate(
        "new Intl.DateTimeFormat('en-GB', {day: 'numeric', month: 'short', year: 'numeric'})"
        ".format(new Date())"
    )
    await expect(page.locator("#enrolled")).to_contain_text(f"enrolled {today} ·")
    # The snooze in the alert history: "until HH:MM" in local time, not the service's ISO text.
    local_until = await page.evaluate(
        "(iso) => new Intl.DateTimeFormat('en-GB', {hour: '2-digit', minute: '2-digit', hourCycle: 'h23'})"
        ".format(new Date(iso))",
        until_iso,
    )
    snooze_row = page.locator("#alert-history tbody tr", has_text="Snoozed")
    # (with its date when the snooze ends after midnight)
    await expect(snooze_row.locator("td").last).to_have_text(
        re.compile(rf"^until (\d{{1,2}} [A-Z][a-z]{{2}} )?{local_until}$")
    )

    # The deteriorating set of the audit: saved, and the page says it raises no alert.
    await page.get_by_label("Respiration rate (/min)").fill("26")
    await page.get_by_label("Systolic BP (mmHg)").fill("88")
    await page.get_by_label("Temperature (°C)").fill("39.1")
    await page.get_by_role("button", name="Save observations").click()
    status = page.locator("#obs-status")
    await expect(status).to_contain_text("Saved by you at ")
    await expect(status).to_contain_text("Respiration rate, Systolic BP, Temperature. " + NOT_SCORED)
    await expect(status).to_have_class("reach")
    values = page.locator("#observations tbody tr td:nth-child(3)")
    await expect(values).to_have_text(["39.1 °C", "88 mmHg", "26 /min"])
    await screenshot(page, "patient-observations-not-scored-1280x720")
    assert await serious_violations(page) == []
    listed = (await admin.get("/v1/patients/p-o2h/alerts")).json()["items"]
    assert [a["rule"] for a in listed] == ["o2home-band"]  # the set raised nothing, as said

    # A NEWS2 patient: the page says the observations are scored, and the save confirms it.
    await page.goto(f"{service.url}/ward/{ward.ward_id}/patients/p-news")
    await expect(notice).to_have_text(
        "This patient's care plan (NEWS2, SpO₂ scale 1) scores NEWS2 with these observations: "
        "an alert follows at once if the score calls for one."
    )
    await expect(notice).to_have_class("summary")
    # Its chart is shaded by NEWS2 SpO2 scale 1 (0 points from 96 %, 3 at 91 % or below), not by a
    # hypercapnic 88-92 % target.
    await expect(page.locator("#chart-note")).to_contain_text("Shaded: green ≥96 %, amber, red <92 %")
    await page.get_by_label("Temperature (°C)").fill("37.2")
    await page.get_by_role("button", name="Save observations").click()
    await expect(status).to_have_text(
        re.compile(r"^Saved by you at .*: Temperature\. NEWS2 is scored with them\.$")
    )
    await screenshot(page, "patient-observations-scored-1280x720")
    assert watch.problems == []
    await context.close()
