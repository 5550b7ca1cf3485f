"""PUT/GET /v1/wards/{ward}/rota: validation, and secrets never returned in full."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.rest_support import AUTH, api_client
from tests.notify.support import SECRET

MAIL = "mailtos://nurse:hunter2-mail-pw@smtp.example.nhs.uk/?to=north-1@example.nhs.uk&from=oxiward@example.nhs.uk"
HOOK = "https://pager.example.nhs.uk/hooks/oxiward?key=url-token-42"


def _rota(*channels: dict[str, Any]) -> dict[str, Any]:
    return {"tiers": [{"recipients": [{"name": "Nurse A", "channels": list(channels)}]}], "mqtt": None}


def _put_get(redis_url: str, body: dict[str, Any]) -> tuple[Any, Any]:
    async def go() -> tuple[Any, Any]:
        async with api_client(redis_url) as client:
            put = await client.put("/v1/wards/north-1/rota", json=body, headers=AUTH)
            get = await client.get("/v1/wards/north-1/rota", headers=AUTH)
            return put, get

    return asyncio.run(go())


def test_a_rota_is_stored_and_shown_with_its_secrets_masked(redis_url: str) -> None:
    hook = {"kind": "webhook", "url": HOOK, "secret": SECRET}
    mail = {"kind": "apprise", "url": MAIL, "privacy": "clinical"}
    put, get = _put_get(redis_url, _rota(hook, mail))
    assert put.status_code == 200, put.text
    assert get.status_code == 200
    for response in (put, get):
        assert SECRET not in response.text
        assert "hunter2-mail-pw" not in response.text
        assert "url-token-42" not in response.text
    shown = get.json()
    assert shown["version"] == 1
    [hook_shown, mail_shown] = shown["rota"]["tiers"][0]["recipients"][0]["channels"]
    assert hook_shown["url"].startswith("https://pager.example.nhs.uk/")
    assert hook_shown["privacy"] == "minimal"
    assert mail_shown["url"].startswith("mailtos://nurse:")
    assert "smtp.example.nhs.uk" in mail_shown["url"]
    assert mail_shown["privacy"] == "clinical"


def test_a_ward_without_a_rota_shows_version_0(redis_url: str) -> None:
    async def go() -> Any:
        async with api_client(redis_url) as client:
            return await client.get("/v1/wards/north-1/rota", headers=AUTH)

    got = asyncio.run(go())
    assert got.status_code == 200
    assert got.json()["version"] == 0
    assert got.json()["rota"]["tiers"] == []


def test_bad_channels_are_refused_without_echoing_their_urls(redis_url: str) -> None:
    cases = [
        {"kind": "webhook", "url": "ftp://files.example/secret-path-1", "secret": SECRET},
        {"kind": "webhook", "url": "https://pager.example/secret-path-2"},  # no signing secret
        {"kind": "webhook", "url": "https://pager.example/secret-path-3", "secret": "short"},
        {"kind": "apprise", "url": "nosuchservice://secret-path-4"},
        {"kind": "apprise", "url": MAIL, "secret": SECRET},
        {"kind": "sms-by-hand", "url": "https://x.example/secret-path-5"},
    ]

    async def go() -> list[Any]:
        async with api_client(redis_url) as client:
            return [await client.put("/v1/wards/north-1/rota", json=_rota(c), headers=AUTH) for c in cases]

    for n, put in enumerate(asyncio.run(go())):
        assert put.status_code == 422, (n, put.text)
        assert "secret-path" not in put.text
        assert "hunter2" not in put.text
