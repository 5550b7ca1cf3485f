"""Measurement storage and the Record Access Control Point (0x2A52) of the emulated PLX oximeter.

Behaviour from ble-protocols.md §1.9 (PLXS subset of RACP, cross-checked against the NXP
pulse_oximeter_service.c server): write Op Code | Operator | [Operand], answers indicated on the
RACP; `01 01` indicates every stored record on 0x2A5E with Measurement Status bit 9 and then
`06 00 01 01` (or `06 00 01 06` when there are none); `04 01` → `05 00 <count LE>`; `02 01` deletes;
`03 00` aborts; only operator 0x01 "all records" is supported.

The request evaluation and the encoders are pure; `RacpServer` runs one procedure at a time.
"""

from __future__ import annotations

import asyncio
import enum
import struct
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bumble.att import ATT_Error, ErrorCode

from emulator.plx_encode import DeviceSensorStatus, MeasurementStatus, PlxFeature, encode_plx_features
from emulator.plx_encode import encode_plx_spot_check as _spot
from emulator.scenarios import Sample

__all__ = [
    "FEATURES_WITH_STORAGE",
    "RacpOpCode",
    "RacpOperator",
    "RacpResponseCode",
    "RacpServer",
    "RecordStore",
    "StoredRecord",
    "encode_racp_count",
    "encode_racp_request",
    "encode_racp_response",
    "evaluate_request",
    "stored_record_frame",
]


class RacpOpCode(enum.IntEnum):
    REPORT_STORED_RECORDS = 0x01
    DELETE_STORED_RECORDS = 0x02
    ABORT_OPERATION = 0x03
    REPORT_NUMBER_OF_STORED_RECORDS = 0x04
    NUMBER_OF_STORED_RECORDS_RESPONSE = 0x05
    RESPONSE_CODE = 0x06


class RacpOperator(enum.IntEnum):
    NULL = 0x00
    ALL_RECORDS = 0x01
    LESS_OR_EQUAL = 0x02
    GREATER_OR_EQUAL = 0x03
    WITHIN_RANGE = 0x04
    FIRST_RECORD = 0x05
    LAST_RECORD = 0x06


class RacpResponseCode(enum.IntEnum):
    SUCCESS = 0x01
    OP_CODE_NOT_SUPPORTED = 0x02
    INVALID_OPERATOR = 0x03
    OPERATOR_NOT_SUPPORTED = 0x04
    INVALID_OPERAND = 0x05
    NO_RECORDS_FOUND = 0x06
    ABORT_UNSUCCESSFUL = 0x07
    PROCEDURE_NOT_COMPLETED = 0x08
    OPERAND_NOT_SUPPORTED = 0x09


# 0x2A60 of a storing device (§1.8 bit 2 ⇒ RACP present); the status mask also announces bit 9.
FEATURES_WITH_STORAGE = encode_plx_features(
    PlxFeature.PAI | PlxFeature.SPOT_CHECK_TIMESTAMP | PlxFeature.SPOT_CHECK_MEASUREMENT_STORAGE,
    measurement_status_support=(
        MeasurementStatus.MEASUREMENT_UNAVAILABLE | MeasurementStatus.DATA_FROM_MEASUREMENT_STORAGE
    ),
    device_sensor_status_support=(
        DeviceSensorStatus.SENSOR_UNCONNECTED_TO_USER | DeviceSensorStatus.SENSOR_DISCONNECTED
    ),
)


def encode_racp_request(op_code: int, operator: int, operand: bytes = b"") -> bytes:
    return bytes([op_code & 0xFF, operator & 0xFF]) + operand


def encode_racp_response(request_op_code: int, response_code: int) -> bytes:
    """`06 00 <request op> <code>` (§1.9)."""
    return bytes([RacpOpCode.RESPONSE_CODE, RacpOperator.NULL, request_op_code & 0xFF, response_code & 0xFF])


def encode_racp_count(count: int) -> bytes:
    """`05 00 <count uint16 LE>`: PLXS uses a 2-byte count (§1.9)."""
    return bytes([RacpOpCode.NUMBER_OF_STORED_RECORDS_RESPONSE, RacpOperator.NULL]) + struct.pack(
        "<H", min(count, 0xFFFF)
    )


