"""`oxiward gateway scan`: emulated oximeters of every kind are listed with the protocol they would get."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from emulator import BleWorld, scenario
from gateway.scan import format_results, scan
from oxiward.cli import main

pytestmark = pytest.mark.timeout(60)

DEVICES = {  # kind, address → the profile the advertisement should select
    ("plx", "C0:FF:EE:00:00:71"): "plx",
    ("berrymed", "00:A0:50:00:00:72"): "berrymed",  # name "BerryMed", no service advertised (§2.2)
    ("nonin", "F0:0D:00:00:00:73"): "nonin",
    ("wellue-pc60fw", "F0:0D:00:00:00:74"): "wellue-pc60fw",
    ("wellue-o2ring", "F0:0D:00:00:00:75"): "wellue-o2ring",
    ("jumper", "F0:0D:00:00:00:76"): None,  # experimental: not offered unless asked for
}


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        for kind, address in DEVICES:
            w.add_device(kind, address, scenario("stable"))
        await w.start()
        yield w


async def test_every_kind_is_recognised_from_its_advertisement(world: BleWorld) -> None:
    results = await scan(2.0, scanner_backend=world.scanner_backend)
    found = {r.address: r for r in results}
    assert set(found) == {address for _, address in DEVICES}
    for (_, address), profile in DEVICES.items():
        assert found[address].profile == profile, address
        assert isinstance(found[address].rssi, int)
    assert found["00:A0:50:00:00:72"].name == "BerryMed"
    assert [r.profile is None for r in results] == sorted(
        r.profile is None for r in results
    )  # oximeters first
    experimental = await scan(2.0, experimental=True, scanner_backend=world.scanner_backend)
    assert {r.address: r.profile for r in experimental}["F0:0D:00:00:00:76"] == "jumper"


async def test_the_table_for_the_technician(world: BleWorld) -> None:
    results = await scan(2.0, scanner_backend=world.scanner_backend)
    text = format_results(results, seconds=2, configured=["00:a0:50:00:00:72", "C0:FF:EE:00:00:99"])
    lines = text.splitlines()
    assert lines[0] == "Scanned for 2 s."
    assert lines[1].split() == ["ADDRESS", "SIGNAL", "NAME", "PROTOCOL", "NOTE"]
    berry = next(line for line in lines if line.startswith("00:A0:50:00:00:72"))
    assert "berrymed" in berry
    assert "[configured]" in berry
    assert "1 other Bluetooth device(s) not shown" in text
    assert "Configured but not seen: C0:FF:EE:00:00:99" in text
    everything = format_results(results, seconds=2, show_all=True)
    assert "not an oximeter we can read" in everything


def test_nothing_found_says_what_to_do() -> None:
    assert "No oximeter found. Switch it on" in format_results([], seconds=10)


def test_the_command_on_a_box_without_bluetooth_says_so_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    # This machine has no D-Bus: the real BlueZ backend fails the way a broken home box would.
    assert main(["gateway", "scan", "--seconds", "0.5"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Cannot scan: The gateway's Bluetooth service is not running")
    assert "systemctl start dbus bluetooth" in out
    assert "Traceback" not in out
