"""`oxiward alerting evaluate`: one reading + a care plan -> every number the rules give, as JSON.

The same evaluation as `POST /v1/alerting/evaluate` (alerting/explain.py); standard library only, so
it runs anywhere the package is installed, without Redis or the service.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EVALUATE_HELP = """\
Evaluate one pulse-oximeter reading under a care plan and print JSON: the CO@h band, every NEWS2
sub-score with the partial or full total and its Chart 4 response, the BTS assessment (when the plan
has a target), signal quality, each rule's result and the alert priority.

The plan comes from --plan FILE (a care plan as JSON, or a care-plan record with a "plan" field) and
the plan flags, which override it; without either, the default CO@h bands on air apply.

examples:
  oxiward alerting evaluate --spo2 93 --pulse 88
  oxiward alerting evaluate --spo2 90 --pulse 112 --oxygen --rule-pack news2-scale2 --target 88-92 \\
      --rr 24 --sbp 105 --temp 38.4 --acvpu A
  oxiward alerting evaluate --spo2 85 --device-status 0x800        # probe off: advisory, repeat
  oxiward alerting evaluate --spo2 91 --plan plan.json --measured-at 2025-01-14T09:00:00Z
"""

USAGE_EXIT = 2


def add_parser(commands: Any) -> None:
    """Add `alerting evaluate` to the top-level subcommands."""
    alerting = commands.add_parser("alerting", help="evaluate readings against the clinical rules")
    actions = alerting.add_subparsers(dest="alerting_command", metavar="ACTION", required=True)
    p = actions.add_parser(
        "evaluate",
        help="evaluate one reading under a care plan, print JSON",
        description=EVALUATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reading = p.add_argument_group("reading")
    reading.add_argument("--spo2", type=float, help="SpO2 %% (omit for 'no reading')")
    reading.add_argument("--pulse", type=float, help="pulse, beats/min")
    oxygen = reading.add_mutually_exclusive_group()
    oxygen.add_argument(
        "--oxygen", dest="on_oxygen", action="store_true", default=None, help="taken on oxygen"
    )
    oxygen.add_argument("--air", dest="on_oxygen", action="store_false", help="taken on air")
    reading.add_argument("--mode", choices=("spot-check", "continuous"), default="spot-check")
    reading.add_argument("--measured-at", help="ISO 8601 with offset (default: --now)")
    reading.add_argument("--measurement-status", type=_int, help="PLX Measurement Status bits, e.g. 0x4000")
    reading.add_argument("--device-status", type=_int, help="PLX Device and Sensor Status bits, e.g. 0x800")
    reading.add_argument("--perfusion-index", type=float)
    manual = p.add_argument_group("manual observations (NEWS2, measured at --now)")
    manual.add_argument("--rr", type=float, help="respiration rate, breaths/min")
    manual.add_argument("--sbp", type=float, help="systolic blood pressure, mmHg")
    manual.add_argument("--temp", type=float, help="temperature, degrees Celsius")
    manual.add_argument("--acvpu", choices=tuple("ACVPU"), help="consciousness")
    plan = p.add_argument_group("care plan")
    plan.add_argument("--plan", type=Path, metavar="FILE", help="care plan JSON")
    plan.add_argument(
        "--rule-pack", choices=("o2home", "news2-scale1", "news2-scale2", "bts-94-98", "bts-88-92")
    )
    plan.add_argument("--target", help="BTS target range, 94-98 or 88-92")
    plan.add_argument("--baseline", type=float, help="the patient's usual SpO2 %%")
    plan.add_argument(
        "--plan-on-oxygen", action="store_true", default=None, help="the plan's default: on oxygen"
    )
    p.add_argument("--now", help="evaluate as if at this ISO 8601 time (default: now)")
    p.set_defaults(handler=run_evaluate)


def _int(text: str) -> int:
    return int(text, 0)  # 2048, 0x800 or 0b100000000000


class _Refused(Exception):
    pass


def _time(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Refused(f"{name} {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise _Refused(f"{name} needs a UTC offset, e.g. {text}Z")
    return moment


def _plan(args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if args.plan is not None:
        try:
            loaded = json.loads(args.plan.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise _Refused(f"cannot read the plan {args.plan}: {err}") from err
        if isinstance(loaded, dict) and isinstance(loaded.get("plan"), dict):
            loaded = loaded["plan"]  # a care-plan record as the API returns it
        if not isinstance(loaded, dict):
            raise _Refused(f"{args.plan} does not hold a care plan object")
        data.update(loaded)
    if args.rule_pack is not None:
        data["rule_pack"] = args.rule_pack
    if args.target is not None:
        low, sep, high = args.target.partition("-")
        if not sep or not low.isdigit() or not high.isdigit():
            raise _Refused(f"--target {args.target!r}: give it as LOW-HIGH, e.g. 88-92")
        data["target_spo2"] = [int(low), int(high)]
    if args.baseline is not None:
        data["baseline_spo2"] = args.baseline
    if args.plan_on_oxygen is not None:
        data["on_oxygen"] = True
    return data


def evaluate(args: argparse.Namespace) -> dict[str, object]:
    from alerting.careplan import CarePlan
    from alerting.explain import explain, manual_from_list, reading_from_dict

    now = _time(args.now, "--now") or datetime.now(UTC)
    measured = _time(args.measured_at, "--measured-at")
    reading: dict[str, Any] = {
        "spo2": args.spo2,
        "pulse": args.pulse,
        "mode": args.mode,
        "measured_at": None if measured is None else measured.isoformat(),
        "measurement_status": args.measurement_status,
        "device_sensor_status": args.device_status,
        "perfusion_index": args.perfusion_index,
        "on_oxygen": args.on_oxygen,
    }
    manual = [
        {"parameter": name, "value": value}
        for name, value in (
            ("respiration_rate", args.rr),
            ("systolic_bp", args.sbp),
            ("temperature", args.temp),
            ("consciousness", args.acvpu),
        )
        if value is not None
    ]
    try:
        plan = CarePlan.from_dict(_plan(args))
        return explain(reading_from_dict(reading, now), plan, now, manual_from_list(manual, now))
    except ValueError as err:  # PlanError and codec.DecodeError say what is wrong
        raise _Refused(str(err)) from err


def run_evaluate(args: argparse.Namespace) -> int:
    try:
        result = evaluate(args)
    except _Refused as err:
        print(f"oxiward alerting evaluate: {err}", file=sys.stderr)
        return USAGE_EXIT
    print(json.dumps(result, indent=2))
    return 0