def evaluate_request(value: bytes) -> RacpOpCode | bytes:
    """The op code to run for a valid PLX RACP request, or the response that refuses it.

    Operators 0x02-0x06 exist in RACP but PLXS allows only 0x01 → "operator not supported";
    0x00 (where 0x01 is needed) and undefined operators → "invalid operator" (§1.9, NXP server).
    Any operand → "operand not supported" (§1.9; NXP answers "invalid operand").
    """
    op_code, operator, operand = value[0], value[1] if len(value) > 1 else None, value[2:]
    supported = (
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOpCode.DELETE_STORED_RECORDS,
        RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS,
        RacpOpCode.ABORT_OPERATION,
    )
    if op_code not in supported:
        return encode_racp_response(op_code, RacpResponseCode.OP_CODE_NOT_SUPPORTED)
    wanted = RacpOperator.NULL if op_code == RacpOpCode.ABORT_OPERATION else RacpOperator.ALL_RECORDS
    if operator != wanted:
        defined_elsewhere = operator is not None and RacpOperator.LESS_OR_EQUAL <= operator <= 0x06
        code = (
            RacpResponseCode.OPERATOR_NOT_SUPPORTED
            if defined_elsewhere
            else RacpResponseCode.INVALID_OPERATOR
        )
        return encode_racp_response(op_code, code)
    if operand:
        return encode_racp_response(op_code, RacpResponseCode.OPERAND_NOT_SUPPORTED)
    return RacpOpCode(op_code)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A spot-check measurement the device kept because no central took it live."""

    tick: int
    sample: Sample
    timestamp: datetime


def stored_record_frame(record: StoredRecord) -> bytes:
    """0x2A5E as replayed from storage: the live spot-check frame plus Measurement Status bit 9."""
    sample = record.sample
    return _spot(
        sample.spo2,
        sample.pulse_rate,
        timestamp=record.timestamp,
        measurement_status=sample.measurement_status | MeasurementStatus.DATA_FROM_MEASUREMENT_STORAGE,
        device_sensor_status=sample.device_sensor_status,
        pai=sample.pai,
    )


class RecordStore:
    """Oldest-first ring of stored records; when full the oldest is overwritten and counted
    (the NXP server keeps a fixed ring the same way)."""

    def __init__(self, capacity: int = 500) -> None:
        if capacity < 1:
            raise ValueError("storage capacity must be >= 1")
        self._records: deque[StoredRecord] = deque(maxlen=capacity)
        self.overwritten = 0

    def add(self, record: StoredRecord) -> None:
        if len(self._records) == self._records.maxlen:
            self.overwritten += 1
        self._records.append(record)

    def snapshot(self) -> list[StoredRecord]:
        return list(self._records)

    def clear(self) -> None:
        self._records.clear()

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[StoredRecord]:
        return iter(list(self._records))


Indicate = Callable[[Any, bytes], Awaitable[bool]]  # (connection, value) → confirmed?


class RacpServer:
    """Runs RACP procedures for one device: one at a time, answers only to the requester.

    `indicate_record` sends on 0x2A5E, `indicate_response` on the RACP; both return whether the
    central confirmed. `record_delay` spaces record indications (NXP's server uses a timer).
    """

    def __init__(
        self,
        store: RecordStore,
        *,
        indicate_record: Indicate,
        indicate_response: Indicate,
        record_delay: float = 0.0,
    ) -> None:
        self.store = store
        self.records_reported = 0
        self.requests: list[bytes] = []
        self._indicate_record = indicate_record
        self._indicate_response = indicate_response
        self._record_delay = record_delay
        self._procedure: asyncio.Task[None] | None = None
        self._procedure_connection: int | None = None
        self._in_progress = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> bool:
        """A procedure is running (its final answer not yet on its way)."""
        return self._in_progress

    def on_write(
        self, connection: Any, value: bytes, *, racp_indications: bool, record_indications: bool
    ) -> None:
        """Validate a write the way the ATT layer must (errors go back as the write's response),
        then start the procedure; its answers are indicated after the write response."""
        self.requests.append(bytes(value))
        if not value:
            raise ATT_Error(error_code=ErrorCode.INVALID_ATTRIBUTE_LENGTH)
        if not racp_indications:
            raise ATT_Error(error_code=ErrorCode.CCCD_IMPROPERLY_CONFIGURED)
        if self.busy and value[0] != RacpOpCode.ABORT_OPERATION:
            raise ATT_Error(error_code=ErrorCode.PROCEDURE_ALREADY_IN_PROGRESS)
        action = evaluate_request(bytes(value))
        if action == RacpOpCode.REPORT_STORED_RECORDS and not record_indications:
            raise ATT_Error(error_code=ErrorCode.CCCD_IMPROPERLY_CONFIGURED)
        if action == RacpOpCode.ABORT_OPERATION and self.busy and self._procedure is not None:
            self._procedure.cancel()  # the aborted report sends no response of its own
        self._in_progress = True
        self._procedure_connection = connection.handle
        self._procedure = task = asyncio.get_running_loop().create_task(
            self._run(connection, action), name="racp-procedure"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def connection_lost(self, handle: int) -> None:
        if self._procedure is not None and self._procedure_connection == handle and self.busy:
            self._procedure.cancel()
            self._in_progress = False

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._in_progress = False

    async def _run(self, connection: Any, action: RacpOpCode | bytes) -> None:
        response = await self._perform(connection, action)
        # done before the answer goes out: the central may send its next request as soon as it sees it
        self._in_progress = False
        if response is not None:
            await self._indicate_response(connection, response)

    async def _perform(self, connection: Any, action: RacpOpCode | bytes) -> bytes | None:
        if isinstance(action, bytes):
            return action
        if action == RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS:
            return encode_racp_count(len(self.store))
        if action == RacpOpCode.DELETE_STORED_RECORDS:
            self.store.clear()
            return encode_racp_response(action, RacpResponseCode.SUCCESS)
        if action == RacpOpCode.ABORT_OPERATION:
            return encode_racp_response(action, RacpResponseCode.SUCCESS)
        return await self._report(connection)

    async def _report(self, connection: Any) -> bytes | None:
        records = self.store.snapshot()
        for index, record in enumerate(records):
            if index and self._record_delay:
                await asyncio.sleep(self._record_delay)
            if not await self._indicate_record(connection, stored_record_frame(record)):
                return None  # the central went away: no response, the records stay stored
            self.records_reported += 1
        code = RacpResponseCode.SUCCESS if records else RacpResponseCode.NO_RECORDS_FOUND
        return encode_racp_response(RacpOpCode.REPORT_STORED_RECORDS, code)
