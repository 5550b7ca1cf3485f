"""`oxiward demo`: the whole system on one machine, stopped cleanly by Ctrl-C or SIGTERM.

Parts, started in this order and stopped in the reverse one:
1. Redis: REDIS_URL if set, else an embedded Valkey (oxiward.brokers);
2. MQTT broker: MQTT_URL if set, else Mosquitto if installed, else amqtt in this process;
3. the service, `oxiward api`, as a child process (ingest and evaluation worker on);
4. the simulator, `oxiward simulate`, which enrols the patients through the REST API and runs
   one emulated oximeter and one gateway per patient.
The children are the same commands an operator runs; the demo only wires them together.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from oxiward.brokers import (
    RESERVED_PORTS,
    Server,
    StartError,
    free_port,
    port_open,
    start_broker,
    start_redis,
)
from oxiward.settings_errors import UsageError

_LOG = logging.getLogger("oxiward.demo")
DEMO_USER = "demo.clinician"  # signs in to the ward page; its password is printed once
READY_TIMEOUT_S = 90.0  # imports and first connections on a loaded 2-core machine
STOP_TIMEOUT_S = 20.0
_BROKER_ACCOUNT_VARIABLES = (
    "OXIWARD_API_MQTT_USERNAME",
    "OXIWARD_API_MQTT_PASSWORD",
    "OXIWARD_API_MQTT_SHARED_GROUP",
    "OXIWARD_SIM_MQTT_PASSWORD",
)


class Child:
    """An `oxiward` subcommand in its own process group, so Ctrl-C reaches only the demo,
    which then stops the parts in order."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter running our own module
            [sys.executable, "-m", "oxiward", *args], env=env, stdin=subprocess.DEVNULL, process_group=0
        )

    def exited(self) -> int | None:
        return self.proc.poll()

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return  # already reported by the watcher
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            late = f"did not stop within {STOP_TIMEOUT_S:.0f} s; killed it"
            print(f"oxiward demo: `oxiward {self.name}` {late}", file=sys.stderr)
            self.proc.kill()
            code = self.proc.wait()
        if code != 0:
            print(f"oxiward demo: `oxiward {self.name}` stopped with status {code}", file=sys.stderr)


