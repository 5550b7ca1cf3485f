"""Webhooks end to end: subscriptions over REST, events from real readings and alerts, delivered by
the delivery worker to a real HTTP receiver, signed, retried after 500s, then dead-lettered."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

import httpx
import redis

from api import keys
from api.webhooks import keys as wkeys
from api.webhooks.delivery import WebhookDelivery
from api.webhooks.signing import verify
from tests.api import factories
from tests.api.integration_support import admit, api_key
from tests.api.rest_support import AUTH, api_client, evaluate, store_readings
from tests.api.webhook_receiver import LOCAL_TARGETS, Receiver, receiver
from tests.services import free_port


@contextmanager
def delivering(redis_url: str, **options: Any) -> Iterator[WebhookDelivery]:
    client = redis.Redis.from_url(redis_url)
    options.setdefault("targets", LOCAL_TARGETS)
    options.setdefault("base_delay_s", 0.05)
    worker = WebhookDelivery(client, poll_s=0.05, timeout_s=5.0, **options)
    worker.run_once()  # consumer groups and reading cursors exist before anything happens
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        client.close()


async def _subscribe(client: httpx.AsyncClient, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    headers = extra.pop("headers", AUTH)
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": events, **extra}, headers=headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def independent_verify(header: str, secret: str, body: bytes) -> bool:
    """The receiver's check exactly as docs/api.md tells integrators to write it (not our code)."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    t = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - t) <= 300 and hmac.compare_digest(expected, parts["v1"])


def _events(rx: Receiver, path: str, secret: str) -> list[dict[str, Any]]:
    out = []
    for req in rx.at(path):
        assert independent_verify(req.headers["oxiward-signature"], secret, req.body)
        assert verify(req.headers["oxiward-signature"], secret, req.body, time.time())
        assert not verify(req.headers["oxiward-signature"], secret, req.body + b" ", time.time())
        assert not verify(
            req.headers["oxiward-signature"], secret, req.body, time.time() + 3600
        )  # replayed later
        event = json.loads(req.body)
        assert req.headers["oxiward-event"] == event["type"]
        assert req.headers["oxiward-event-id"] == event["id"]
        out.append(event)
    return out


async def test_readings_and_alerts_reach_the_subscribed_ward_only(redis_url: str) -> None:
    with receiver() as rx:
        async with api_client(redis_url) as client:
            all_events = ["reading.created", "alert.raised", "alert.updated"]
            north = await _subscribe(client, rx.url("/north"), all_events, ward_ids=["north-1"])
            south = await _subscribe(client, rx.url("/south"), all_events, ward_ids=["south-2"])
            alerts_only = await _subscribe(client, rx.url("/alerts"), ["alert.raised"])
            pid = (await admit(client, "north-1", "Bed 1", devices=[factories.DEVICE]))["patient_id"]
            with delivering(redis_url):
                store_readings(redis_url, [factories.payload(spo2=88.0, seq=1)])
                assert evaluate(redis_url) == 1
                rx.wait_for(lambda: len(rx.at("/north")) >= 2 and len(rx.at("/alerts")) >= 1)
                alert_id = (await client.get(f"/v1/patients/{pid}/alerts", headers=AUTH)).json()["items"][0][
                    "alert_id"
                ]
                ack = await client.post(
                    f"/v1/patients/{pid}/alerts/{alert_id}/acknowledge", json={"by": "rn-1"}, headers=AUTH
                )
                assert ack.status_code == 200
                rx.wait_for(lambda: len(rx.at("/north")) >= 3)
                # Markers: the outbox is fanned out in order, so once these pings arrive, every
                # earlier event has been offered to /south and /alerts too.
                for marker in (south, alerts_only):
                    await client.post(f"/v1/webhooks/{marker['subscription_id']}/ping", headers=AUTH)
                rx.wait_for(lambda: _has_ping(rx, "/south") and _has_ping(rx, "/alerts"))
    events = _events(rx, "/north", north["secret"])
    kinds = sorted(e["type"] for e in events)
    assert kinds == ["alert.raised", "alert.updated", "reading.created"]
    reading = next(e for e in events if e["type"] == "reading.created")
    assert reading["data"]["patient_id"] == pid
    assert reading["data"]["ward_id"] == "north-1"
    assert reading["data"]["reading"]["spo2"] == 88.0
    assert reading["id"] == "evt_r_" + reading["data"]["reading"]["reading_id"]
    raised = next(e for e in events if e["type"] == "alert.raised")
    assert raised["data"]["alert"]["alert_id"] == alert_id
    assert raised["data"]["change"] == "raised"
    updated = next(e for e in events if e["type"] == "alert.updated")
    assert updated["data"]["change"] == "acknowledged"
    assert updated["data"]["alert"]["acknowledged_by"] == "rn-1"
    assert [json.loads(r.body)["type"] for r in rx.at("/south")] == ["ping"]
    assert [json.loads(r.body)["type"] for r in rx.at("/alerts")] == ["alert.raised", "ping"]


