"""Session-wide real services: a private Redis and a private Mosquitto on free ports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import MosquittoBroker, RedisServer

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_MQTT = ROOT / "tests" / "golden" / "mqtt" / "v1"
# The shared reference data lives beside the repository (../shared); CI lays a copy there too.
BLE_VECTORS = ROOT.parent / "shared" / "data" / "ble-vectors.json"


def load_golden(kind: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Golden wire-contract files, optionally only those whose name starts with `kind`."""
    out = []
    for path in sorted(GOLDEN_MQTT.glob("*.json")):
        if kind is None or path.name.startswith(kind):
            out.append((path.stem, json.loads(path.read_text())))
    return out


def load_ble_vectors(protocol_prefix: str = "") -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(BLE_VECTORS.read_text())
    return [v for v in vectors if v["protocol"].startswith(protocol_prefix)]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(name="redis", workdir=tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(name="mosquitto", workdir=tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database for each test on the shared private server."""
    import redis

    redis_server.start()  # a fault test may have stopped it
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of the test's own, for tests that stop and restart it."""
    broker = MosquittoBroker(name="mosquitto", workdir=tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, for tests that stop and restart it."""
    server = RedisServer(name="redis", workdir=tmp_path)
    server.start()
    yield server
    server.stop()
