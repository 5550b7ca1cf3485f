"""Emulated Wellue/Viatom O2Ring / Checkme O2: polled request/response, no streaming.

ble-protocols.md §2.5: service 14839AC4-...; the host writes requests to 8B00ACE7-... (in chunks of
at most 20 bytes) and the ring answers on 0734594A-... (notify) with `55 status ~status block len
payload CRC-8`, split over as many notifications as the ATT MTU needs (the 21-byte read-sensors
answer takes two at the default MTU). No bonding. The sensor ticks through the scenario; a poll
reads the latest tick's sample.

Answered commands: 0x17 read sensors (13-byte payload, §2.5), 0x15 ping (empty payload), 0x14 info
(a JSON object; its keys here are illustrative, the doc gives only "JSON payload, ~264 B").
Anything else, and any request with a bad complement or CRC, gets no answer (counted).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any, Unpack

from bumble.gatt import Service
from bumble.link import LocalLink

from emulator.scenarios import Sample
from emulator.vendors.device import VendorOptions, VendorPeripheral
from emulator.vendors.encode_wellue import (
    O2RING_READ_SENSORS,
    O2RingRequest,
    encode_o2ring_response,
    encode_o2ring_sensors,
    o2ring_sensors_for,
    parse_o2ring_request,
)
from emulator.vendors.gatt import advertising_data, write_characteristic

__all__ = ["O2RING_NOTIFY", "O2RING_SERVICE", "O2RING_WRITE", "EmulatedO2Ring"]

O2RING_SERVICE = "14839ac4-7d7e-415c-9a42-167340cf2339"
O2RING_NOTIFY = "0734594a-a8e7-4b1a-a6b1-cd5243059a57"
O2RING_WRITE = "8b00ace7-eb0b-49b0-bbe9-9aee0a26e1a3"
_INFO, _PING = 0x14, 0x15


class EmulatedO2Ring(VendorPeripheral):
    kind = "wellue-o2ring"
    manufacturer = "Viatom"
    default_model = "O2Ring"
    default_firmware = "2.5.0"
    notify_uuid = O2RING_NOTIFY

    def __init__(
        self,
        link: LocalLink,
        address: str,
        name: str,
        scenario: Iterable[Sample],
        *,
        battery_percent: int = 97,
        **options: Unpack[VendorOptions],
    ) -> None:
        super().__init__(link, address, name, scenario, **options)
        self.battery_percent = battery_percent
        self.requests: list[O2RingRequest] = []
        self.responses: deque[bytes] = deque(maxlen=self.sent.maxlen)  # whole answers, before splitting
        self.requests_rejected = 0  # bad complement / CRC, or bytes before a head
        self.requests_ignored = 0  # valid but a command the emulator does not answer
        self.latest: tuple[int, Sample] | None = None  # (tick, sample) a poll would read now
        self._rx: dict[int, bytearray] = {}

    def _services(self) -> list[Service]:
        return [
            Service(O2RING_SERVICE, [self._notifier(), write_characteristic(O2RING_WRITE, self._on_write)]),
            self._device_information(),
        ]

    def _advertising_data(self) -> bytes:
        return advertising_data(self.name)

    def _on_disconnected(self, handle: int) -> None:
        self._rx.pop(handle, None)

    async def _emit(self, tick: int, sample: Sample) -> bool:
        self.latest = (tick, sample)
        return self.listened_to  # polled: "heard" = someone is listening for answers

    # -- requests --------------------------------------------------------------------------------
    def _on_write(self, connection: Any, value: bytes) -> None:
        buffer = self._rx.setdefault(connection.handle, bytearray())
        buffer += value
        while buffer:
            request, consumed = parse_o2ring_request(bytes(buffer))
            if consumed == 0:
                break  # wait for the rest of the request
            del buffer[:consumed]
            if request is None:
                self.requests_rejected += 1
                continue
            self.requests.append(request)
            answer = self.answer(request)
            if answer is None:
                self.requests_ignored += 1
            else:
                self.spawn(self._send(connection, answer), f"o2ring-answer-{self.address}")

    def answer(self, request: O2RingRequest) -> bytes | None:
        """The whole response frame for `request` given the latest reading (None = no answer)."""
        if request.cmd == O2RING_READ_SENSORS:
            sample = self.latest[1] if self.latest else None
            payload = encode_o2ring_sensors(o2ring_sensors_for(sample, battery_percent=self.battery_percent))
            return encode_o2ring_response(payload)
        if request.cmd == _PING:
            return encode_o2ring_response(b"")
        if request.cmd == _INFO:
            info = {
                "Model": self._model,
                "SN": self.address.replace(":", "")[-10:],
                "SoftwareVer": self._firmware,
                "HardwareVer": "AA",
                "CurBAT": f"{self.battery_percent}%",
            }
            return encode_o2ring_response(json.dumps(info, separators=(",", ":")).encode())
        return None

    async def _send(self, connection: Any, answer: bytes) -> None:
        if not self._reaches(connection):
            return
        self.responses.append(answer)
        tick, sample = self.latest if self.latest else (-1, None)
        size = connection.att_mtu - 3
        chunks = [answer[start : start + size] for start in range(0, len(answer), size)]
        await self._notify_connection(connection, tick, sample, chunks)
