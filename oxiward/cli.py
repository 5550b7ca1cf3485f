"""`oxiward`: one command for the demo, the service, the home gateway and the simulator.

Every subcommand imports its libraries only when it runs, so `oxiward gateway --help` on a
gateway (which installs `oxiward[gateway]` only) never needs FastAPI, Redis or bumble.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

from oxiward.help_text import API_HELP, DEMO_HELP, GATEWAY_DECODE_HELP, GATEWAY_HELP, SIMULATE_HELP

USAGE_EXIT = 2  # as argparse: "called or configured wrongly"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help ends with a table of the environment variables it reads.

    The table is built from the settings model when help is asked for, so it cannot drift from
    the code and an ordinary run never pays for importing the model.
    """

    def __init__(self, *args: Any, env_table: Callable[[], str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self._env_table = env_table

    def format_help(self) -> str:
        text = super().format_help()
        if self._env_table is not None:
            text += "\n" + self._env_table()
        return text


def _version() -> str:
    try:
        return metadata.version("oxiward")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        import tomllib
        from pathlib import Path

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])


# -- environment tables (imported on demand) ---------------------------------------------------
def _api_env() -> str:
    from api.settings import ApiSettings
    from oxiward.help_text import env_table

    return env_table(ApiSettings, "OXIWARD_API_")


def _gateway_env() -> str:
    from gateway.settings import ENV_PREFIX, GatewaySettings
    from oxiward.help_text import env_table

    return env_table(GatewaySettings, ENV_PREFIX)


def _sim_env() -> str:
    from oxiward.help_text import env_table
    from oxiward.sim_settings import ENV_PREFIX, SimSettings

    return env_table(SimSettings, ENV_PREFIX)


# -- commands -------------------------------------------------------------------------------------
def _cmd_api(args: argparse.Namespace) -> int:
    from oxiward.service import run_api

    return run_api()


def _cmd_gateway_run(args: argparse.Namespace) -> int:
    from oxiward.service import run_gateway

    return run_gateway()


def _cmd_gateway_decode(args: argparse.Namespace) -> int:
    from gateway.protocols import ProtocolError, decode

    text = "".join(str(args.hex).split()).removeprefix("0x")
    try:
        frame = bytes.fromhex(text)
    except ValueError:
        print(f"error: {args.hex!r} is not hexadecimal bytes (e.g. 0064005a00)", file=sys.stderr)
        return USAGE_EXIT
    try:
        decoded = decode(args.protocol, frame)
    except ProtocolError as exc:
        print(f"error: cannot decode: {exc}", file=sys.stderr)
        return USAGE_EXIT
    print(json.dumps(decoded, indent=2, sort_keys=True))
    return 0


def _cmd_gateway_scan(args: argparse.Namespace) -> int:
    from gateway.scan import run_scan

    return run_scan(args.seconds, show_all=args.all, experimental=args.experimental)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from oxiward.simulate import run_simulate

    return run_simulate(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from oxiward.demo import run_demo

    return run_demo(args)


# -- parser ---------------------------------------------------------------------------------------
def _add_sim_options(p: argparse.ArgumentParser) -> None:
    # Defaults are None so that an unset flag leaves the OXIWARD_SIM_* variable (or its default) in force.
    p.add_argument("--patients", type=int, help="emulated patients, one oximeter and one gateway each")
    p.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="scenario for every patient, or repeat it to assign them round-robin "
        "(stable, slow-desaturation, sudden-drop, probe-off; default: all four in turn)",
    )
    p.add_argument("--mode", choices=("continuous", "spot-check"), help="what the oximeters send")
    p.add_argument("--interval", type=float, help="seconds between readings (default 1)")
    p.add_argument("--mqtt-url", help="broker, e.g. mqtt://127.0.0.1:1883")
    p.add_argument("--enrol-url", help="API base URL; enrol each patient there before starting")
    p.add_argument("--ward", help="ward to enrol the patients on (default sim-ward)")
    p.add_argument("--state-dir", help="where the gateways keep their outboxes (default: a temporary dir)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="oxiward",
        description="Oxiward: remote monitoring for pulse-oximetry virtual wards.",
        epilog="Run `oxiward COMMAND --help` for what each command reads and an example.",
    )
    parser.add_argument("--version", action="version", version=f"oxiward {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="the whole system on this machine", description=DEMO_HELP)
    demo.add_argument("--patients", type=int, default=4, help="emulated patients to enrol (default 4)")
    demo.add_argument("--interval", type=float, default=1.0, help="seconds between readings (default 1)")
    demo.add_argument("--port", type=int, default=8000, help="API port; 0 picks a free one (default 8000)")
    demo.add_argument("--ward", default="demo-ward", help="ward to enrol the patients on (default demo-ward)")
    demo.add_argument(
        "--broker",
        choices=("auto", "mosquitto", "amqtt"),
        default="auto",
        help="broker to start when MQTT_URL is unset (default auto: mosquitto if installed, else amqtt)",
    )
    demo.set_defaults(handler=_cmd_demo)

    api = commands.add_parser(
        "api",
        help="the service: MQTT ingest, evaluation worker, REST",
        description=API_HELP,
        env_table=_api_env,
    )
    api.set_defaults(handler=_cmd_api)

    gateway = commands.add_parser(
        "gateway",
        help="the home gateway (BLE in, MQTT out)",
        description=GATEWAY_HELP,
        env_table=_gateway_env,
    )
    gateway_commands = gateway.add_subparsers(dest="gateway_command", metavar="ACTION", required=True)
    run = gateway_commands.add_parser(
        "run", help="read the oximeters and publish", description=GATEWAY_HELP, env_table=_gateway_env
    )
    run.set_defaults(handler=_cmd_gateway_run)
    dec = gateway_commands.add_parser(
        "decode", help="decode one BLE frame and print it as JSON", description=GATEWAY_DECODE_HELP
    )
    dec.add_argument("protocol", metavar="PROTOCOL", help="e.g. plx-continuous, plx-spot-check")
    dec.add_argument("hex", metavar="HEX", help="the frame as hexadecimal, e.g. 0064005a00")
    dec.set_defaults(handler=_cmd_gateway_decode)
    scan = gateway_commands.add_parser(
        "scan",
        help="list nearby oximeters and the protocol the gateway would use",
        description="Scan for Bluetooth oximeters in reach and show, for each, the address to put in "
        "the gateway configuration and the protocol the gateway would read it with (docs/gateway.md).",
    )
    scan.add_argument("--seconds", type=float, default=10.0, help="how long to scan (default 10)")
    scan.add_argument("--all", action="store_true", help="also list devices that are not oximeters")
    scan.add_argument("--experimental", action="store_true", help="also recognise UNCONFIRMED protocols")
    scan.set_defaults(handler=_cmd_gateway_scan)

    sim = commands.add_parser(
        "simulate",
        help="emulated oximeters, each read by its own gateway",
        description=SIMULATE_HELP,
        env_table=_sim_env,
    )
    _add_sim_options(sim)
    sim.set_defaults(handler=_cmd_simulate)

    from oxiward.alerting_cli import add_parser as add_alerting  # standard library only: cheap

    add_alerting(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from oxiward.settings_errors import UsageError

    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        print(f"oxiward {args.command}: {exc}", file=sys.stderr)
        return USAGE_EXIT
    except KeyboardInterrupt:
        # Ctrl-C after a clean shutdown (uvicorn re-raises the signal it handled): no traceback.
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
