"""Redis restarted without persistence loses the consumer groups (NOGROUP on every read): the
delivery and evaluation workers make them again instead of stopping for good."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from api import keys
from api.notify import keys as nkeys
from api.notify.delivery import NotificationDelivery
from tests.api.alerting_support import running_worker, store
from tests.api.factories import DEVICE
from tests.api.factories import enrol as enrol_device
from tests.api.webhook_receiver import LOCAL_TARGETS, receiver
from tests.notify.support import T0, Clock, enrol, raise_alert, set_rota, webhook

pytestmark = pytest.mark.integration


def _wait(done: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_notification_delivery_makes_its_lost_groups_again(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    worker = NotificationDelivery(r, link_base="https://oxiward.example", clock=Clock(T0),
                                  targets=LOCAL_TARGETS, poll_s=0.05)  # fmt: skip
    with receiver() as rx:
        nurse = {"name": "Nurse A", "channels": [webhook(rx.url("/page"))]}
        set_rota(r, {"tiers": [{"recipients": [nurse]}]})
        worker.start()
        try:
            raise_alert(r, "p1", T0)
            _wait(lambda: len(rx.at("/page")) == 1, "the first alert delivered")
            # As after a restart without persistence: every group gone.
            lost = [keys.notifications(n) for n in range(keys.SHARDS) if r.exists(keys.notifications(n))]
            assert all(r.xgroup_destroy(stream, nkeys.GROUP) == 1 for stream in lost)
            enrol(r, "p2", "NW-08")
            raise_alert(r, "p2", T0)
            _wait(lambda: len(rx.at("/page")) >= 2, "an alert delivered after the group was lost")
        finally:
            worker.stop()


async def test_evaluation_makes_its_lost_groups_again(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol_device(r, "p-eval", "north-1", DEVICE, "Bed 1")
    stream = keys.eval_stream(keys.shard_of("p-eval"))
    with running_worker(redis_url, "w-lost"):
        store(r, spo2=97.0)
        _wait(lambda: r.xlen(stream) == 0, "the first reading evaluated")
        assert r.xgroup_destroy(stream, keys.EVAL_GROUP) == 1
        store(r, spo2=86.0)  # red: must still raise
        _wait(lambda: r.hlen(keys.alerts("p-eval")) > 0, "a reading evaluated after the group was lost")
