"""Private Redis and Mosquitto processes for the test session.

Each runs on a free loopback port in its own temporary directory, never on the
ports a developer's stack uses (6379, 1883), and can be stopped and started
again on the same port so fault tests can take a service away and bring it back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

RESERVED_PORTS = frozenset({1883, 6379, 8883})


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"`{name}` not found: install the Debian package `{package}` "
            "(make test does this when run as root)"
        )
    return path


@dataclass
class ManagedProcess:
    """A server process we own: started on a fixed port, stoppable and restartable."""

    name: str
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:  # pragma: no cover - overridden
        raise NotImplementedError

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        log = (self.workdir / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(self.command(), cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """Stop without a clean shutdown, as a crash or power loss would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@dataclass
class RedisServer(ManagedProcess):
    appendonly: bool = True

    def command(self) -> list[str]:
        return [
            require_binary("redis-server", "redis-server"),
            "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--dir", str(self.workdir),
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec",
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@dataclass
class MosquittoBroker(ManagedProcess):
    """Mosquitto with persistence, so queued QoS 1 messages survive a broker restart."""

    extra_config: str = ""

    def command(self) -> list[str]:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 100\n"
            # As root, Mosquitto drops to the `mosquitto` user, which cannot write a root-owned temp
            # dir: persistence would silently fail and sessions would not survive a restart.
            f"{'user root' if os.geteuid() == 0 else ''}\n"
            f"{self.extra_config}"
        )
        return [require_binary("mosquitto", "mosquitto"), "-c", str(conf)]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"
