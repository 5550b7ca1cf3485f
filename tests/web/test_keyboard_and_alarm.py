"""The queue from the keyboard alone (tab order, a visible focus ring, Enter and Space on actions, focus
kept across live redraws), the opt-in sound and desktop notification for new high and medium alerts
(distinct tones), and the priority and "mine" filters."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.web.support import (
    TABLET,
    Service,
    make_ward,
    open_queue,
    serious_violations,
    sign_in,
    store_spot_checks,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

DEVICE, MEDIUM = "C0:FF:EE:E6:04:01", "C0:FF:EE:E6:04:02"

# Records what the page asks of the browser's sound and notification APIs (the edge a headless
# browser cannot show us): the page's own code runs unchanged on top.
_RECORD_ALARMS = """
window.__notes = [];
window.__tones = [];
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options) { super(title, options); window.__notes.push(title + " | " + options.body); }
};
const realOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  const osc = realOscillator.call(this);
  window.__tones.push(osc);
  return osc;
};
"""


async def focus_by_tabbing(page: Page, name: str, limit: int = 40) -> int:
    """Press Tab until the element with this accessible name has focus; returns the presses."""
    for presses in range(1, limit + 1):
        await page.keyboard.press("Tab")
        label = await page.evaluate(
            "document.activeElement.getAttribute('aria-label') || document.activeElement.textContent"
        )
        if label and label.strip() == name:
            return presses
    raise AssertionError(f"{name!r} not reached with {limit} presses of Tab")


async def focus_ring(page: Page) -> tuple[str, float]:
    style = await page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; })()"
    )
    return str(style[0]), float(str(style[1]).removesuffix("px"))


async def tones_since(page: Page, start: int) -> list[float]:
    """The pitch of every beep the page played since the `start`-th."""
    tones: list[float] = await page.evaluate(f"window.__tones.slice({start}).map(o => o.frequency.value)")
    return tones


async def shown(page: Page) -> list[str]:
    return [str(t).strip() for t in await page.locator("#queue > li h2").all_text_contents()]


async def test_keyboard_only_acknowledge_and_snooze_with_sound_desktop_alerts_and_filters(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    ward = await make_ward(
        admin, ("p-keys", "Bed 7", DEVICE), ("p-med", "Bed 8", MEDIUM), ("p-none", "Bed 9", "")
    )
    context = await browser.new_context(viewport=TABLET)
    await context.grant_permissions(["notifications"], origin=service.url)
    await context.add_init_script(_RECORD_ALARMS)
    page, watch = await sign_in(context, service.url, ward.clinician)
    await open_queue(page, ward.ward_id, 3)
    # Opt in, by keyboard: the page makes no sound and shows nothing until asked.
    await focus_by_tabbing(page, "Sound: off")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Sound: on")).to_have_attribute("aria-pressed", "true")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Desktop alerts: on")).to_be_visible()
    beeps_before = await page.evaluate("window.__tones.length")

    store_spot_checks(service.redis_url, DEVICE, 97, 87)
    bed7 = page.locator("li.row[data-patient='p-keys']")
    await expect(bed7.locator(".rank")).to_have_text("High priority", timeout=30_000)
    await expect(page.locator("#alarm-log")).to_contain_text("High alert: Bed 7")
    notes = await page.evaluate("window.__notes")
    assert len(notes) == 1, notes
    assert notes[0].startswith(f"Oxiward: high alert on ward {ward.ward_id} | High alert: Bed 7 (raised at ")
    # Two bursts of five beeps (clinical-rules.md §5.1) on top of the one confirmation burst.
    assert await tones_since(page, beeps_before) == [880] * 10

    await page.locator("body").focus()
    presses = await focus_by_tabbing(page, "Acknowledge high alert for Bed 7")
    assert presses > 3  # reached through the header and filters, in reading order
    ring, width = await focus_ring(page)
    assert ring != "none", ring
    assert width >= 3, width
    await page.keyboard.press("Enter")
    await expect(bed7.locator(".action-msg")).to_contain_text("Acknowledged by you")
    await expect(bed7.locator(".alert-who")).to_contain_text(f"Acknowledged by {ward.clinician}")
    # The row was redrawn (maybe more than once: the live stream redraws too); the keyboard user
    # ends up back in the row, not thrown to the top of the page. Polled, not sampled mid-redraw.
    await page.wait_for_function(
        "document.activeElement !== null && document.activeElement.closest('li.row') !== null",
        timeout=10_000,
    )

    await focus_by_tabbing(page, "Snooze… high alert for Bed 7")
    await page.keyboard.press("Space")
    dialog = page.get_by_role("dialog", name="Snooze alert")
    await expect(dialog).to_be_visible()
    assert await page.evaluate("document.getElementById('action-dialog').contains(document.activeElement)")
    await page.keyboard.press("ArrowDown")  # 5 -> 10 minutes
    await expect(dialog.get_by_label("10 minutes")).to_be_checked()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(bed7.locator(".action-msg")).to_contain_text("Snoozed by you until")
    await expect(bed7.locator(".alert-who")).to_contain_text(f"snoozed by {ward.clinician}")

    # A medium alert (amber band, 94 %): its own, shorter and lower tone, and a desktop notification.
    beeps_before = await page.evaluate("window.__tones.length")
    store_spot_checks(service.redis_url, MEDIUM, 97, 94)
    bed8 = page.locator("li.row[data-patient='p-med']")
    await expect(bed8.locator(".rank")).to_have_text("Medium priority", timeout=30_000)
    await expect(page.locator("#alarm-log")).to_contain_text("Medium alert: Bed 8")
    notes = await page.evaluate("window.__notes")
    assert len(notes) == 2, notes
    assert notes[1].startswith(
        f"Oxiward: medium alert on ward {ward.ward_id} | Medium alert: Bed 8 (raised at "
    )
    assert await tones_since(page, beeps_before) == [587] * 3  # three beeps (§5.1), not the high tone

    # The other clinician takes Bed 8's alert: it is on the board, but not "mine".
    (medium,) = (await admin.get("/v1/patients/p-med/alerts")).json()["items"]
    ack = await admin.post(
        f"/v1/patients/p-med/alerts/{medium['alert_id']}/acknowledge", json={"by": ward.other_clinician}
    )
    assert ack.status_code == 200, ack.text
    await expect(bed8.locator(".alert-who")).to_contain_text(f"Acknowledged by {ward.other_clinician}")
    assert await shown(page) == ["Bed 7", "Bed 8", "Bed 9"]  # high, medium, no alert
    mine = page.get_by_label("Mine: I acknowledged or snoozed")
    await mine.check()
    await expect(page.locator("#queue > li")).to_have_count(1)
    assert await shown(page) == ["Bed 7"]
    await mine.uncheck()
    await page.get_by_label("Show").select_option(label="High priority only")
    await expect(page.locator("#queue > li")).to_have_count(1)
    assert await shown(page) == ["Bed 7"]
    await page.get_by_label("Show").select_option(label="High and medium")
    await expect(page.locator("#queue > li")).to_have_count(2)
    assert await shown(page) == ["Bed 7", "Bed 8"]
    assert page.url.endswith("?priority=medium")  # kept in the URL: a reload keeps the filter
    await page.reload()
    await expect(page.locator("#queue > li")).to_have_count(2)
    assert await serious_violations(page) == []
    assert watch.problems == []
    await context.close()
