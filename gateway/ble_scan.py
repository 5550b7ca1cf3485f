"""Scanning: the gateway's one radio, shared by every device link, and `oxiward gateway scan`.

With gateway/ble.py this is the only code that touches bleak. Rules from ble-protocols.md §3.3:
- one scan at a time per gateway and no scan while connecting (pitfall 3, org.bluez.Error.InProgress):
  every link shares one `BleAdapter`, whose lock covers scanning and connecting;
- scan without a service filter: BerryMed BM1000C does not advertise its service (§2.2), and the
  Nonin / Wellue units advertise only their names; the allow-list is applied by address;
- connect with the scanned `BLEDevice`, never a bare address (pitfall 4).
Problems of the radio itself (no adapter, switched off, no D-Bus) are said once for the whole
gateway, not once per oximeter, and said again only after they went away and came back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from gateway.advice import Problem
from gateway.protocols.registry import select_by_advertisement

log = logging.getLogger(__name__)

SEEN_FRESH_S: Final = 5.0  # an advertisement this recent is good enough to connect to


@dataclass(frozen=True, slots=True)
class Sighting:
    """One advertisement of a device: enough to connect and to choose a protocol candidate."""

    device: BLEDevice
    name: str | None
    rssi: int | None
    service_uuids: tuple[str, ...]
    seen_at: float  # time.monotonic()

    @property
    def address(self) -> str:
        return self.device.address.upper()


def _sighting(device: BLEDevice, adv: AdvertisementData) -> Sighting:
    name = adv.local_name or device.name
    return Sighting(device, name, adv.rssi, tuple(adv.service_uuids), time.monotonic())


class BleAdapter:
    """Shared discovery (one scan serves every waiting link) and the scan/connect lock."""

    def __init__(
        self,
        addresses: Iterable[str],
        *,
        scan_timeout_s: float,
        scanner_backend: type[BaseBleakScanner] | None = None,
    ) -> None:
        self.addresses = frozenset(a.upper() for a in addresses)
        self.scan_timeout_s = scan_timeout_s
        self.scanner_backend = scanner_backend
        self.lock = asyncio.Lock()
        self.last_seen: dict[str, Sighting] = {}  # kept for the status topic (RSSI)
        self._fresh: dict[str, Sighting] = {}
        self._waiting: dict[str, int] = {}
        self._problem: Problem | None = None
        self._problem_from = ""  # "scan" or "connect": a working scan does not prove connecting works

    def _match(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        address = device.address.upper()
        if address not in self.addresses:
            return False  # not one of this gateway's oximeters: ignored
        sighting = _sighting(device, adv)
        self._fresh[address] = self.last_seen[address] = sighting
        return address in self._waiting  # end the scan early for any link that is waiting

    def _take_fresh(self, address: str) -> Sighting | None:
        sighting = self._fresh.pop(address, None)
        if sighting is not None and time.monotonic() - sighting.seen_at <= SEEN_FRESH_S:
            return sighting
        return None

    async def _scan(self, seconds: float) -> None:
        if self.scanner_backend is None:
            await BleakScanner.find_device_by_filter(self._match, timeout=seconds)
        else:
            backend = self.scanner_backend
            await BleakScanner.find_device_by_filter(self._match, timeout=seconds, backend=backend)
        self.clear_problem("scan")  # the radio scans

    async def find(self, address: str) -> Sighting | None:
        """The device's latest advertisement within scan_timeout_s, or None if it is not around.

        Raises what the Bluetooth stack raises when the radio itself cannot scan.
        """
        address = address.upper()
        self._waiting[address] = self._waiting.get(address, 0) + 1
        deadline = time.monotonic() + self.scan_timeout_s
        try:
            while (sighting := self._take_fresh(address)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                async with self.lock:
                    if (sighting := self._take_fresh(address)) is not None:
                        return sighting
                    await self._scan(remaining)
            return sighting
        finally:
            self._waiting[address] -= 1
            if not self._waiting[address]:
                del self._waiting[address]

    def report(self, problem: Problem, technical: str, *, during: str) -> None:
        """A problem of the radio itself (`during` "scan" or "connect"): WARNING the first time,
        DEBUG while it lasts."""
        if problem != self._problem:
            self._problem, self._problem_from = problem, during
            log.warning("%s", problem.message(""))
        log.debug("Bluetooth adapter problem during %s: %s", during, technical)

    def clear_problem(self, proven_by: str) -> None:
        """A scan or a connection worked; a connection proves the whole radio works."""
        if self._problem is not None and (proven_by == "connect" or self._problem_from == proven_by):
            log.info("The gateway's Bluetooth is working again.")
            self._problem = None


@dataclass(frozen=True, slots=True)
class ScanResult:
    """A device seen by `oxiward gateway scan`, with the protocol the gateway would use for it."""

    address: str
    name: str | None
    rssi: int | None
    profile: str | None  # profile key, or None: not an oximeter this gateway recognises
    note: str


async def discover(
    seconds: float, *, experimental: bool = False, scanner_backend: type[BaseBleakScanner] | None = None
) -> list[ScanResult]:
    """Every device advertising during `seconds`, strongest first, with its protocol candidate.

    The candidate comes from the advertisement (services, else name, else MAC prefix); once
    connected the gateway confirms it by the services the device really offers.
    """
    if scanner_backend is None:
        found = await BleakScanner.discover(seconds, return_adv=True)
    else:
        found = await BleakScanner.discover(seconds, return_adv=True, backend=scanner_backend)
    results = []
    for device, adv in found.values():
        sighting = _sighting(device, adv)
        profile = select_by_advertisement(
            name=sighting.name,
            address=sighting.address,
            service_uuids=sighting.service_uuids,
            experimental=experimental,
        )
        results.append(
            ScanResult(
                sighting.address, sighting.name, sighting.rssi,
                profile.key if profile else None, profile.note if profile else "",
            )
        )  # fmt: skip
    return sorted(results, key=lambda r: (r.profile is None, -(r.rssi if r.rssi is not None else -999)))
