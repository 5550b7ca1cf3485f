"""PUT/GET /v1/wards/{ward}/rota: validation, secrets never returned in full, every version kept with
who set it and when, 409 over a version not seen, every change audited."""

from __future__ import annotations

import asyncio
from typing import Any

import redis

from api.notify import keys as nkeys
from tests.api.rest_support import AUTH, api_client
from tests.api.security_support import bearer, password_token, user
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


def test_each_put_is_a_version_with_who_and_when_and_the_history_keeps_them_masked(redis_url: str) -> None:
    hook = {"kind": "webhook", "url": HOOK, "secret": SECRET}
    mail = {"kind": "apprise", "url": MAIL}

    async def go() -> tuple[Any, Any, Any]:
        async with api_client(redis_url) as client:
            await user(client, "ward.admin", "ward-administrator", ["north-1"])
            admin = bearer(await password_token(client, "ward.admin"))
            first = await client.put("/v1/wards/north-1/rota", json=_rota(hook), headers=AUTH)
            second = await client.put("/v1/wards/north-1/rota", json=_rota(hook, mail), headers=admin)
            history = await client.get("/v1/wards/north-1/rota/history", headers=AUTH)
            return first, second, history

    first, second, history = asyncio.run(go())
    assert (first.status_code, second.status_code, history.status_code) == (200, 200, 200)
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert second.json()["set_by"] == "ward.admin"  # a person: their name; the principal id beside it
    assert second.json()["principal"].startswith("u-")
    assert first.json()["set_by"].startswith("bootstrap:")  # a system: its principal id
    items = history.json()["items"]
    assert [i["version"] for i in items] == [2, 1]  # newest first
    assert [i["set_by"] for i in items] == [second.json()["set_by"], first.json()["set_by"]]
    assert all(i["set_at"] for i in items)
    assert len(items[0]["rota"]["tiers"][0]["recipients"][0]["channels"]) == 2
    for secret in (SECRET, "hunter2-mail-pw", "url-token-42"):
        assert secret not in history.text
        # Not kept in Redis either: an old secret does not linger in the history.
        raw = redis.Redis.from_url(redis_url).xrange(nkeys.rota_history("north-1"))
        assert secret.encode() not in b"".join(v for _, fields in raw for v in fields.values())


def test_a_put_over_a_version_not_seen_is_refused(redis_url: str) -> None:
    hook = {"kind": "webhook", "url": HOOK, "secret": SECRET}

    async def go() -> list[Any]:
        async with api_client(redis_url) as client:
            put = [
                await client.put("/v1/wards/north-1/rota", json=_rota(hook) | {"if_version": v}, headers=AUTH)
                for v in (0, 0, 1)
            ]
            return [*put, await client.get("/v1/wards/north-1/rota/history", headers=AUTH)]

    created, stale, current, history = asyncio.run(go())
    assert created.status_code == 200
    assert stale.status_code == 409
    assert stale.json()["detail"] == "the rota is at version 1; re-read it before changing it"
    assert current.status_code == 200
    assert current.json()["version"] == 2
    assert [i["version"] for i in history.json()["items"]] == [2, 1]  # the refused put left nothing


def test_every_rota_change_is_in_the_audit_log(redis_url: str) -> None:
    hook = {"kind": "webhook", "url": HOOK, "secret": SECRET}

    async def go() -> Any:
        async with api_client(redis_url) as client:
            await client.put("/v1/wards/north-1/rota", json=_rota(hook), headers=AUTH)
            await client.put("/v1/wards/north-1/rota", json=_rota(hook) | {"if_version": 0}, headers=AUTH)
            return await client.get("/v1/audit", params={"ward": "north-1"}, headers=AUTH)

    audit = asyncio.run(go())
    assert audit.status_code == 200
    puts = [e for e in audit.json()["items"] if e["method"] == "PUT"]
    assert sorted((e["route"], e["outcome"]) for e in puts) == [
        ("/v1/wards/{ward_id}/rota", "ok"),
        ("/v1/wards/{ward_id}/rota", "refused"),
    ]
    assert all(e["actor"] != "anonymous" for e in puts)
    assert SECRET not in audit.text
