"""The patient page's chart and tables over real stored history: readings measured over two days
(stored through the ingest's store, as a gateway's outbox replays them), a red reading now that the
service's worker turns into a high alert. The chart shades the bands and marks the alert; the 7-day
and since-enrolment ranges load more and say what they show, including when the readings' retention
cuts "since enrolment" short; the readings table dates what is not from today; the alert history
lists every alert, however many pages of the alert list they take."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis
from playwright.async_api import Browser, Page, expect

from alerting.model import Priority
from api import keys
from api.alert_store import Apply, Cause, SyncAlertStore, new_alert
from api.registry import iso_utc
from tests.api import factories
from tests.web.support import (
    DESKTOP,
    Service,
    make_ward,
    screenshot,
    serious_violations,
    sign_in,
    store_gateway_status,
    store_history,
    until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

DEVICE = "C0:FF:EE:E6:08:01"
HOUR = timedelta(hours=1)
# Green spot checks over the last 30 hours (two of them before the 24-hour window), then a red one.
HISTORY = [(96, 30 * HOUR), (95, 26 * HOUR), (97, 20 * HOUR), (96, 14 * HOUR), (97, 8 * HOUR), (96, 4 * HOUR)]
RED = (88, timedelta(seconds=1))
NO_CAUSE = Cause(None, None, None, None, detail="test")


async def chart_state(page: Page) -> dict[str, object]:
    return dict(
        await page.evaluate(
            """(() => {
                 const svg = document.querySelector('#chart svg');
                 return {
                   dots: svg.querySelectorAll('circle.spo2.dot').length,
                   firstTick: svg.querySelector('text.tick-time').textContent,
                   summary: document.getElementById('chart-summary').textContent,
                   note: document.getElementById('chart-note').textContent,
                 };
               })()"""
        )
    )


async def show_range(page: Page, name: str, before: dict[str, object]) -> dict[str, object]:
    await page.get_by_role("button", name=name).click()
    await expect(page.get_by_role("button", name=name)).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#chart-summary")).not_to_have_text(str(before["summary"]))
    return await chart_state(page)


async def test_chart_shades_bands_marks_alerts_and_each_range_says_what_it_shows(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    ward = await make_ward(admin, ("p-chart", "Bed 5", DEVICE))
    # Enrolled 20 days ago: longer than the 14 days readings are kept (the API enrols "now").
    client = redis.Redis.from_url(service.redis_url)
    try:
        client.hset(keys.patient("p-chart"), "enrolled_at", iso_utc(datetime.now(UTC) - timedelta(days=20)))
    finally:
        client.close()
    store_history(service.redis_url, DEVICE, [*HISTORY, RED])
    store_gateway_status(service.redis_url, factories.GATEWAY, DEVICE, outbox_depth=1)

    async def raised() -> bool:
        return bool((await admin.get("/v1/patients/p-chart/alerts")).json()["items"])

    await until(raised, 30, "the red reading's alert")

    context = await browser.new_context(viewport=DESKTOP)
    page, watch = await sign_in(context, service.url, ward.clinician)
    await page.goto(f"{service.url}/ward/{ward.ward_id}/patients/p-chart")
    await expect(page.locator("#chart-summary")).to_contain_text("over the last 24 hours")
    chart = page.locator("#chart svg")
    for zone in ("zone-red", "zone-amber", "zone-green"):
        await expect(chart.locator(f"rect.{zone}")).to_have_count(1)
    await expect(chart.locator("line.mark-high")).to_have_count(1)
    day = await chart_state(page)
    assert "Lowest SpO₂ 88 %" in str(day["summary"]), day
    assert "1 alert marked" in str(day["summary"]), day
    assert day["dots"] == len(HISTORY) - 2 + 1, day  # the two readings over 24 hours old are not shown
    # One reading in flight is a healthy 1 Hz gateway, not news: no backlog shown.
    await expect(page.locator("#queue .link")).to_contain_text("Gateway gw-0001 online")
    await expect(page.locator("#queue .link")).not_to_contain_text("waiting")

    # The readings table: today's readings by time, older ones with their date.
    cells = [c.strip() for c in await page.locator("#readings tbody tr td:first-child").all_text_contents()]
    assert len(cells) == len(HISTORY) + 1, cells
    dated = await page.evaluate(
        """(hours) => hours.map((h) => new Intl.DateTimeFormat('en-GB', {day: 'numeric', month: 'short'})
             .format(new Date(Date.now() - h * 3600000)))""",
        [30, 26],
    )
    assert cells[-1].startswith(dated[0]), (cells, dated)
    assert cells[-2].startswith(dated[1]), (cells, dated)
    assert len(cells[0]) == 5, cells  # HH:MM: measured today

    week = await show_range(page, "7 days", day)
    assert "over the last 7 days" in str(week["summary"]), week
    assert week["dots"] == len(HISTORY) + 1, week
    assert week["firstTick"] != day["firstTick"], (day, week)
    assert "mean per 7 min" in str(week["note"]), week
    await screenshot(page, "patient-chart-7-days-1280x720")

    since = await show_range(page, "Since enrolment", week)
    assert "over the last 14 days only (enrolled " in str(since["summary"]), since
    assert "readings are kept 14 days, older ones are gone" in str(since["summary"]), since
    assert " over since " not in str(since["summary"]), since
    assert since["firstTick"] != week["firstTick"], (week, since)
    await expect(chart.locator("line.mark-high")).to_have_count(1)
    await screenshot(page, "patient-chart-since-enrolment-1280x720")
    assert await serious_violations(page) == []

    # Readings piling up on the gateway are worth saying.
    store_gateway_status(service.redis_url, factories.GATEWAY, DEVICE, outbox_depth=45)
    await page.reload()
    await expect(page.locator("#queue .link")).to_contain_text("45 readings waiting on the gateway to send")
    assert watch.problems == []
    await context.close()


async def test_the_alert_history_lists_every_alert_however_many_pages_they_take(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    """The alert list comes a page at a time (at most 500); the history table follows `next_cursor`
    to the last alert rather than stopping at the first page."""
    ward = await make_ward(admin, ("p-many", "Bed 7", "C0:FF:EE:E6:08:02"))
    many = 501
    now = datetime.now(UTC)
    client = redis.Redis.from_url(service.redis_url)
    try:
        steps = []
        for i in range(many):
            at = now - timedelta(minutes=2 * (many - i))
            record = new_alert(f"{i:032x}", "p-many", "o2home-band", Priority.MEDIUM, NO_CAUSE, at)
            record |= {
                "state": "resolved",
                "resolved_by": "dr-t",
                "resolved_at": iso_utc(at),
                "outcome": "seen",
            }
            steps.append(Apply("p-many", "o2home-band", "", "", record, "resolved"))
        assert SyncAlertStore(client).apply_many(steps) == ["ok"] * many
    finally:
        client.close()
    context = await browser.new_context(viewport=DESKTOP)
    page, watch = await sign_in(context, service.url, ward.clinician)
    await page.goto(f"{service.url}/ward/{ward.ward_id}/patients/p-many")
    await expect(page.locator("#alert-history tbody tr")).to_have_count(many)
    assert watch.problems == []
    await context.close()