def _has_ping(rx: Receiver, path: str) -> bool:
    return any(json.loads(r.body)["type"] == "ping" for r in rx.at(path))


async def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(redis_url: str) -> None:
    """Retries wait 0.2 s, 0.4 s, 0.8 s (±10 %; 10 s, 20 s, 40 s … in service): never sooner."""
    with receiver() as rx:
        rx.scripts["/flaky"] = [500, 503, 500, 200]
        async with api_client(redis_url) as client:
            sub = await _subscribe(client, rx.url("/flaky"), ["alert.raised"])
            with delivering(redis_url, base_delay_s=0.2):
                ping = await client.post(f"/v1/webhooks/{sub['subscription_id']}/ping", headers=AUTH)
                rx.wait_for(lambda: len(rx.at("/flaky")) >= 4)
                await _wait_stats(client, sub["subscription_id"], "delivered", 1)
                stats = (await client.get(f"/v1/webhooks/{sub['subscription_id']}", headers=AUTH)).json()[
                    "stats"
                ]
    attempts = rx.at("/flaky")
    assert ping.status_code == 202
    assert [r.headers["oxiward-delivery-attempt"] for r in attempts] == ["1", "2", "3", "4"]
    assert len({r.headers["oxiward-delivery"] for r in attempts}) == 1  # one delivery, four attempts
    assert {json.loads(r.body)["id"] for r in attempts} == {ping.json()["event_id"]}
    gaps = [b.at - a.at for a, b in pairwise(attempts)]
    assert all(gap >= 0.9 * 0.2 * 2**n for n, gap in enumerate(gaps)), gaps  # doubling, not constant
    assert gaps == sorted(gaps), gaps
    assert stats["delivered"] == 1
    assert stats["failed_attempts"] == 3
    assert stats["last_status"] == 200


