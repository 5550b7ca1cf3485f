"""Composition root: settings → outbox, MQTT publisher, BLE adapter and one session per oximeter.

Several Gateways can share a process and an event loop (the simulator runs many against one
emulated BLE world): nothing here is global except the optional SIGTERM/SIGINT handler, which stops
every Gateway running in that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from typing import Any, Final

from gateway.ble import Backoff, BleAdapter
from gateway.clock import gateway_clock
from gateway.device_session import DeviceSession
from gateway.model import DeviceStatus
from gateway.mqtt_client import GatewayMqtt
from gateway.outbox import Outbox
from gateway.plans import PlanOptions
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S: Final = 10.0
_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
_running: dict[asyncio.AbstractEventLoop, set[Gateway]] = {}


class Gateway:
    """One home gateway: reads the configured oximeters and publishes their readings."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        ble_backend: type | None = None,
        scanner_backend: type | None = None,
    ) -> None:
        self.settings = settings
        self.ble_backend = ble_backend
        self.scanner_backend = scanner_backend
        self.outbox: Outbox | None = None
        self.mqtt: GatewayMqtt | None = None
        self.sessions: list[DeviceSession] = []
        self.ready = asyncio.Event()  # set once everything is started
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def device_statuses(self) -> list[DeviceStatus]:
        return [s.status() for s in self.sessions]

    def stop(self) -> None:
        """Ask run() to finish; safe from any thread and before run() starts."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            loop.call_soon_threadsafe(self._stop.set)
        else:
            self._stop.set()

    async def run(self, *, handle_signals: bool = True) -> None:
        """Run until stop() (or SIGTERM/SIGINT when handle_signals), then shut down cleanly.

        handle_signals=False leaves signals to an embedding program that has its own handlers.
        """
        settings = self.settings
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        outbox = await asyncio.to_thread(
            Outbox, settings.resolved_outbox_path, max_rows=settings.outbox_max_rows
        )
        self.outbox = outbox
        mqtt = GatewayMqtt.from_settings(settings, outbox, status_extra=self._status_extra)
        self.mqtt = mqtt
        adapter = BleAdapter(
            settings.addresses, scan_timeout_s=settings.scan_timeout_s, scanner_backend=self.scanner_backend
        )
        options = PlanOptions(berrymed_berry=settings.berrymed_berry, o2ring_poll_s=settings.o2ring_poll_s)
        self.sessions = [
            DeviceSession(
                device,
                gateway_id=settings.gateway_id,
                outbox=outbox,
                adapter=adapter,
                backoff=Backoff(settings.reconnect_min_s, settings.reconnect_max_s),
                on_stored=mqtt.notify,
                on_change=self._devices_changed,
                client_backend=self.ble_backend,
                model=settings.model,
                continuous_rate_hz=settings.continuous_rate_hz,
                experimental=settings.experimental_protocols,
                options=options,
            )
            for device in settings.device_configs
        ]
        mqtt.set_devices(self.device_statuses())
        tasks: list[asyncio.Task[None]] = []
        try:
            mqtt.start()
            tasks = [asyncio.create_task(s.run(), name=f"oximeter-{s.address}") for s in self.sessions]
            if handle_signals:
                self._install_signals()
            log.info(
                "The gateway has started and is looking for %d oximeter(s); "
                "%d readings are waiting to be sent.",
                len(self.sessions), outbox.depth(),
            )  # fmt: skip
            log.debug("gateway %s: broker %s, outbox %s", settings.gateway_id, settings.mqtt_url,
                      settings.resolved_outbox_path)  # fmt: skip
            self.ready.set()
            stop_waiter = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait([stop_waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stop_waiter.cancel()
            for task in done - {stop_waiter}:
                # A bug, not a BLE problem (those are retried inside): stop and let it show.
                if not task.cancelled() and task.exception() is not None:
                    log.error("The gateway stopped reading an oximeter because of a fault; it will restart.")
                    log.debug("session %s failed", task.get_name(), exc_info=task.exception())
        finally:
            await self._shutdown(tasks, mqtt, outbox)
        for task in tasks:
            if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                raise error

    async def _shutdown(self, tasks: list[asyncio.Task[None]], mqtt: GatewayMqtt, outbox: Outbox) -> None:
        log.info("The gateway is stopping; readings already received are kept.")
        self._remove_signals()
        for session in self.sessions:
            session.stop()
        if tasks:
            # Sessions disconnect and store what they have already received before they return.
            await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
        await asyncio.to_thread(mqtt.stop)
        await asyncio.to_thread(outbox.close)
        log.info("The gateway has stopped.")

    def _status_extra(self) -> dict[str, Any]:
        # Called on the publisher's thread for every heartbeat; reads only.
        return {"clock": gateway_clock().as_status()}

    def _devices_changed(self) -> None:
        if self.mqtt is not None:
            self.mqtt.set_devices(self.device_statuses())

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        gateways = _running.setdefault(loop, set())
        if not gateways:
            try:
                for sig in _SIGNALS:
                    loop.add_signal_handler(sig, _stop_all, loop)
            except (NotImplementedError, RuntimeError, ValueError):
                log.debug("signal handlers unavailable here (not the main thread?)")
        gateways.add(self)

    def _remove_signals(self) -> None:
        loop = asyncio.get_running_loop()
        gateways = _running.get(loop)
        if gateways is None or self not in gateways:
            return
        gateways.discard(self)
        if not gateways:
            del _running[loop]
            for sig in _SIGNALS:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)


def _stop_all(loop: asyncio.AbstractEventLoop) -> None:
    log.info("Signal received: stopping")
    for gateway in list(_running.get(loop, ())):
        gateway.stop()
