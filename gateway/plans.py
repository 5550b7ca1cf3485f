"""What the gateway does on each kind of connected oximeter, once the link is up.

Written against `Port` (the link's view of one connection; gateway/ble.py implements it over bleak),
so no Bluetooth library appears here. Per protocol (ble-protocols.md):
- PLX (§1): read the features; subscribe to continuous (notify) and spot-check (indicate); when the
  device stores measurements (feature bit 2 ⇒ RACP), download them after every connect with
  `01 01`, then, once they are durably in the outbox, delete them on the device with `02 01`;
- BerryMed (§2.2-2.3): subscribe to "Send"; optionally write 0xE1 to switch to BERRY (PI, battery);
- Nonin 3230 (§2.4): subscribe (the link pairs first: encryption required);
- PC-60FW (§2.6): subscribe; it powers off when the finger is out, which ends the link normally;
- O2Ring (§2.5): subscribe, then poll read-sensors (`AA 17 E8 ...`) every `o2ring_poll_s`;
- Jumper (§2.7, experimental): subscribe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from gateway.link_state import UnsupportedDeviceError
from gateway.protocols import berrymed, plx, racp, wellue_o2ring
from gateway.protocols.errors import ProtocolError
from gateway.protocols.registry import ProtocolProfile

log = logging.getLogger(__name__)

RACP_TIMEOUT_S: Final = 60.0  # for the whole download; records come one indication each
# Stored records carry the device's timestamp; they are corrected with the offset learned from a live
# timestamped measurement (gateway/clock.py). A device switched on to take a reading sends one
# within seconds; the download waits that long for it, then goes ahead (times marked uncorrected).
CLOCK_WAIT_S: Final = 30.0
STORAGE_BIT: Final = 1 << 2  # PLX Features bit 2: measurement storage for spot-checks (§1.8)
TIMESTAMP_BIT: Final = 1 << 3  # PLX Features bit 3: timestamp for spot-check measurements


class Port(Protocol):
    """One live connection, as the plans see it."""

    name: str  # how to name the device in logs (its label, else its address)

    def has(self, uuid: str) -> bool: ...

    async def read(self, uuid: str) -> bytes: ...

    async def write(self, uuid: str, data: bytes, *, response: bool = True) -> None: ...

    async def subscribe(self, uuid: str) -> None:
        """Notifications / indications of `uuid` go to the device's reading pipeline."""

    async def subscribe_raw(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        """Notifications / indications of `uuid` go to `callback` (control-point answers)."""

    async def flushed(self) -> None:
        """Wait until everything received so far is stored in the outbox."""

    async def clock_known(self, timeout_s: float) -> bool:
        """Wait (up to `timeout_s`) until the device's clock offset is known; whether it is."""


@dataclass(frozen=True, slots=True)
class PlanOptions:
    berrymed_berry: bool = False
    o2ring_poll_s: float = 1.0


class LinkPlan:
    """Default: subscribe to the profile's notify characteristics, then just listen."""

    def __init__(self, profile: ProtocolProfile, options: PlanOptions) -> None:
        self.profile = profile
        self.options = options
        self.stores_readings = False  # keeps readings taken while away (and will hand them over)
        self.powers_off_when_idle = profile.key == "wellue-pc60fw"  # §2.6: disconnect is normal
        self.protocol = profile.protocols[0]  # frame protocol the device mostly sends

    async def setup(self, port: Port) -> None:
        subscribed = [uuid for uuid in self.profile.notify_uuids if port.has(uuid)]
        if not subscribed:
            raise UnsupportedDeviceError(f"no {self.profile.key} measurement characteristic offered")
        for uuid in subscribed:
            await port.subscribe(uuid)

    async def run(self, port: Port) -> None:
        """Work to do while connected (polling, downloads); returns or sleeps until cancelled."""
        await asyncio.Event().wait()


class PlxPlan(LinkPlan):
    def __init__(self, profile: ProtocolProfile, options: PlanOptions) -> None:
        super().__init__(profile, options)
        self._answers: asyncio.Queue[bytes] = asyncio.Queue()
        self.timestamps = False

    async def setup(self, port: Port) -> None:
        if port.has(plx.FEATURES_UUID):
            try:
                features = plx.decode_features(await port.read(plx.FEATURES_UUID))
                self.stores_readings = bool(features.supported_features & STORAGE_BIT)
                self.timestamps = bool(features.supported_features & TIMESTAMP_BIT)
            except ProtocolError as exc:
                log.debug("%s sent PLX features we cannot read: %s", port.name, exc)
        self.stores_readings = self.stores_readings and port.has(plx.RACP_UUID)
        # Continuous first when offered: the stream the device mostly sends (status `protocol`).
        self.protocol = plx.CONTINUOUS if port.has(plx.CONTINUOUS_UUID) else plx.SPOT_CHECK
        await super().setup(port)
        if self.stores_readings:
            await port.subscribe_raw(plx.RACP_UUID, self._answers.put_nowait)

    async def run(self, port: Port) -> None:
        if self.stores_readings:
            await self.download(port)
        await super().run(port)

    async def _request(self, port: Port, request: bytes) -> racp.RacpResponse:
        while not self._answers.empty():
            self._answers.get_nowait()  # a stale answer from an aborted request
        await port.write(plx.RACP_UUID, request)
        async with asyncio.timeout(RACP_TIMEOUT_S):
            return racp.decode_response(await self._answers.get())

    async def download(self, port: Port) -> None:
        """Fetch the stored records (they arrive on 0x2A5E), store them, then clear the device."""
        try:
            count = await self._request(port, racp.report_number_of_records())
            if isinstance(count, racp.RacpRecordCount) and count.count == 0:
                return
            if self.timestamps and not await port.clock_known(CLOCK_WAIT_S):
                log.debug("%s: no live timestamp yet; stored records keep the device's time", port.name)
            if isinstance(count, racp.RacpRecordCount):
                log.info("Oximeter %s is sending %d readings it kept while it was out of reach.",
                         port.name, count.count)  # fmt: skip
            done = await self._request(port, racp.report_stored_records())
            if not isinstance(done, racp.RacpResponseCode) or not (done.succeeded or done.no_records):
                log.warning("Oximeter %s could not send the readings it kept; it keeps them and the "
                            "gateway asks again next time it connects.", port.name)  # fmt: skip
                return
            if done.no_records:
                return
            await port.flushed()  # durable in the outbox before the device may forget them
            deleted = await self._request(port, racp.delete_stored_records())
            log.info("Oximeter %s: the readings it kept are saved%s.", port.name,
                     "" if isinstance(deleted, racp.RacpResponseCode) and deleted.succeeded
                     else " (the oximeter did not clear them; copies sent again are ignored)")  # fmt: skip
        except TimeoutError:
            log.warning("Oximeter %s did not finish sending the readings it kept; the gateway asks "
                        "again next time it connects.", port.name)  # fmt: skip
        except ProtocolError as exc:
            log.warning("Oximeter %s answered the request for its stored readings in a way the gateway "
                        "does not understand; they stay on the oximeter.", port.name)  # fmt: skip
            log.debug("RACP answer from %s: %s", port.name, exc)


class BerryMedPlan(LinkPlan):
    async def setup(self, port: Port) -> None:
        await super().setup(port)
        if self.options.berrymed_berry and port.has(berrymed.WRITE_UUID):
            # §2.3: 0xE1 switches to BERRY (adds PI and battery); the stream parser follows either.
            await port.write(berrymed.WRITE_UUID, berrymed.CMD_SWITCH_TO_BERRY)
            self.protocol = berrymed.BERRY


class O2RingPlan(LinkPlan):
    """The ring never streams on its own: ask for the sensors every poll interval (§2.5)."""

    async def run(self, port: Port) -> None:
        request = wellue_o2ring.read_sensors_request()
        while True:
            for chunk in wellue_o2ring.chunks(request):
                await port.write(wellue_o2ring.WRITE_UUID, chunk)
            await asyncio.sleep(self.options.o2ring_poll_s)


_PLANS: Final[dict[str, type[LinkPlan]]] = {
    "plx": PlxPlan,
    "berrymed": BerryMedPlan,
    "wellue-o2ring": O2RingPlan,
}


def plan_for(profile: ProtocolProfile, options: PlanOptions) -> LinkPlan:
    return _PLANS.get(profile.key, LinkPlan)(profile, options)
