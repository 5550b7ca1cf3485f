"""deploy/systemd/oxiward-gateway.service: valid for systemd, restarts forever, hardened, reaches BlueZ."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.services import require_binary

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "oxiward-gateway.service"


def _settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze", "systemd")
    # The unit names the installed console script; point it at this checkout's for the check.
    script = ROOT / ".venv" / "bin" / "oxiward"
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/oxiward/bin/oxiward", str(script)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), result.stderr
    security = subprocess.run(
        [analyze, "security", "--offline=true", str(unit)], capture_output=True, text=True, check=False
    )
    exposure = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    assert exposure is not None, security.stdout[-500:]
    assert float(exposure.group(1)) <= 2.5  # systemd's scale: 0 = locked down, 10 = fully exposed


def test_it_restarts_forever_keeps_its_state_and_may_use_bluetooth() -> None:
    unit = _settings()
    assert unit["ExecStart"] == ["/opt/oxiward/bin/oxiward gateway run"]
    assert unit["Restart"] == ["always"]
    assert unit["StartLimitIntervalSec"] == ["0"]
    assert unit["DynamicUser"] == ["yes"]
    assert unit["SupplementaryGroups"] == ["bluetooth"]
    assert unit["StateDirectory"] == ["oxiward-gateway"]
    assert "OXIWARD_GATEWAY_STATE_DIR=%S/oxiward-gateway" in unit["Environment"]
    assert "OXIWARD_GATEWAY_CONFIG=/etc/oxiward/gateway.toml" in unit["Environment"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    assert "AF_UNIX" in unit["RestrictAddressFamilies"][0]  # D-Bus to bluetoothd
    assert "ProtectClock" not in unit  # would block the read-only adjtimex() of the clock report
