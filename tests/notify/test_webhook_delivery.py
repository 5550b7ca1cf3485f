"""Webhook delivery against a real local HTTP receiver: signature, retry, dead letter, accept, escalation."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime

import redis

from api import alert_store, keys
from api.notify import keys as nkeys
from api.notify.delivery import NotificationDelivery
from api.notify.technical import DELIVERY_FAILED_RULE
from api.scheduler import AlertScheduler
from api.webhooks.signing import HEADER, verify
from tests.api.rest_support import AUTH, api_client
from tests.api.webhook_receiver import LOCAL_TARGETS, receiver
from tests.notify.support import (
    SECRET,
    T0,
    Clock,
    deliveries,
    enrol,
    first_status,
    pump,
    raise_alert,
    set_ladder,
    set_rota,
    settings,
    webhook,
)


def _worker(r: redis.Redis, clock: Clock, **kw: float) -> NotificationDelivery:
    options = {"base_delay_s": 0.05, **kw}
    return NotificationDelivery(
        r,
        link_base="https://oxiward.example",
        clock=clock,
        targets=LOCAL_TARGETS,
        **options,  # type: ignore[arg-type]
    )


def test_a_webhook_gets_a_signed_minimal_message(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07", nhs="9434765919")
    with receiver() as rx:
        set_rota(
            r, {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [webhook(rx.url("/page"))]}]}]}
        )
        alert_id = raise_alert(r, "p1", T0)
        pump(_worker(r, Clock(T0)), lambda: len(rx.at("/page")) == 1)
        got = rx.at("/page")[0]
    assert verify(got.headers[HEADER.lower()], SECRET, got.body, now=time.time())
    assert not verify(got.headers[HEADER.lower()], SECRET, got.body + b" ", now=time.time())
    assert not verify(got.headers[HEADER.lower()], "whsec_another-secret-000000", got.body, now=time.time())
    body = json.loads(got.body)
    assert body["ref"] == "NW-07"
    assert body["priority"] == "high"
    assert body["alert_id"] == alert_id
    # The tracked link (following it records `read`), with the accept token: no patient id in it.
    assert body["link"] == f"https://oxiward.example/n/{body['delivery_id']}?t={body['accept']['token']}"
    # Minimal privacy: no rule, no NHS number, no patient field beyond the ward-local reference.
    assert "rule" not in body
    assert "patient_id" not in body
    assert b"9434765919" not in got.body
    [d] = deliveries(r, alert_id)
    assert (d["status"], d["attempts"], d["recipient"], d["channel"]) == (
        "delivered",
        "1",
        "Nurse A",
        "webhook",
    )


def test_clinical_privacy_adds_the_rule(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    with receiver() as rx:
        channel = webhook(rx.url("/c"), privacy="clinical")
        set_rota(r, {"tiers": [{"recipients": [{"name": "Dr B", "channels": [channel]}]}]})
        raise_alert(r, "p1", T0)
        pump(_worker(r, Clock(T0)), lambda: len(rx.at("/c")) == 1)
        body = json.loads(rx.at("/c")[0].body)
    assert body["rule"] == "spo2-band"
    assert body["late"] is False


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(redis_url: str) -> None:
    """Each retry waits twice as long as the one before (0.2 s base here, ±10 % jitter): the delivery
    records when its next attempt is due, and the receiver is not called again before then."""
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    due: dict[int, float] = {}  # failed attempt -> its recorded next_attempt_at

    def delivered() -> bool:
        [d] = deliveries(r, alert_id) or [{"status": ""}]
        if d["status"] == "retrying":
            due[int(d["attempts"])] = datetime.fromisoformat(d["next_attempt_at"]).timestamp()
        return d["status"] == "delivered"

    with receiver() as rx:
        rx.scripts["/flaky"] = [500, 503, 500, 200]
        set_rota(
            r, {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [webhook(rx.url("/flaky"))]}]}]}
        )
        alert_id = raise_alert(r, "p1", T0)
        pump(_worker(r, Clock(T0), base_delay_s=0.2), delivered)
        got = rx.at("/flaky")
    assert [g.headers["oxiward-delivery-attempt"] for g in got] == ["1", "2", "3", "4"]
    assert len({g.headers["oxiward-delivery"] for g in got}) == 1  # one delivery, four attempts
    assert sorted(due) == [1, 2, 3]
    waits = [due[n] - got[n - 1].at for n in (1, 2, 3)]  # from the failed attempt to the next's due time
    for n, wait in enumerate(waits, start=1):
        assert 0.9 * 0.2 * 2 ** (n - 1) <= wait <= 1.1 * 0.2 * 2 ** (n - 1) + 0.15, waits
        assert got[n].at >= due[n] - 0.002, "retried before it was due"  # due is kept to the ms
    assert waits[0] < waits[1] < waits[2], waits
    [final] = deliveries(r, alert_id)
    assert (final["attempts"], final["next_attempt_at"]) == ("4", "")
    assert r.xlen(nkeys.DEAD) == 0


def test_a_receiver_that_never_answers_is_dead_lettered_and_raises_a_technical_alert(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    with receiver() as rx:
        rx.scripts["/down"] = [500]
        set_rota(
            r, {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [webhook(rx.url("/down"))]}]}]}
        )
        alert_id = raise_alert(r, "p1", T0)
        worker = _worker(r, Clock(T0), max_attempts=3)
        pump(worker, lambda: first_status(r, alert_id) == "dead-lettered")
        assert len(rx.at("/down")) == 3
    [(_, dead)] = r.xrange(nkeys.DEAD) or []
    assert dead is not None
    assert dead[b"alert_id"] == alert_id.encode()
    assert dead[b"last_error"] == b"HTTP 500"
    technical = [
        a for a in alert_store.SyncAlertStore(r).list_alerts("p1") if a["rule"] == DELIVERY_FAILED_RULE
    ]
    assert len(technical) == 1
    assert technical[0]["technical"] is True
    assert technical[0]["state"] == "open"
    assert technical[0]["priority"] == "medium"
    # The technical alert is on the ward queue's open summary: the browser sees it.
    assert r.hget(keys.open_alerts(keys.shard_of("p1")), "p1") is not None


def _accept_info(body: bytes) -> tuple[str, str]:
    accept = json.loads(body)["accept"]
    return str(accept["path"]), str(accept["token"])


def test_accepting_a_delivery_acknowledges_the_alert_as_the_recipient(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    with receiver() as rx:
        set_rota(r, {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [webhook(rx.url("/a"))]}]}]})
        alert_id = raise_alert(r, "p1", T0)
        pump(_worker(r, Clock(T0)), lambda: len(rx.at("/a")) == 1)
        path, token = _accept_info(rx.at("/a")[0].body)

    async def go() -> None:
        async with api_client(redis_url) as client:
            wrong = await client.post(path, json={"token": "0" * 64}, headers=AUTH)
            assert wrong.status_code == 404
            no_bearer = await client.post(path, json={"token": token})
            assert no_bearer.status_code == 401
            ok = await client.post(path, json={"token": token}, headers=AUTH)
            assert ok.status_code == 200, ok.text
            listed = await client.get(f"/v1/patients/p1/alerts/{alert_id}/deliveries", headers=AUTH)
            assert listed.status_code == 200
            [shown] = listed.json()["items"]
            assert (shown["recipient"], shown["status"], shown["attempts"]) == ("Nurse A", "accepted", 1)
            assert "target" not in shown
            assert SECRET not in listed.text
            assert ok.json()["state"] == "acknowledged"
            assert ok.json()["acknowledged_by"] == "Nurse A"

    asyncio.run(go())
    [alert] = alert_store.SyncAlertStore(r).list_alerts("p1")
    assert alert["alert_id"] == alert_id
    assert alert["state"] == "acknowledged"
    assert alert["acknowledged_by"] == "Nurse A"
    assert deliveries(r, alert_id)[0]["status"] == "accepted"


def test_nobody_accepting_escalates_to_the_next_tier_and_accepting_stops_it(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    set_ladder(r, 60, 120)
    clock = Clock(T0)
    scheduler = AlertScheduler(settings(redis_url), client=r, clock=clock)
    with receiver() as rx:
        set_rota(
            r,
            {
                "tiers": [
                    {"recipients": [{"name": "Nurse A", "channels": [webhook(rx.url("/nurse"))]}]},
                    {"recipients": [{"name": "Dr B", "channels": [webhook(rx.url("/doctor"))]}]},
                ]
            },
        )
        alert_id = raise_alert(r, "p1", T0)
        worker = _worker(r, clock)
        pump(worker, lambda: len(rx.at("/nurse")) == 1)
        clock.advance(seconds=30)
        scheduler.tick()
        worker.run_once()
        assert rx.at("/doctor") == []  # tier 0 still has its time
        clock.advance(seconds=31)
        assert scheduler.tick().events.get("escalated") == 1
        pump(worker, lambda: len(rx.at("/doctor")) == 1)
        escalated = json.loads(rx.at("/doctor")[0].body)
        assert (escalated["kind"], escalated["tier"], escalated["alert_id"]) == ("escalated", 1, alert_id)
        assert len(rx.at("/nurse")) == 1  # tier 1's message goes to tier 1 only
        path, token = _accept_info(rx.at("/doctor")[0].body)

        async def go() -> None:
            async with api_client(redis_url) as client:
                assert (await client.post(path, json={"token": token}, headers=AUTH)).status_code == 200

        asyncio.run(go())
        clock.advance(minutes=30)
        assert "escalated" not in scheduler.tick().events  # accepted: the ladder stops
        worker.run_once()
        assert len(rx.at("/doctor")) == 1
    [alert] = alert_store.SyncAlertStore(r).list_alerts("p1")
    assert alert["acknowledged_by"] == "Dr B"
    assert alert["tier"] == 1
