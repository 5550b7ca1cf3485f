"""Stream parsers on the situations ble-protocols.md §2 describes: frames split across notifications,
several per notification, garbage, version replies that pass the sync rule, protocol switches."""

from __future__ import annotations

from gateway.protocols import berrymed, wellue, wellue_o2ring
from gateway.protocols.berrymed_stream import BerryMedStream

BCI_FRAMES = [bytes.fromhex(h) for h in ("c73c094862", "8737084862", "8730074862", "8729064862")]
BERRY = bytes.fromhex("ffaa02067f7fffff000000000000000000506461")  # vector berrymed-berry-04
BERRY_VERSION = bytes.fromhex("ffaa5356312e30342e30302e333600000000003a")  # vector berrymed-berry-01
PC60_VITALS = bytes.fromhex("aa550f08016140005100c05b")  # vector pc60fw-01
PC60_PLETH = bytes.fromhex("aa550f07026e5fcc3722ed")  # vector pc60fw-04
PC60_BATTERY = bytes.fromhex("aa55f0030303f6")  # capture quoted in §2.6
O2_SENSORS = bytes.fromhex("5500ff00000d00624200000000006100920a01002f")  # vector viatom-02


def _bci(frames: tuple[object, ...]) -> list[int | None]:
    return [f.pleth for f in frames if isinstance(f, berrymed.BciFrame)]


def test_four_bci_frames_per_notification_at_100_hz() -> None:
    parser = BerryMedStream()
    for _ in range(25):  # one second of a BM1000C: 25 notifications of 4 frames
        parsed = parser.feed(b"".join(BCI_FRAMES))
        assert _bci(parsed.frames) == [60, 55, 48, 41]
        assert parsed.rejected == ()
    assert (parser.stats.frames, parser.stats.garbage_bytes, parser.buffered) == (100, 0, 0)


def test_bci_frames_straddling_notifications_byte_by_byte() -> None:
    parser = BerryMedStream()
    out: list[object] = []
    for byte in b"".join(BCI_FRAMES):
        out.extend(parser.feed(bytes([byte])).frames)
    assert _bci(tuple(out)) == [60, 55, 48, 41]


def test_garbage_is_skipped_counted_and_reported_once_with_its_hex() -> None:
    parser = BerryMedStream()
    parsed = parser.feed(bytes.fromhex("010203") + BCI_FRAMES[0] + bytes.fromhex("8001") + BCI_FRAMES[1])
    assert _bci(parsed.frames) == [60, 55]
    assert [e.frame_hex for e in parsed.rejected] == ["010203", "8001"]
    assert all(e.protocol == "berrymed-bci" and "regain sync" in e.reason for e in parsed.rejected)
    assert parser.stats.garbage_bytes == 5


def test_a_frame_cut_short_by_the_next_head_is_dropped_and_the_next_frame_kept() -> None:
    parser = BerryMedStream()
    parsed = parser.feed(BCI_FRAMES[0][:3] + BCI_FRAMES[1])  # notification lost its last 2 bytes
    assert _bci(parsed.frames) == [55]
    assert parser.stats.garbage_bytes == 3


def test_version_replies_are_recognised_not_decoded_as_measurements() -> None:
    parser = BerryMedStream()
    reply = bytes.fromhex("ff56312e30") + bytes.fromhex("ff342e3030") + BCI_FRAMES[0]
    frames = parser.feed(reply).frames
    versions = [f for f in frames if isinstance(f, berrymed.BciVersionPacket)]
    assert [v.text for v in versions] == ["V1.0", "4.00"]
    assert all(berrymed.to_reading_fields(v) is None for v in versions)
    assert _bci(frames) == [60]


def test_reserved_bci_values_are_rejected_in_the_stream_and_parsing_continues() -> None:
    parser = BerryMedStream()
    parsed = parser.feed(bytes.fromhex("8a32054862") + BCI_FRAMES[0])  # signal strength 10 is reserved
    assert _bci(parsed.frames) == [60]
    assert parser.stats.rejected_frames == 1
    assert "signal strength 10" in parsed.rejected[0].reason


