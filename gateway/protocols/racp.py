"""Record Access Control Point (0x2A52), the PLX subset: download stored spot-check records (§1.9).

Source: ble-protocols.md §1.9 (Bluetooth SIG RACP; NXP pulse_oximeter_service.c server rules; Nordic
Android-BLE-Common-Library RACP tests for the response vectors). Flow: enable indications on 0x2A5E and
0x2A52, write `01 01`; each stored record is indicated on 0x2A5E with Measurement Status bit 9 set; the
RACP then indicates `06 00 01 01` (success) or `06 00 01 06` (no records). `04 01` → `05 00 <count u16 LE>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from gateway.protocols.errors import FrameError

REQUEST: Final = "racp-request"
RESPONSE: Final = "racp-response"
UUID: Final = "00002a52-0000-1000-8000-00805f9b34fb"

OP_REPORT_STORED_RECORDS: Final = 0x01
OP_DELETE_STORED_RECORDS: Final = 0x02
OP_ABORT: Final = 0x03
OP_REPORT_NUMBER_OF_RECORDS: Final = 0x04
OP_NUMBER_OF_RECORDS_RESPONSE: Final = 0x05
OP_RESPONSE_CODE: Final = 0x06
OPERATOR_NULL: Final = 0x00
OPERATOR_ALL_RECORDS: Final = 0x01  # the only operator PLXS allows for op codes 1, 2, 4

REQUEST_NAMES: Final = MappingProxyType(
    {
        OP_REPORT_STORED_RECORDS: ("report_stored_records", "report stored records"),
        OP_DELETE_STORED_RECORDS: ("delete_stored_records", "delete stored records"),
        OP_ABORT: ("abort_operation", "abort operation"),
        OP_REPORT_NUMBER_OF_RECORDS: ("report_number_of_stored_records", "report number of stored records"),
    }
)
RESPONSE_CODES: Final = MappingProxyType(
    {
        0x01: "success",
        0x02: "op_code_not_supported",
        0x03: "invalid_operator",
        0x04: "operator_not_supported",
        0x05: "invalid_operand",
        0x06: "no_records_found",
        0x07: "abort_unsuccessful",
        0x08: "procedure_not_completed",
        0x09: "operand_not_supported",
    }
)
SUCCESS: Final = 0x01
NO_RECORDS_FOUND: Final = 0x06


@dataclass(frozen=True, slots=True)
class RacpRequest:
    op_code: int
    operator: int

    @property
    def meaning(self) -> str:
        what = REQUEST_NAMES[self.op_code][1]
        return f"{what}, all records" if self.operator == OPERATOR_ALL_RECORDS else f"{what}, null operator"


@dataclass(frozen=True, slots=True)
class RacpResponseCode:
    """`06 00 <request op code> <response code>`: how a request ended."""

    request_op_code: int
    response_code: int

    @property
    def succeeded(self) -> bool:
        return self.response_code == SUCCESS

    @property
    def no_records(self) -> bool:
        return self.response_code == NO_RECORDS_FOUND

    @property
    def meaning(self) -> str:
        code = RESPONSE_CODES[self.response_code]
        if self.succeeded:
            return f"{REQUEST_NAMES[self.request_op_code][0]}: {code}"
        return code


@dataclass(frozen=True, slots=True)
class RacpRecordCount:
    """`05 00 <count>`: the answer to `04 01`."""

    count: int


RacpResponse = RacpResponseCode | RacpRecordCount


def report_stored_records() -> bytes:
    """`01 01`: indicate every stored record on 0x2A5E, then a response code on the RACP."""
    return bytes([OP_REPORT_STORED_RECORDS, OPERATOR_ALL_RECORDS])


def report_number_of_records() -> bytes:
    """`04 01`: answered by `05 00 <count u16 LE>`."""
    return bytes([OP_REPORT_NUMBER_OF_RECORDS, OPERATOR_ALL_RECORDS])


def delete_stored_records() -> bytes:
    """`02 01`: delete every stored record (after a complete download)."""
    return bytes([OP_DELETE_STORED_RECORDS, OPERATOR_ALL_RECORDS])


def abort() -> bytes:
    """`03 00`: abort the running procedure."""
    return bytes([OP_ABORT, OPERATOR_NULL])


def decode_request(data: bytes) -> RacpRequest:
    """A PLXS request: op code 1, 2 or 4 with operator 0x01, or abort `03 00`; no operand."""
    data = bytes(data)
    if len(data) != 2:
        raise FrameError(REQUEST, f"a PLXS RACP request is 2 bytes (no operand), got {len(data)}", data.hex())
    op_code, operator = data
    if op_code not in REQUEST_NAMES:
        raise FrameError(REQUEST, f"op code 0x{op_code:02x} is not a request", data.hex())
    expected = OPERATOR_NULL if op_code == OP_ABORT else OPERATOR_ALL_RECORDS
    if operator != expected:
        raise FrameError(
            REQUEST, f"operator 0x{operator:02x} not allowed with op code {op_code} in PLXS", data.hex()
        )
    return RacpRequest(op_code=op_code, operator=operator)


def decode_response(data: bytes) -> RacpResponse:
    """A response indicated on the RACP: a response code, or the number of stored records."""
    data = bytes(data)
    if len(data) < 3:
        raise FrameError(RESPONSE, f"a RACP response is at least 3 bytes, got {len(data)}", data.hex())
    op_code, operator = data[0], data[1]
    if operator != OPERATOR_NULL:
        raise FrameError(RESPONSE, f"responses carry the null operator, got 0x{operator:02x}", data.hex())
    if op_code == OP_NUMBER_OF_RECORDS_RESPONSE:
        # PLXS sends a uint16; Nordic's generic parser also accepts 1 or 4 bytes (§1.9).
        if len(data) - 2 not in (1, 2, 4):
            raise FrameError(RESPONSE, f"record count is 1, 2 or 4 bytes, got {len(data) - 2}", data.hex())
        return RacpRecordCount(count=int.from_bytes(data[2:], "little"))
    if op_code != OP_RESPONSE_CODE:
        raise FrameError(RESPONSE, f"op code 0x{op_code:02x} is not a response (5 or 6)", data.hex())
    if len(data) != 4:
        raise FrameError(RESPONSE, f"a response code is 4 bytes, got {len(data)}", data.hex())
    if data[2] not in REQUEST_NAMES:
        raise FrameError(RESPONSE, f"request op code 0x{data[2]:02x} is not a request", data.hex())
    if data[3] not in RESPONSE_CODES:
        raise FrameError(RESPONSE, f"response code 0x{data[3]:02x} is reserved", data.hex())
    return RacpResponseCode(request_op_code=data[2], response_code=data[3])


def request_dict(request: RacpRequest) -> dict[str, Any]:
    return {"op_code": request.op_code, "operator": request.operator, "meaning": request.meaning}


def response_dict(response: RacpResponse) -> dict[str, Any]:
    if isinstance(response, RacpRecordCount):
        return {
            "op_code": OP_NUMBER_OF_RECORDS_RESPONSE,
            "operator": OPERATOR_NULL,
            "number_of_records": response.count,
            "meaning": f"number of stored records: {response.count}",
        }
    return {
        "op_code": OP_RESPONSE_CODE,
        "operator": OPERATOR_NULL,
        "request_op_code": response.request_op_code,
        "response_code": response.response_code,
        "meaning": response.meaning,
    }
