"""`oxiward demo` end to end: embedded Redis and broker, service, emulated patients; Ctrl-C stops it all.

The demo runs as a user runs it (a subprocess, no REDIS_URL / MQTT_URL); the test reads the URLs and
the token it prints, waits for readings on the ward queue, then sends SIGINT and checks that it
exits 0 with every process it started gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0  # imports and three processes on a loaded 2-core machine
STOP_TIMEOUT_S = 45.0


def _children_of(pid: int) -> set[int]:
    """Every live descendant of `pid`, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Field 4 is the parent pid; the command name before it may contain spaces and ')'.
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class DemoProcess:
    def __init__(self, broker: str) -> None:
        self.broker = broker
        args = ("--patients", "2", "--interval", "0.5", "--port", "0", "--broker", broker)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OXIWARD_")}
        env.pop("REDIS_URL", None)
        env.pop("MQTT_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "oxiward", "demo", *args],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.seen_children: set[int] = set()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output)
            if found:
                return found
            if self.proc.poll() is not None:
                pytest.fail(
                    f"demo exited with {self.proc.returncode} before printing {pattern!r}:\n{self.output}"
                )
            time.sleep(0.1)
        pytest.fail(f"demo did not print {pattern!r} within {timeout} s:\n{self.output}")

    def kill_everything(self) -> None:
        for pid in self.seen_children | _children_of(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def demo(request: pytest.FixtureRequest) -> Iterator[DemoProcess]:
    running = DemoProcess(request.param)
    try:
        yield running
    finally:
        running.kill_everything()  # only does something if the test failed half-way


@pytest.mark.parametrize("demo", ["amqtt", "mosquitto"], indirect=True)
def test_demo_serves_readings_and_stops_cleanly_on_ctrl_c(demo: DemoProcess) -> None:
    started = time.monotonic()
    base = demo.wait_for(r"API docs:\s+(http://127\.0\.0\.1:\d+)/docs", START_TIMEOUT_S).group(1)
    token = demo.wait_for(r"API token:\s+(\S+)", 5).group(1)
    assert f"{base}/ward/demo-ward" in demo.output

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        assert api.get("/readyz").status_code == 200
        assert (
            api.get("/v1/wards/demo-ward/queue", headers={"Authorization": "Bearer wrong"}).status_code == 401
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        items: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            response = api.get("/v1/wards/demo-ward/queue")
            assert response.status_code == 200, response.text
            items = response.json()["items"]
            if len(items) == 2 and all(item["latest"] is not None for item in items):
                break
            time.sleep(0.25)
        else:
            pytest.fail(f"no readings for both emulated patients on the queue: {items}\n{demo.output}")
    refs = sorted(str(item["ref"]) for item in items)
    assert refs == ["Bed 1 (stable)", "Bed 2 (slow-desaturation)"]

    # The banner's clinician account signs in to the ward pages and sees only the demo ward.
    user, password = demo.wait_for(r"sign in as:\s+(\S+) / (\S+)", 5).groups()
    with httpx.Client(base_url=base, timeout=10) as browser:
        signed_in = browser.post("/v1/web/session", json={"username": user, "password": password})
        assert signed_in.status_code in (200, 201), signed_in.text
        assert signed_in.json()["wards"] == ["demo-ward"]
        assert browser.get("/v1/wards/demo-ward/board").status_code == 200

    children = _children_of(demo.proc.pid)
    demo.seen_children = children
    # Redis, the service and the simulator (and Mosquitto when chosen) are child processes.
    assert len(children) >= (4 if demo.broker == "mosquitto" else 3), children

    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(timeout=STOP_TIMEOUT_S) == 0, demo.output
    leftovers = {pid for pid in children if _alive(pid)}
    assert not leftovers, f"processes left running after the demo stopped: {leftovers}"
    assert "Traceback" not in demo.output, demo.output
    assert "oxiward demo: " not in demo.output, demo.output  # every part stopped with status 0
    assert time.monotonic() - started < 90