class _Stop(Exception):
    """Ctrl-C or SIGTERM arrived while starting."""


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stop_requested = threading.Event()
        self.workdir = Path(tempfile.mkdtemp(prefix="oxiward-demo-"))
        self.servers: list[Server] = []
        self.children: list[Child] = []

    # -- life cycle ---------------------------------------------------------------------------
    def run(self) -> int:
        try:
            self._start()
            return self._watch()
        except _Stop:
            return 0
        finally:
            self._shutdown()

    def _start(self) -> None:
        redis_url = os.environ.get("REDIS_URL") or self._server(lambda: start_redis(self.workdir)).url
        self._check_stop()
        mqtt_url = os.environ.get("MQTT_URL", "")
        broker_name = "external"
        if not mqtt_url:
            broker = self._server(lambda: start_broker(self.workdir, self.args.broker))
            mqtt_url, broker_name = broker.url, broker.name
        self._check_stop()
        embedded_broker = not os.environ.get("MQTT_URL")
        given_tokens = os.environ.get("OXIWARD_API_API_TOKENS", "")
        token = given_tokens.split(",")[0].strip() or secrets.token_urlsafe(24)
        port = self._api_port()
        base = f"http://127.0.0.1:{port}"
        tokens = given_tokens or token
        env = service_env(
            dict(os.environ), redis_url, mqtt_url, tokens, token, port, embedded_broker=embedded_broker
        )
        if broker_name == "amqtt":  # the service's alert-topic publisher too (its default is 5)
            env["OXIWARD_API_MQTT_PROTOCOL"] = "3.1.1"
        self.children.append(Child("api", ["api"], env))
        self._wait_until(lambda: _get(f"{base}/readyz", token)[0] == 200, "the service to become ready")
        sim_args = [
            "simulate", "--patients", str(self.args.patients), "--interval", str(self.args.interval),
            "--mqtt-url", mqtt_url, "--enrol-url", base, "--ward", self.args.ward,
            "--state-dir", str(self.workdir / "sim"),
        ]  # fmt: skip
        sim_env = dict(env)
        if broker_name == "amqtt":  # amqtt speaks MQTT 3.1.1 only; the gateways' default is 5
            sim_env["OXIWARD_GATEWAY_MQTT_PROTOCOL"] = "3.1.1"
        self.children.append(Child("simulate", sim_args, sim_env))
        queue = f"{base}/v1/wards/{self.args.ward}/queue"
        self._wait_until(
            lambda: _queue_size(queue, token) >= self.args.patients, "the patients to be enrolled"
        )
        password = secrets.token_urlsafe(12)
        user = {"username": DEMO_USER, "password": password, "role": "clinician", "wards": [self.args.ward]}
        status, _ = _post(f"{base}/v1/admin/users", token, user)
        if status not in (201, 409):
            raise UsageError(f"could not create the demo clinician (HTTP {status})")
        self._banner(base, token, generated=not given_tokens, password=password if status == 201 else None)

    def _watch(self) -> int:
        while not self.stop_requested.wait(0.5):
            for child in self.children:
                code = child.exited()
                if code is not None:
                    print(f"oxiward demo: `oxiward {child.name}` exited with status {code}; stopping",
                          file=sys.stderr)  # fmt: skip
                    return 1
        print("\nStopping the demo...", flush=True)
        return 0

    def _shutdown(self) -> None:
        # Simulator first (nothing new is produced), then the service, then broker and Redis.
        for child in reversed(self.children):
            child.stop()
        for server in reversed(self.servers):
            try:
                server.stop()
            except Exception:  # one part failing to stop must not leave the others running
                _LOG.warning("stopping %s failed", server.name, exc_info=True)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------------
    def _server(self, start: Any) -> Server:
        server: Server = start()
        self.servers.append(server)
        return server

    def _check_stop(self) -> None:
        if self.stop_requested.is_set():
            raise _Stop

    def _api_port(self) -> int:
        port: int = self.args.port
        if port == 0:
            return free_port()
        if port_open(port):
            chosen = free_port()
            print(f"Port {port} is taken; the API uses {chosen} instead.", flush=True)
            return chosen
        return port

    def _wait_until(self, condition: Any, what: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not condition():
            self._check_stop()
            for child in self.children:
                if child.exited() is not None:
                    raise UsageError(f"`oxiward {child.name}` exited (status {child.exited()}) "
                                     f"while waiting for {what}; see its messages above")  # fmt: skip
            if time.monotonic() > deadline:
                raise UsageError(f"gave up after {READY_TIMEOUT_S:.0f} s waiting for {what}")
            self.stop_requested.wait(0.25)

    def _banner(self, base: str, token: str, *, generated: bool, password: str | None) -> None:
        shown = token if generated else "(the first of OXIWARD_API_API_TOKENS)"
        lines = [
            "",
            "Oxiward demo is running.",
            f"  Ward queue page: {base}/ward/{self.args.ward}",
            f"    sign in as:    {DEMO_USER} / {password or '(the password printed when it was created)'}",
            f"  API docs:        {base}/docs",
            f"  API token:       {shown} (administrator; for the API and its docs)",
            f"  Patients:        {self.args.patients} emulated, readings every {self.args.interval:g} s",
            "Press Ctrl-C to stop.",
            "",
        ]
        print("\n".join(lines), flush=True)


def service_env(
    env: dict[str, str],
    redis_url: str,
    mqtt_url: str,
    tokens: str,
    token: str,
    port: int,
    *,
    embedded_broker: bool,
) -> dict[str, str]:
    """The children's environment: the operator's, wired to the demo's parts."""
    env.setdefault("OXIWARD_LOG_LEVEL", "WARNING")  # keep the terminal for the banner
    env.setdefault("OXIWARD_API_LOG_FORMAT", "text")  # a person reads this terminal, not a log shipper
    if embedded_broker:  # our broker is anonymous and (amqtt) knows no $share
        for name in _BROKER_ACCOUNT_VARIABLES:
            env.pop(name, None)
    env.update({
        "OXIWARD_API_REDIS_URL": redis_url, "OXIWARD_API_MQTT_URL": mqtt_url,
        "OXIWARD_API_API_TOKENS": tokens, "OXIWARD_API_HOST": "127.0.0.1",
        "OXIWARD_API_PORT": str(port), "OXIWARD_API_RUN_INGEST": "true", "OXIWARD_API_RUN_WORKER": "true",
        # Links in alert notifications open the page this demo serves (docs/notifications.md).
        "OXIWARD_API_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "OXIWARD_SIM_API_TOKEN": token,
    })  # fmt: skip
    return env


def _post(url: str, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - our URL
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - our URL
            return int(resp.status), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return int(err.code), None


def _get(url: str, token: str) -> tuple[int, Any]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - our URL
    try:
        with urllib.request.urlopen(req, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return 0, None


def _queue_size(url: str, token: str) -> int:
    status, body = _get(url, token)
    return len(body.get("items", [])) if status == 200 and isinstance(body, dict) else 0


def run_demo(args: argparse.Namespace) -> int:
    if not 1 <= args.patients <= 50:
        raise UsageError("--patients must be between 1 and 50")
    if args.interval <= 0:
        raise UsageError("--interval must be more than 0 seconds")
    if args.port != 0 and (args.port in RESERVED_PORTS - {8000} or not 1 <= args.port <= 65535):
        raise UsageError(f"--port {args.port} is not usable for the demo's API")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    demo = Demo(args)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        demo.stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print("Starting the Oxiward demo (Redis, broker, service, emulated patients)...", flush=True)
        return demo.run()
    except StartError as exc:
        raise UsageError(str(exc)) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
