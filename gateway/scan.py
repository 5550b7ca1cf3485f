"""`oxiward gateway scan`: which oximeters are in reach, and the protocol the gateway would use for each.

For the technician setting up a home: the addresses to put in the gateway configuration
(docs/gateway.md). The protocol shown is the candidate from the advertisement (services, else name,
else MAC prefix); once connected the gateway confirms it by the services the device really offers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence

from bleak.backends.scanner import BaseBleakScanner

from gateway.advice import classify, technical
from gateway.ble import LINK_ERRORS
from gateway.ble_scan import ScanResult, discover

SCAN_FAILED = 1


def configured_addresses() -> set[str]:
    """Addresses in the gateway's own configuration, if it can be read (a fresh box has none)."""
    if not any(name.startswith("OXIWARD_GATEWAY_") for name in os.environ):
        return set()
    from gateway.settings import GatewaySettings

    try:
        return set(GatewaySettings().addresses)  # type: ignore[call-arg]
    except ValueError:
        return set()


def format_results(
    results: Sequence[ScanResult], *, seconds: float, configured: Iterable[str] = (), show_all: bool = False
) -> str:
    """The scan as a small table; unrecognised devices only counted unless `show_all`."""
    mine = {address.upper() for address in configured}
    oximeters = [r for r in results if r.profile is not None]
    others = [r for r in results if r.profile is None]
    lines = [f"Scanned for {seconds:g} s."]
    rows = oximeters + (others if show_all else [])
    if not oximeters:
        lines.append(
            "No oximeter found. Switch it on (finger in) and hold it near the gateway, then scan again."
        )
    if rows:
        lines.append(f"{'ADDRESS':<18} {'SIGNAL':>8}  {'NAME':<20} {'PROTOCOL':<14} NOTE")
        for r in rows:
            signal = f"{r.rssi} dBm" if r.rssi is not None else "?"
            note = ("[configured] " if r.address in mine else "") + (r.note or "not an oximeter we can read")
            name = (r.name or "-")[:20]
            lines.append(f"{r.address:<18} {signal:>8}  {name:<20} {r.profile or '-':<14} {note}")
    if others and not show_all:
        lines.append(f"{len(others)} other Bluetooth device(s) not shown (use --all to list them).")
    missing = sorted(mine - {r.address for r in results})
    if missing:
        lines.append(f"Configured but not seen: {', '.join(missing)}")
    return "\n".join(lines)


async def scan(
    seconds: float, *, experimental: bool = False, scanner_backend: type[BaseBleakScanner] | None = None
) -> list[ScanResult]:
    return await discover(seconds, experimental=experimental, scanner_backend=scanner_backend)


def run_scan(seconds: float, *, show_all: bool = False, experimental: bool = False) -> int:
    """The command: prints the table, or what is wrong with the gateway's Bluetooth (exit 1)."""
    try:
        results = asyncio.run(scan(seconds, experimental=experimental))
    except LINK_ERRORS as exc:
        print(f"Cannot scan: {classify(exc).message('')}")
        print(f"(detail: {technical(exc)})")
        return SCAN_FAILED
    print(format_results(results, seconds=seconds, configured=configured_addresses(), show_all=show_all))
    return 0
