"""The queue from the keyboard alone (tab order, a visible focus ring, Enter and Space on actions, focus
kept across live redraws), and the opt-in sound and desktop notification for a new high alert."""

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

DEVICE = "C0:FF:EE:E6:04:01"

# Records what the page asks of the browser's sound and notification APIs (the edge a headless
# browser cannot show us): the page's own code runs unchanged on top.
_RECORD_ALARMS = """
window.__notes = [];
window.__beeps = 0;
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options) { super(title, options); window.__notes.push(title + " | " + options.body); }
};
const realOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.__beeps += 1;
  return realOscillator.call(this);
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


async def test_keyboard_only_acknowledge_and_snooze_with_sound_and_desktop_alert(
    service: Service, admin: httpx.AsyncClient, browser: Browser
) -> None:
    ward = await make_ward(admin, ("p-keys", "Bed 7", DEVICE))
    context = await browser.new_context(viewport=TABLET)
    await context.grant_permissions(["notifications"], origin=service.url)
    await context.add_init_script(_RECORD_ALARMS)
    page, watch = await sign_in(context, service.url, ward.clinician)
    await open_queue(page, ward.ward_id)
    # Opt in, by keyboard: the page makes no sound and shows nothing until asked.
    await focus_by_tabbing(page, "Sound: off")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Sound: on")).to_have_attribute("aria-pressed", "true")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Desktop alerts: on")).to_be_visible()
    beeps_before = await page.evaluate("window.__beeps")

    store_spot_checks(service.redis_url, DEVICE, 97, 87)
    await expect(page.locator(".rank")).to_have_text("High priority", timeout=30_000)
    await expect(page.locator("#alarm-log")).to_contain_text("High alert: Bed 7")
    notes = await page.evaluate("window.__notes")
    assert len(notes) == 1, notes
    assert f"ward {ward.ward_id}" in notes[0], notes
    assert "Bed 7" in notes[0], notes
    # Two bursts of five beeps (clinical-rules.md §5.1) on top of the one confirmation burst.
    assert await page.evaluate("window.__beeps") - beeps_before == 10

    await page.locator("body").focus()
    presses = await focus_by_tabbing(page, "Acknowledge high alert for Bed 7")
    assert presses > 3  # reached through the header and filters, in reading order
    ring, width = await focus_ring(page)
    assert ring != "none", ring
    assert width >= 3, width
    await page.keyboard.press("Enter")
    await expect(page.locator(".action-msg")).to_contain_text("Acknowledged by you")
    await expect(page.locator(".alert-who")).to_contain_text(f"Acknowledged by {ward.clinician}")
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
    await expect(page.locator(".action-msg")).to_contain_text("Snoozed by you until")
    await expect(page.locator(".alert-who")).to_contain_text(f"snoozed by {ward.clinician}")
    await page.get_by_label("Mine: alerts I acknowledged or snoozed").check()
    await expect(page.locator("#queue > li")).to_have_count(1)
    assert await serious_violations(page) == []
    assert watch.problems == []
    await context.close()
