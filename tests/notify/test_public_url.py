"""OXIWARD_API_PUBLIC_URL: the base of the links in alert notifications. Without it the service says
so once at start and keeps the links relative; `oxiward demo` sets it to the address it serves."""

from __future__ import annotations

import json
import logging

import pytest
import redis
from pydantic import SecretStr, ValidationError

from api.notify.service import from_settings
from api.settings import ApiSettings
from oxiward.demo import service_env
from oxiward.settings_errors import describe
from tests.api.webhook_receiver import receiver
from tests.notify.support import T0, enrol, pump, raise_alert, set_rota, webhook

UNSET = "OXIWARD_API_PUBLIC_URL is not set"


def _settings(redis_url: str, public_url: str | None = None) -> ApiSettings:
    return ApiSettings(
        redis_url=redis_url,
        mqtt_url="mqtt://127.0.0.1:9",
        api_tokens=SecretStr("t" * 20),
        public_url=public_url,
        webhook_allow_private=True,  # the receiver listens on 127.0.0.1
    )


def _link_sent(redis_url: str, public_url: str | None) -> str:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    with receiver() as rx:
        set_rota(r, {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [webhook(rx.url("/p"))]}]}]})
        raise_alert(r, "p1", T0)
        worker = from_settings(_settings(redis_url, public_url))
        try:
            pump(worker, lambda: len(rx.at("/p")) == 1)
        finally:
            worker.stop()
        return str(json.loads(rx.at("/p")[0].body)["link"])


def test_the_service_bases_its_links_on_the_public_url(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="api.notify.service"):
        link = _link_sent(redis_url, "https://oxiward.example/ward-service/")
    assert link.startswith("https://oxiward.example/ward-service/n/")  # one slash: the base is trimmed
    assert UNSET not in caplog.text


def test_without_a_public_url_links_are_relative_and_the_service_says_so_once(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="api.notify.service"):
        link = _link_sent(redis_url, None)
    assert link.startswith("/n/")
    assert len([rec for rec in caplog.records if UNSET in rec.getMessage()]) == 1


@pytest.mark.parametrize(
    "bad",
    [
        "oxiward.example",
        "ftp://oxiward.example",
        "https://nurse:hunter2-secret@oxiward.example",
        "https://oxiward.example/?key=hunter2-secret",
        "https:///no-host",
    ],
)
def test_a_public_url_that_is_not_a_plain_web_address_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _settings("redis://127.0.0.1:1/0", bad)
    said = describe(caught.value, ApiSettings, "OXIWARD_API_")  # what `oxiward api` prints
    assert "OXIWARD_API_PUBLIC_URL: must look like https://oxiward.example" in said
    assert "hunter2" not in said


def test_an_empty_public_url_is_unset() -> None:
    assert _settings("redis://127.0.0.1:1/0", "").public_url is None


def test_the_demo_sets_the_public_url_to_the_address_it_serves() -> None:
    env = service_env(
        {"OXIWARD_API_PUBLIC_URL": "https://elsewhere.example"},
        "redis://127.0.0.1:1/0",
        "mqtt://127.0.0.1:9",
        "t" * 20,
        "t" * 20,
        18123,
        embedded_broker=True,
    )
    assert env["OXIWARD_API_PUBLIC_URL"] == "http://127.0.0.1:18123"
    assert env["OXIWARD_API_PORT"] == "18123"
    assert ApiSettings(**{  # the service takes it as it is given
        "redis_url": env["OXIWARD_API_REDIS_URL"], "mqtt_url": env["OXIWARD_API_MQTT_URL"],
        "api_tokens": SecretStr(env["OXIWARD_API_API_TOKENS"]), "public_url": env["OXIWARD_API_PUBLIC_URL"],
    }).public_url == "http://127.0.0.1:18123"  # fmt: skip