def test_berry_packets_lock_the_auto_parser_to_berry() -> None:
    parser = BerryMedStream()
    parsed = parser.feed(BERRY_VERSION[:7])
    assert parsed.frames == ()
    parsed = parser.feed(BERRY_VERSION[7:] + BERRY[:10])
    assert [type(f) for f in parsed.frames] == [berrymed.BerryVersion]
    assert parser.mode == "berry"
    parsed = parser.feed(BERRY[10:] + BCI_FRAMES[0])  # once BERRY, a BCI-looking frame is garbage
    assert [type(f) for f in parsed.frames] == [berrymed.BerryMeasurement]
    assert parser.stats.garbage_bytes == 5


def test_a_corrupt_berry_packet_is_rejected_and_the_next_one_found() -> None:
    bad = bytearray(BERRY)
    bad[5] ^= 0x01
    parser = BerryMedStream("berry")
    parsed = parser.feed(bytes(bad) + BERRY)
    assert len(parsed.frames) == 1
    assert parser.stats.rejected_frames == 1
    assert "checksum" in parsed.rejected[0].reason
    assert parser.stats.garbage_bytes == 20


def test_pc60fw_frames_split_and_joined_across_notifications() -> None:
    data = PC60_VITALS + PC60_PLETH + PC60_BATTERY
    parser = wellue.Pc60Stream()
    out: list[wellue.Pc60Frame] = []
    for start in range(0, len(data), 7):
        out.extend(parser.feed(data[start : start + 7]).frames)
    assert [type(f) for f in out] == [wellue.Pc60Vitals, wellue.Pc60Pleth, wellue.Pc60Battery]
    assert parser.buffered == 0


def test_pc60fw_crc_error_resyncs_on_the_next_frame() -> None:
    bad = bytearray(PC60_VITALS)
    bad[6] = 0x41  # pulse 65 without fixing the CRC
    parser = wellue.Pc60Stream()
    parsed = parser.feed(b"\x00\xaa" + bytes(bad) + PC60_VITALS)
    assert [f.raw for f in parsed.frames] == [PC60_VITALS]
    assert parser.stats.rejected_frames == 1
    assert parser.stats.garbage_bytes == 2 + len(bad)


def test_pc60fw_undecodable_frame_with_a_good_crc_is_reported_and_skipped_whole() -> None:
    unknown = bytes.fromhex("aa550f03770072")  # function 0x77, CRC valid
    parsed = wellue.Pc60Stream().feed(unknown + PC60_BATTERY)
    assert [type(f) for f in parsed.frames] == [wellue.Pc60Battery]
    assert "0x77" in parsed.rejected[0].reason
    assert parsed.rejected[0].frame_hex == unknown.hex()


def test_o2ring_response_over_several_notifications() -> None:
    parser = wellue_o2ring.O2ResponseStream()
    assert parser.feed(O2_SENSORS[:5]).frames == ()
    assert parser.feed(O2_SENSORS[5:15]).frames == ()
    (response,) = parser.feed(O2_SENSORS[15:]).frames
    sensors = wellue_o2ring.decode_sensors(response)
    assert (sensors.spo2, sensors.pulse_rate, sensors.battery_percent) == (98, 66, 97)


def test_o2ring_reset_drops_a_partial_response() -> None:
    parser = wellue_o2ring.O2ResponseStream()
    parser.feed(O2_SENSORS[:9])
    assert parser.reset() == 9
    (response,) = parser.feed(O2_SENSORS).frames
    assert response.raw == O2_SENSORS
    assert parser.stats.garbage_bytes == 9


def test_o2ring_implausible_length_is_not_waited_for() -> None:
    parser = wellue_o2ring.O2ResponseStream()
    parsed = parser.feed(bytes.fromhex("5500ff0000ffff") + O2_SENSORS)  # declares 65535 payload bytes
    assert [f.raw for f in parsed.frames] == [O2_SENSORS]
