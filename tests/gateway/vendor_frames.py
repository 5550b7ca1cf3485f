"""Test-side frame encoders for the vendor protocols, written from ble-protocols.md §2.

Bitwise CRCs, independent of the table-driven ones in gateway/protocols/crc.py, so a decoder is never
checked against itself.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def crc_maxim(data: bytes) -> int:
    crc = 0
    for byte in data:
        for bit in range(8):
            mix = (crc ^ (byte >> bit)) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
    return crc


def crc_poly07(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc << 1 ^ 0x07) & 0xFF if crc & 0x80 else crc << 1 & 0xFF
    return crc


def bci_bytes(f: dict[str, Any]) -> bytes:
    b1 = 0x80 | f["signal"] | f["no_signal"] << 4 | f["unplugged"] << 5 | f["beep"] << 6
    b3 = f["bargraph"] | f["no_finger"] << 4 | f["searching"] << 5 | (f["pr"] >> 7) << 6
    return bytes([b1, f["pleth"], b3, f["pr"] & 0x7F, f["spo2"]])


bci_fields = st.fixed_dictionaries(
    {
        "signal": st.sampled_from([*range(9), 15]),
        "no_signal": st.integers(0, 1),
        "unplugged": st.integers(0, 1),
        "beep": st.integers(0, 1),
        "pleth": st.integers(0, 100),
        "bargraph": st.integers(0, 15),
        "no_finger": st.integers(0, 1),
        "searching": st.integers(0, 1),
        "pr": st.one_of(st.integers(0, 250), st.just(255)),
        "spo2": st.one_of(st.integers(0, 100), st.just(127)),
    }
).filter(lambda f: bci_bytes(f)[0] != 0xFF)  # 0xFF heads a version reply (§2.2)


@st.composite
def berry_packets(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    spo2s = st.one_of(st.integers(0, 100), st.just(127))
    prs = st.one_of(st.integers(0, 250), st.just(255))
    f = {
        "index": draw(st.integers(0, 255)),
        "status": draw(st.integers(0, 15)),
        "spo2": draw(spo2s),
        "spo2_rt": draw(spo2s),
        "pr": draw(prs),
        "pr_rt": draw(prs),
        "rr": draw(st.integers(0, 0xFFFF)),
        "pi": draw(st.integers(0, 255)),
        "pi_rt": draw(st.integers(0, 255)),
        "pleth": draw(st.integers(0, 100)),
        "adc": draw(st.integers(-(2**31), 2**31 - 1)),
        "battery": draw(st.integers(0, 100)),
        "rate": draw(st.sampled_from([1, 50, 100, 200])),
    }
    body = bytes([0xFF, 0xAA, f["index"], f["status"], f["spo2"], f["spo2_rt"], f["pr"], f["pr_rt"]])
    body += f["rr"].to_bytes(2, "little") + bytes([f["pi"], f["pi_rt"], f["pleth"]])
    body += f["adc"].to_bytes(4, "little", signed=True) + bytes([f["battery"], f["rate"]])
    return body + bytes([sum(body) & 0xFF]), f


def pc60_frame(token: int, func: int, data: bytes) -> bytes:
    body = bytes([0xAA, 0x55, token, len(data) + 2, func]) + data
    return body + bytes([crc_maxim(body)])


byte = st.integers(0, 255)
pc60_frames = st.one_of(
    st.builds(
        lambda s, p, pi, st_: pc60_frame(0x0F, 0x01, bytes([s, p, 0, pi, 0, st_])),
        st.integers(0, 100), byte, byte, byte,
    ),
    st.builds(lambda w: pc60_frame(0x0F, 0x02, bytes(w)), st.lists(byte, min_size=5, max_size=5)),
    st.builds(lambda b: pc60_frame(0xF0, 0x03, bytes([b])), st.integers(0, 3)),
)  # fmt: skip


def o2_response(status: int, payload: bytes, block: int = 0) -> bytes:
    body = (
        bytes([0x55, status, status ^ 0xFF])
        + block.to_bytes(2, "little")
        + len(payload).to_bytes(2, "little")
    )
    return body + payload + bytes([crc_poly07(body + payload)])


o2_sensor_payloads = st.builds(
    lambda spo2, hr, rest: bytes([spo2, hr]) + bytes(rest),
    st.one_of(st.integers(0, 100), st.just(255)),
    st.integers(0, 255),
    st.lists(st.integers(0, 255), min_size=11, max_size=11),
)
