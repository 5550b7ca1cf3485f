"""Helpers for the browser tests: the service as its own process, users and patients through the
REST API, Chromium through Playwright, the axe-core scan, screenshots, emulated oximeters."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from api.contract import validate_status
from api.store import Checked, Outcome, ReadingStore
from gateway.payload import encode_status, status_topic
from tests.api import factories
from tests.api.rest_support import RETENTION_MS, store_readings

# Re-exported: the browser tests take the running chain from here with the rest of their helpers.
from tests.chain_support import Service as Service
from tests.chain_support import gateway_reading as gateway_reading
from tests.chain_support import until as until

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "test-artefacts" / "web"
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
TOKEN = "web-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"
# docs/services.md "Browser": headless Debian Chromium as root, quiet on the closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = ViewportSize(width=1280, height=720)
TABLET = ViewportSize(width=820, height=1180)  # a tablet held upright
TICK = 0.05  # emulated oximeter frame interval (s), as in tests/e2e


@dataclass(frozen=True)
class Ward:
    ward_id: str
    clinician: str
    other_clinician: str


async def make_ward(admin: httpx.AsyncClient, *patients: tuple[str, str, str]) -> Ward:
    """A ward with two clinicians (same ward grant) and the given (patient id, ref, device) patients."""
    ward = f"w-{uuid.uuid4().hex[:6]}"
    names = []
    for who in ("nurse", "doctor"):
        name = f"{who}.{uuid.uuid4().hex[:6]}"
        body = {"username": name, "password": PASSWORD, "role": "clinician", "wards": [ward]}
        r = await admin.post("/v1/admin/users", json=body)
        assert r.status_code == 201, r.text
        names.append(name)
    for patient_id, ref, device in patients:
        body = {"patient_id": patient_id, "ref": ref, "devices": [device] if device else []}
        r = await admin.post(f"/v1/wards/{ward}/patients", json=body)
        assert r.status_code == 201, r.text
    return Ward(ward, names[0], names[1])


def store_spot_checks(redis_url: str, device: str, *spo2: float) -> None:
    """Spot-check readings through the ingest path's own store; the service's worker evaluates them."""
    store_history(redis_url, device, [(v, timedelta(seconds=len(spo2) - i)) for i, v in enumerate(spo2)])


def store_history(redis_url: str, device: str, readings: Sequence[tuple[float, timedelta]]) -> None:
    """Spot checks measured this long ago, stored now (as a gateway's outbox replays them)."""
    now = datetime.now(UTC)
    payloads = [
        factories.payload(spo2=v, device=device, measured_at=now - ago, seq=i)
        for i, (v, ago) in enumerate(readings)
    ]
    store_readings(redis_url, payloads)


def store_gateway_status(redis_url: str, gateway_id: str, device: str, outbox_depth: int) -> None:
    """The gateway's status message (online, the oximeter connected) through the ingest's store."""
    topic = status_topic(gateway_id)
    raw = encode_status(
        gateway_id,
        "online",
        at=datetime.now(UTC),
        outbox_depth=outbox_depth,
        devices=[{"address": device, "state": "connected"}],
    )
    client = redis.Redis.from_url(redis_url)
    try:
        store = ReadingStore(client, retention_ms=RETENTION_MS)
        assert store.store_batch([Checked(topic, raw, validate_status(topic, raw))]) == [Outcome.STATUS]
    finally:
        client.close()


async def launch(playwright: Any) -> Browser:
    browser: Browser = await playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, chromium_sandbox=False
    )
    return browser


class PageWatch:
    """Everything a page did that a test should fail on: script errors, CSP refusals, other origins."""

    def __init__(self, page: Page, origin: str) -> None:
        self.problems: list[str] = []
        #: Console errors a test provokes on purpose (e.g. the 409 of a lost race), by substring.
        self.expected: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        page.on("console", self._console)
        page.on("request", lambda req: self._request(req.url, origin))

    def _console(self, msg: Any) -> None:
        url = str(msg.location.get("url", ""))
        # The sign-in page asks whether a session exists; "no" is a 401 the browser logs.
        if msg.type != "error" or ("401" in msg.text and url.endswith("/v1/web/session")):
            return
        if not any(e in f"{msg.text} at {url}" for e in self.expected):
            self.problems.append(f"console error: {msg.text} at {url}")

    def _request(self, url: str, origin: str) -> None:
        if not url.startswith(origin):
            self.problems.append(f"request to another origin: {url}")


async def sign_in(context: BrowserContext, base: str, username: str) -> tuple[Page, PageWatch]:
    page = await context.new_page()
    watch = PageWatch(page, base)
    await page.goto(base + "/ward")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Your wards").wait_for()
    return page, watch


async def open_queue(page: Page, ward_id: str, patients: int = 1) -> None:
    """From the ward list to the ward's queue, once it shows its patients."""
    await page.get_by_role("link", name=f"Ward {ward_id}").click()
    await expect(page.locator("#queue > li")).to_have_count(patients)


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings for the page as it is now.

    Evaluated through the DevTools protocol, which the page's CSP does not govern, so the scan
    needs no exception in the CSP under test.
    """
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path
