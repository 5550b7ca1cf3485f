"""`oxiward alerting evaluate`: a reading and a plan in, every number the rules give out, as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from oxiward.cli import main

ROOT = Path(__file__).resolve().parent.parent.parent
NOW = "2026-11-30T09:00:00+00:00"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any] | None, str]:
    code = main(["alerting", "evaluate", "--now", NOW, *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_defaults_to_co_at_home_bands_on_air(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--spo2", "93", "--pulse", "88")
    assert code == 0
    assert out is not None
    assert (out["band"], out["priority"], out["plan"]["rule_pack"]) == ("amber", "medium", "o2home")
    assert out["news2"]["partial"] is True
    assert out["reading"]["measured_at"] == NOW


def test_full_news2_from_flags(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        *("--spo2", "90", "--pulse", "112", "--oxygen", "--rule-pack", "news2-scale2", "--target", "88-92"),
        *("--rr", "24", "--sbp", "105", "--temp", "38.4", "--acvpu", "A"),
    )
    assert code == 0
    assert out is not None
    news = out["news2"]
    assert news["subscores"] == {
        "respiration_rate": 2,
        "spo2": 0,
        "air_or_oxygen": 2,
        "systolic_bp": 1,
        "pulse": 2,
        "consciousness": 0,
        "temperature": 1,
    }
    assert (news["total"], news["partial"], news["response"], out["priority"]) == (8, False, "high", "high")


def test_plan_file_status_bits_and_overrides(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    # A care-plan record as the API returns it is accepted as well as a bare plan.
    plan.write_text(json.dumps({"version": 3, "plan": {"rule_pack": "bts-94-98", "baseline_spo2": 99}}))
    code, out, _ = run(capsys, "--spo2", "95", "--plan", str(plan), "--baseline", "97")
    assert code == 0
    assert out is not None
    assert (out["plan"]["baseline_spo2"], out["bts"]["fall"], out["priority"]) == (97.0, 2.0, None)
    code, out, _ = run(capsys, "--spo2", "85", "--device-status", "0x800", "--plan", str(plan))
    assert code == 0
    assert out is not None
    assert (out["quality"]["reasons"], out["priority"], out["repeat_requested"]) == (
        ["probe-off"],
        "advisory",
        True,
    )
    code, out, _ = run(capsys, "--spo2", "95", "--plan-on-oxygen", "--rule-pack", "news2-scale1", "--air")
    assert out is not None
    assert (out["plan"]["on_oxygen"], out["reading"]["on_oxygen"]) == (True, False)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--spo2", "95", "--rule-pack", "news2-scale2"], "scale 2 is only for"),
        (["--spo2", "95", "--target", "90"], "LOW-HIGH"),
        (["--spo2", "95", "--measured-at", "yesterday"], "not an ISO 8601 time"),
        (["--spo2", "95", "--measured-at", "2026-11-30T08:00:00"], "UTC offset"),
        (["--spo2", "95", "--plan", "/nonexistent/plan.json"], "cannot read the plan"),
    ],
)
def test_mistakes_are_explained(capsys: pytest.CaptureFixture[str], args: list[str], says: str) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2
    assert says in err


def test_a_plan_file_must_hold_an_object(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text("[1, 2]")
    code, _, err = run(capsys, "--spo2", "95", "--plan", str(plan))
    assert (code, "does not hold a care plan object" in err) == (2, True)


def test_as_a_user_runs_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "oxiward", "alerting", "evaluate", "--spo2", "91", "--continuous-typo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2  # argparse refuses an unknown flag
    result = subprocess.run(
        [sys.executable, "-m", "oxiward", "alerting", "evaluate", "--spo2", "91", "--mode", "continuous"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    # One continuous sample 1 point below the red edge: persistence not yet met, rapid desat not reached.
    band_rule = next(r for r in out["results"] if r["rule"] == "o2home-band")
    assert (out["band"], band_rule["status"], band_rule["detail"]["pending"]) == ("red", "clear", "high")
