"""Protocol selection by GATT services, advertised name and MAC prefix; the uniform frame → reading view."""

from __future__ import annotations

import pytest

from gateway.protocols import (
    berrymed,
    decode_continuous,
    decode_spot_check,
    jumper,
    nonin,
    protocol_of,
    reading_fields,
    registry,
    select_by_advertisement,
    select_by_services,
    unconfirmed,
    wellue,
    wellue_o2ring,
)
from gateway.protocols.registry import BERRYMED, JUMPER, NONIN, O2RING, PC60FW, PLX, PROFILES
from tests.conftest import load_ble_vectors

GATT_GENERIC = ["00001800-0000-1000-8000-00805f9b34fb", "00001801-0000-1000-8000-00805f9b34fb"]


@pytest.mark.parametrize(
    ("service", "profile"),
    [
        ("00001822-0000-1000-8000-00805f9b34fb", PLX),
        ("1822", PLX),
        ("0x1822", PLX),
        ("46A970E0-0D5F-11E2-8B5E-0002A5D5C51B", NONIN),
        ("49535343-FE7D-4AE5-8FA9-9FAFD205E455", BERRYMED),
        ("14839ac4-7d7e-415c-9a42-167340cf2339", O2RING),
        ("6E400001-B5A3-F393-E0A9-E50E24DCCA9E", PC60FW),
    ],
)
def test_select_by_the_services_the_device_offers(service: str, profile: registry.ProtocolProfile) -> None:
    assert select_by_services([*GATT_GENERIC, service]) is profile


def test_the_standard_service_wins_when_a_device_offers_two() -> None:
    both = [nonin.SERVICE_UUID, "00001822-0000-1000-8000-00805f9b34fb"]
    assert select_by_services(both) is PLX


def test_jumper_only_when_experimental_protocols_are_enabled() -> None:
    services = [*GATT_GENERIC, jumper.SERVICE_UUID]
    assert select_by_services(services) is None
    assert select_by_services(services, experimental=True) is JUMPER
    assert JUMPER.experimental
    assert not JUMPER.confirmed
    assert JUMPER not in registry.available_profiles()
    assert JUMPER in registry.available_profiles(experimental=True)
    assert select_by_advertisement(name="My Oximeter", address=None) is None
    assert select_by_advertisement(name="My Oximeter", address=None, experimental=True) is JUMPER


def test_nordic_uart_with_the_choicemmed_service_is_not_taken_for_a_pc60fw() -> None:
    offered = [wellue.SERVICE_UUID, registry.CHOICEMMED_SERVICE_UUID]
    assert select_by_services(offered) is None


def test_unknown_device_gets_no_protocol() -> None:
    assert select_by_services(GATT_GENERIC) is None
    assert select_by_services([]) is None
    assert select_by_advertisement(name="Fitness Band", address="11:22:33:44:55:66") is None
    # FFE0 is the generic HM-10 serial service: JKS50F is decodable but never auto-selected.
    assert select_by_services([unconfirmed.JKS50F_SERVICE_UUID]) is None


def test_berrymed_bm1000c_hides_its_service_so_name_or_oui_selects_it() -> None:
    # ble-protocols.md §2.2: advertises "BerryMed" without the service UUID; BLE modules use 00:A0:50.
    assert select_by_advertisement(name="BerryMed", address="AA:BB:CC:DD:EE:FF") is BERRYMED
    assert select_by_advertisement(name=None, address="00:a0:50:DB:83:94") is BERRYMED
    assert select_by_advertisement(name="", address="00-A0-50-11-22-33") is BERRYMED
    # Once connected, the GATT database decides.
    assert select_by_services([*GATT_GENERIC, berrymed.SERVICE_UUID]) is BERRYMED


