"""Read receipts: every message carries its delivery's tracked link; following it records `read`
(webhook to a real local HTTP receiver, e-mail through a real local SMTP server), never over
`accepted`, and stops retries; a wrong link is one plain 404. Acknowledging on the ward page cancels
what is still being retried; a signed-in clinician accepts in their own name."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import redis

from api import alert_store
from api.notify import keys as nkeys
from api.notify.delivery import NotificationDelivery
from tests.api.rest_support import AUTH, api_client
from tests.api.security_support import bearer, password_token, user
from tests.api.webhook_receiver import LOCAL_TARGETS, Receiver, receiver
from tests.notify.smtp import mail_text, mail_url, smtp_server
from tests.notify.support import (
    T0,
    WARD,
    Clock,
    deliveries,
    enrol,
    first_status,
    pump,
    raise_alert,
    set_rota,
    webhook,
)

BASE = "https://oxiward.example"
LINK = re.compile(r"https://oxiward\.example(/n/([0-9a-f]{32})\?t=([0-9a-f]{64}))")
NOT_VALID = "This link is not valid, or it has expired."


def _worker(r: redis.Redis, **kw: Any) -> NotificationDelivery:
    return NotificationDelivery(
        r, link_base=BASE, clock=Clock(T0), base_delay_s=0.05, targets=LOCAL_TARGETS, **kw
    )


def _nurse(channel: dict[str, Any]) -> dict[str, Any]:
    return {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [channel]}]}]}


def _link(text: str) -> tuple[str, str, str]:
    """(path, delivery id, token) of the tracked link in a message."""
    found = LINK.search(text)
    assert found is not None, text
    return found.group(1), found.group(2), found.group(3)


def _get(redis_url: str, *paths: str) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        async with api_client(redis_url) as client:
            return [await client.get(p) for p in paths]  # no bearer: the token is the proof

    return asyncio.run(go())


def _webhook_delivered(r: redis.Redis, path: str = "/page") -> tuple[str, dict[str, Any]]:
    """A high alert whose webhook message reached the receiver: (alert id, message body)."""
    enrol(r, "p1", "NW-07")
    with receiver() as rx:
        set_rota(r, _nurse(webhook(rx.url(path))))
        alert_id = raise_alert(r, "p1", T0)
        pump(_worker(r), lambda: first_status(r, alert_id) == "delivered")
        return alert_id, json.loads(rx.at(path)[0].body)


def test_following_a_webhook_link_records_read_once_and_opens_the_patient_page(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    alert_id, body = _webhook_delivered(r)
    path, did, token = _link(body["link"])
    assert (did, token) == (body["delivery_id"], body["accept"]["token"])
    [first, again] = _get(redis_url, path, path)
    assert first.status_code == 303
    # The patient page, with the delivery in the fragment (never sent to a server) for one-click accept.
    assert first.headers["location"] == f"/ward/{WARD}/patients/p1#accept={alert_id}.{did}.{token}"
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    assert again.status_code == 303
    [d] = deliveries(r, alert_id)
    assert (d["status"], d["delivered_at"]) == ("read", "2026-03-02T09:00:00.000Z")  # both kept
    read_at = d["read_at"]
    time.sleep(0.01)
    _get(redis_url, path)
    assert deliveries(r, alert_id)[0]["read_at"] == read_at  # the first time stands

    async def listed() -> Any:
        async with api_client(redis_url) as client:
            return await client.get(f"/v1/patients/p1/alerts/{alert_id}/deliveries", headers=AUTH)

    [shown] = asyncio.run(listed()).json()["items"]
    assert (shown["status"], shown["read_at"]) == ("read", read_at)


def test_a_wrong_or_unknown_link_is_one_plain_404_and_records_nothing(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    alert_id, body = _webhook_delivered(r)
    _, did, token = _link(body["link"])
    other = "f" * 32
    answers = _get(
        redis_url,
        f"/n/{did}?t={'0' * 64}",  # wrong token
        f"/n/{did}?t={token[:-1]}",  # truncated
        f"/n/{did}",  # none
        f"/n/{other}?t={token}",  # another delivery's id with this token
        f"/n/{did.upper()}?t={token}",
    )
    for answer in answers:
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/plain")
        assert answer.text == NOT_VALID  # nothing about the delivery, the ward or the patient
    [d] = deliveries(r, alert_id)
    assert d["status"] == "delivered"
    assert "read_at" not in d


def test_an_accepted_delivery_stays_accepted_when_its_link_is_followed(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    alert_id, body = _webhook_delivered(r)
    path, _, token = _link(body["link"])

    async def accept_then_follow() -> list[int]:
        async with api_client(redis_url) as client:
            accepted = await client.post(body["accept"]["path"], json={"token": token}, headers=AUTH)
            followed = await client.get(path)
            return [accepted.status_code, followed.status_code]

    assert asyncio.run(accept_then_follow()) == [200, 303]
    [d] = deliveries(r, alert_id)
    assert d["status"] == "accepted"  # never downgraded to read
    assert d["accepted_at"] <= d["read_at"]  # but it was opened too


def test_an_emailed_link_records_read(redis_url: str) -> None:
    """SMS and e-mail can tell no more than `sent`; the link they carry tells `read`."""
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    with smtp_server() as (inbox, port):
        set_rota(r, _nurse({"kind": "apprise", "url": mail_url(port)}))
        alert_id = raise_alert(r, "p1", T0)
        pump(_worker(r), lambda: len(inbox.mails) == 1)
    assert first_status(r, alert_id) == "sent"
    path, did, _ = _link(mail_text(inbox.mails[0][1]))
    assert did == deliveries(r, alert_id)[0]["delivery_id"]
    [followed] = _get(redis_url, path)
    assert followed.status_code == 303
    [d] = deliveries(r, alert_id)
    assert (d["status"], d["sent_at"]) == ("read", "2026-03-02T09:00:00.000Z")
    assert d["read_at"]


@contextmanager
def _retrying(r: redis.Redis) -> Iterator[tuple[Receiver, str, NotificationDelivery]]:
    """A webhook receiver that answers 500, and an alert whose delivery to it is being retried."""
    enrol(r, "p1", "NW-07")
    with receiver() as rx:
        rx.scripts["/down"] = [500]
        set_rota(r, _nurse(webhook(rx.url("/down"))))
        alert_id = raise_alert(r, "p1", T0)
        worker = _worker(r)
        pump(worker, lambda: first_status(r, alert_id) == "retrying")
        assert deliveries(r, alert_id)[0]["next_attempt_at"]  # the retry announced
        yield rx, alert_id, worker


def test_a_link_followed_while_a_webhook_is_retried_stops_the_retries(redis_url: str) -> None:
    """The receiver answered 500 but passed the message on: its link was followed, so it arrived."""
    r = redis.Redis.from_url(redis_url)
    with _retrying(r) as (rx, alert_id, worker):
        path, _, _ = _link(json.loads(rx.at("/down")[0].body)["link"])
        _get(redis_url, path)
        time.sleep(0.2)  # the retry is due (base delay 0.05 s)
        for _ in range(5):
            worker.run_once()
        assert len(rx.at("/down")) == 1
    assert first_status(r, alert_id) == "read"
    assert deliveries(r, alert_id)[0]["next_attempt_at"] == ""  # no retry follows: none announced
    assert r.zcard(nkeys.RETRY) == 0
    assert r.xlen(nkeys.DEAD) == 0


def test_acknowledging_on_the_ward_page_cancels_the_retries(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    with _retrying(r) as (rx, alert_id, worker):

        async def acknowledge() -> int:
            async with api_client(redis_url) as client:
                path = f"/v1/patients/p1/alerts/{alert_id}/acknowledge"
                return (await client.post(path, json={"by": "nurse-jb"}, headers=AUTH)).status_code

        assert asyncio.run(acknowledge()) == 200
        pump(worker, lambda: first_status(r, alert_id) == "cancelled")
        assert len(rx.at("/down")) == 1  # no attempt after the acknowledgement
    assert deliveries(r, alert_id)[0]["next_attempt_at"] == ""  # nor one announced
    assert r.xlen(nkeys.DEAD) == 0


def test_accepting_a_retried_delivery_announces_no_next_attempt(redis_url: str) -> None:
    """The receiver answered 500 but its person accepted the alert all the same."""
    r = redis.Redis.from_url(redis_url)
    with _retrying(r) as (rx, alert_id, worker):
        body = json.loads(rx.at("/down")[0].body)

        async def accept() -> int:
            async with api_client(redis_url) as client:
                token = {"token": body["accept"]["token"]}
                return (await client.post(body["accept"]["path"], json=token, headers=AUTH)).status_code

        assert asyncio.run(accept()) == 200
        time.sleep(0.2)  # the retry is due (base delay 0.05 s)
        for _ in range(5):
            worker.run_once()
        assert len(rx.at("/down")) == 1
    [d] = deliveries(r, alert_id)
    assert (d["status"], d["next_attempt_at"]) == ("accepted", "")


def test_a_signed_in_clinician_accepts_in_their_own_name(redis_url: str) -> None:
    """The patient page opened from an SMS or e-mail link accepts with the clinician's session."""
    r = redis.Redis.from_url(redis_url)
    alert_id, body = _webhook_delivered(r)
    path, did, token = _link(body["link"])

    async def go() -> httpx.Response:
        async with api_client(redis_url) as client:
            await user(client, "nurse.jb", "clinician", [WARD])
            nurse = bearer(await password_token(client, "nurse.jb"))
            assert (await client.get(path)).status_code == 303
            accept = f"/v1/alerts/deliveries/{did}/accept"
            return await client.post(accept, json={"token": token}, headers=nurse)

    accepted = asyncio.run(go())
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["acknowledged_by"] == "nurse.jb"  # not the rota's "Nurse A": a person signed in
    [alert] = alert_store.SyncAlertStore(r).list_alerts("p1")
    assert (alert["state"], alert["acknowledged_by"]) == ("acknowledged", "nurse.jb")
    [d] = deliveries(r, alert_id)
    assert d["status"] == "accepted"
    assert d["read_at"] <= d["accepted_at"]