async def _wait_stats(client: httpx.AsyncClient, sid: str, name: str, value: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stats = (await client.get(f"/v1/webhooks/{sid}", headers=AUTH)).json()["stats"]
        if stats[name] >= value:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never reached {value}: {stats}")


async def test_after_the_last_attempt_the_delivery_is_dead_lettered(redis_url: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}/nothing-listens"
    with receiver() as rx:
        rx.scripts["/down"] = [500]
        async with api_client(redis_url) as client:
            down = await _subscribe(client, rx.url("/down"), ["alert.raised"])
            gone = await _subscribe(client, closed, ["alert.raised"])
            with delivering(redis_url, max_attempts=3):
                for sub in (down, gone):
                    await client.post(f"/v1/webhooks/{sub['subscription_id']}/ping", headers=AUTH)
                for sub in (down, gone):
                    await _wait_stats(client, sub["subscription_id"], "dead_lettered", 1)
            letters = (
                await client.get(f"/v1/webhooks/{down['subscription_id']}/dead-letters", headers=AUTH)
            ).json()
            refused = (
                await client.get(f"/v1/webhooks/{gone['subscription_id']}/dead-letters", headers=AUTH)
            ).json()
    assert len(rx.at("/down")) == 3
    [letter] = letters["items"]
    assert letter["attempts"] == 3
    assert letter["last_status"] == 500
    assert letter["event_type"] == "ping"
    assert letter["payload"]["type"] == "ping"
    [other] = refused["items"]
    assert other["last_status"] == 0
    assert other["last_error"].startswith("connection failed")


async def test_subscriptions_are_validated_owned_and_paused(redis_url: str) -> None:
    with receiver() as rx:
        async with api_client(redis_url) as client:
            bad = [
                {"url": "ftp://example.org/x", "events": ["alert.raised"]},
                {"url": "https://user:pw@example.org/x", "events": ["alert.raised"]},
                {"url": "https://example.org/x", "events": []},
                {"url": "https://example.org/x", "events": ["reading.deleted"]},
            ]
            refused = [await client.post("/v1/webhooks", json=b, headers=AUTH) for b in bad]
            integrator = await api_key(client, "integrator", ["north-1"])
            not_granted = await client.post(
                "/v1/webhooks",
                json={"url": rx.url("/x"), "events": ["alert.raised"], "ward_ids": ["south-2"]},
                headers=integrator,
            )
            theirs = await _subscribe(client, rx.url("/theirs"), ["alert.raised"], headers=integrator)
            mine = await _subscribe(client, rx.url("/mine"), ["alert.raised"])
            their_list = (await client.get("/v1/webhooks", headers=integrator)).json()
            peek = await client.get(f"/v1/webhooks/{mine['subscription_id']}", headers=integrator)
            paused = await client.patch(
                f"/v1/webhooks/{mine['subscription_id']}", json={"active": False}, headers=AUTH
            )
            new_secret = (
                await client.post(f"/v1/webhooks/{theirs['subscription_id']}/secret", headers=integrator)
            ).json()
            with delivering(redis_url):
                for sub in (mine, theirs):
                    await client.post(f"/v1/webhooks/{sub['subscription_id']}/ping", headers=AUTH)
                rx.wait_for(lambda: len(rx.at("/theirs")) >= 1)  # pings go out in order: mine was skipped
            deleted = await client.delete(f"/v1/webhooks/{mine['subscription_id']}", headers=AUTH)
            after = await client.get(f"/v1/webhooks/{mine['subscription_id']}", headers=AUTH)
    assert [r.status_code for r in refused] == [422, 422, 422, 422]
    assert not_granted.status_code == 403
    assert [s["subscription_id"] for s in their_list["items"]] == [theirs["subscription_id"]]
    assert "secret" not in their_list["items"][0]
    assert peek.status_code == 404
    assert paused.json()["active"] is False
    assert rx.at("/mine") == []  # paused: the ping was not delivered
    [req] = rx.at("/theirs")
    assert independent_verify(req.headers["oxiward-signature"], new_secret["secret"], req.body)
    assert not independent_verify(req.headers["oxiward-signature"], theirs["secret"], req.body)
    assert deleted.status_code == 204
    assert after.status_code == 404


async def test_deliveries_follow_the_owners_current_ward_grants(redis_url: str) -> None:
    with receiver() as rx:
        async with api_client(redis_url) as client:
            created = await client.post(
                "/v1/admin/api-keys",
                json={"name": "epr", "role": "integrator", "wards": ["north-1"]},
                headers=AUTH,
            )
            key = {"Authorization": f"Bearer {created.json()['api_key']}"}
            sub = await _subscribe(client, rx.url("/epr"), ["reading.created"], headers=key)
            pid = (await admit(client, "north-1", "Bed 1", devices=[factories.DEVICE]))["patient_id"]
            principal = created.json()["principal_id"]
            with delivering(redis_url):
                store_readings(redis_url, [factories.payload(seq=1)])
                rx.wait_for(lambda: len(rx.at("/epr")) == 1)
                revoked = await client.delete(f"/v1/admin/principals/{principal}/wards/north-1", headers=AUTH)
                store_readings(redis_url, [factories.payload(seq=2)])
                _wait_pumped(redis_url, pid)  # the reading's event is in the outbox ...
                await client.post(f"/v1/webhooks/{sub['subscription_id']}/ping", headers=AUTH)
                rx.wait_for(lambda: _has_ping(rx, "/epr"))  # ... and was fanned out before the ping
    assert revoked.status_code in (200, 204), revoked.text
    # The grant is gone: the second reading was not delivered.
    assert [json.loads(r.body)["type"] for r in rx.at("/epr")] == ["reading.created", "ping"]


def _wait_pumped(redis_url: str, patient_id: str) -> None:
    """Until the webhook cursor of the patient is at the newest reading."""
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        rows: list[Any] = r.xrevrange(keys.readings(patient_id), count=1) or []
        [(newest, _)] = rows
        deadline = time.monotonic() + 30
        while r.hget(wkeys.CURSORS, patient_id) != newest:
            assert time.monotonic() < deadline, "readings were not pumped to the outbox"
            time.sleep(0.05)
    finally:
        r.close()


async def test_the_service_delivers_webhooks_itself_where_its_worker_runs(redis_url: str) -> None:
    # No test-started delivery worker: the app's lifespan must run one alongside the evaluator.
    with receiver() as rx:
        async with api_client(redis_url, run_worker=True) as client:
            sub = await _subscribe(client, rx.url("/svc"), ["alert.raised"])
            ping = await client.post(f"/v1/webhooks/{sub['subscription_id']}/ping", headers=AUTH)
            rx.wait_for(lambda: _has_ping(rx, "/svc"))
    assert ping.status_code == 202
    (first,) = rx.at("/svc")
    assert json.loads(first.body)["id"] == ping.json()["event_id"]


async def test_every_delivery_attempt_is_audited_as_a_disclosure_by_the_owner(redis_url: str) -> None:
    with receiver() as rx:
        path = "/epr?token=in-the-url"  # a credential in the URL must not reach the audit log
        rx.scripts[path] = [500, 200]  # the first attempt fails: it is a disclosure all the same
        async with api_client(redis_url) as client:
            created = await client.post(
                "/v1/admin/api-keys",
                json={"name": "epr", "role": "integrator", "wards": ["north-1"]},
                headers=AUTH,
            )
            owner = created.json()["principal_id"]
            key = {"Authorization": f"Bearer {created.json()['api_key']}"}
            sub = await _subscribe(client, rx.url(path), ["reading.created"], headers=key)
            pid = (await admit(client, "north-1", "Bed 1", devices=[factories.DEVICE]))["patient_id"]
            with delivering(redis_url):
                store_readings(redis_url, [factories.payload(seq=1)])
                rx.wait_for(lambda: len(rx.at(path)) == 2)
                await client.post(f"/v1/webhooks/{sub['subscription_id']}/ping", headers=key)
                rx.wait_for(lambda: _has_ping(rx, path))
            audited = await client.get("/v1/audit", params={"patient": pid, "actor": owner}, headers=AUTH)
            pings = await client.get("/v1/audit", params={"actor": owner, "limit": 1000}, headers=AUTH)
    assert audited.status_code == 200, audited.text
    entries = audited.json()["items"]
    event_id = json.loads(rx.at(path)[0].body)["id"]
    assert [(e["action"], e["method"], e["route"], e["status"], e["outcome"]) for e in entries] == [
        ("disclose", "POST", "webhook:reading.created", 500, "error"),
        ("disclose", "POST", "webhook:reading.created", 200, "ok"),
    ]
    for attempt, entry in enumerate(entries, start=1):
        assert (entry["actor"], entry["role"]) == (owner, "integrator")
        assert (entry["patients"], entry["wards"]) == ([pid], ["north-1"])
        assert f"event_id={event_id}" in entry["target"]
        assert f"subscription_id={sub['subscription_id']}" in entry["target"]
        assert f"attempt={attempt}" in entry["target"]
    # The ping names no patient; nothing of the URL, the secret or the body is kept.
    [ping] = [e for e in pings.json()["items"] if e["route"] == "webhook:ping"]
    assert (ping["patients"], ping["outcome"]) == ([], "ok")
    recorded = json.dumps([e for e in pings.json()["items"] if e["action"] == "disclose"])
    assert "in-the-url" not in recorded
    assert sub["secret"] not in recorded
    assert "127.0.0.1" not in recorded