def test_advertised_service_beats_the_name() -> None:
    chosen = select_by_advertisement(name="BerryMed", address=None, service_uuids=["1822"])
    assert chosen is PLX


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        ("Nonin3230_502812345", NONIN),
        ("O2Ring 1234", O2RING),
        ("Checkme O2 0042", O2RING),
        ("PC-60F_SN8811", PC60FW),
    ],
)
def test_candidates_by_advertised_name(name: str, profile: registry.ProtocolProfile) -> None:
    assert select_by_advertisement(name=name, address="11:22:33:44:55:66") is profile


def test_profiles_name_protocols_decode_knows_and_uuids_are_normalised() -> None:
    from gateway.protocols import PROTOCOLS

    for profile in PROFILES:
        assert set(profile.protocols) <= set(PROTOCOLS)
        for uuid in (profile.service_uuid, *profile.notify_uuids):
            assert uuid == registry.normalize_uuid(uuid)
            assert len(uuid) == 36
    assert NONIN.needs_bonding
    assert O2RING.polled
    assert registry.profile_for_protocol("berrymed-berry") is BERRYMED
    with pytest.raises(KeyError):
        registry.profile_for_protocol("no-such-protocol")


def _frame_for(vector: dict[str, object]) -> object:
    raw = bytes.fromhex(str(vector["hex"]))
    protocol = vector["protocol"]
    decoders = {
        "plx-continuous": decode_continuous,
        "plx-spot-check": decode_spot_check,
        "berrymed-bci": berrymed.decode_bci_frame,
        "berrymed-berry": berrymed.decode_berry_packet,
        "nonin-continuous": nonin.decode_continuous,
        "pc60fw": wellue.decode_frame,
        "viatom-o2ring-response": lambda b: wellue_o2ring.decode_sensors(wellue_o2ring.decode_response(b)),
        "jumper-cdeacb": jumper.decode_frame,
        "jks50f": unconfirmed.decode_jks50f,
        "contec-cms50d-bt": unconfirmed.decode_contec,
    }
    return decoders[str(protocol)](raw)


MEASUREMENT_VECTORS = [
    v
    for v in load_ble_vectors()
    if v["protocol"]
    not in {"plx-features", "ieee11073-sfloat", "ble-date-time", "racp-request", "racp-response"}
    and v["protocol"] != "viatom-o2ring-request"
    and v["expected"].get("frames") is None
    and v["expected"].get("kind") != "software_version"
    and v["expected"].get("kind") != "hardware_version"
]


@pytest.mark.parametrize("vector", MEASUREMENT_VECTORS, ids=[v["id"] for v in MEASUREMENT_VECTORS])
def test_every_measurement_vector_maps_onto_reading_fields(vector: dict[str, object]) -> None:
    frame = _frame_for(vector)
    assert protocol_of(frame) == vector["protocol"]
    fields = reading_fields(frame)
    expected = vector["expected"]
    assert isinstance(expected, dict)
    if {"pleth_samples", "battery_level", "mode"} & set(expected):
        # Waveform and battery frames carry no reading; the PC-60FW 0x21 "spot result" is UNCONFIRMED
        # and would duplicate the 0x01 vitals, so it is not turned into one either.
        assert fields is None
        return
    assert fields is not None
    spo2 = expected.get("spo2")
    assert fields.spo2 == (float(spo2) if isinstance(spo2, int | float) and spo2 else None)
    pulse = expected.get("pulse_rate")
    assert fields.pulse == (float(pulse) if isinstance(pulse, int | float) and pulse else None)


def test_plx_probe_off_bits_become_the_probe_off_flag() -> None:
    finger_out = decode_continuous(bytes.fromhex("0cff07ff070020008800"))  # vector plx-cont-07
    fields = reading_fields(finger_out)
    assert fields is not None
    assert fields.probe_off
    assert (fields.spo2, fields.pulse, fields.measurement_status) == (None, None, 8192)


def test_protocol_of_rejects_what_is_not_a_frame() -> None:
    with pytest.raises(TypeError):
        protocol_of(b"\x00")
    assert reading_fields(b"\x00") is None
