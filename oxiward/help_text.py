"""What each `oxiward` command's --help says: purpose, environment and an example."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

DEMO_HELP = """\
Start the whole system on this machine and keep it running until Ctrl-C:
Redis, an MQTT broker, the service (ingest, evaluation worker, REST API) and
emulated patients, each an emulated BLE oximeter read by its own home gateway.
It enrols the patients on a ward, then prints the API docs URL, the ward queue
page and the API token.

Environment (all optional):
  REDIS_URL                 use this Redis instead of starting an embedded Valkey
  MQTT_URL                  use this broker instead of starting one (mosquitto from
                            PATH if installed, else an in-process amqtt broker)
  OXIWARD_API_API_TOKENS    API token(s) to accept, instead of a random one

Example:
  oxiward demo --patients 4
"""

API_HELP = """\
Run the service: subscribe to the gateways' readings over MQTT, store them in
Redis, evaluate them against the escalation rules and serve the REST API and
the ward queue page. Reads OXIWARD_API_* environment variables (below); a
wrong or missing one stops it with a message naming the variable.

Example:
  OXIWARD_API_REDIS_URL=redis://127.0.0.1:6379/0 \\
  OXIWARD_API_MQTT_URL=mqtt://127.0.0.1:1883 \\
  OXIWARD_API_API_TOKENS=$(openssl rand -hex 24) oxiward api
"""

GATEWAY_HELP = """\
The home gateway: connect to the patient's BLE pulse oximeters, decode each
frame, keep it in a durable outbox and publish it over MQTT (QoS 1). Reads
OXIWARD_GATEWAY_* environment variables (below).

Example:
  OXIWARD_GATEWAY_GATEWAY_ID=home-0042 OXIWARD_GATEWAY_DEVICES=C0:FF:EE:00:00:01 \\
  OXIWARD_GATEWAY_MQTT_URL=mqtts://broker.example.org:8883 \\
  OXIWARD_GATEWAY_MQTT_PASSWORD=... oxiward gateway run

  oxiward gateway decode plx-continuous 0064005a00
"""

GATEWAY_DECODE_HELP = """\
Decode one frame of a BLE oximeter protocol and print the values as JSON (no
environment variables are read). Exit status 2 if the protocol is unknown or
the frame is malformed.

Example:
  oxiward gateway decode plx-continuous 0064005a00
"""

SIMULATE_HELP = """\
Run N emulated patients in one process: N emulated BLE pulse oximeters, each
read by its own gateway (ids sim-gw-01, sim-gw-02, ...) publishing to the
broker like a real one. Optionally enrol each patient on a ward through the
REST API first. Flags override the OXIWARD_SIM_* environment variables (below).

Example:
  oxiward simulate --patients 4 --mqtt-url mqtt://127.0.0.1:1883 \\
      --enrol-url http://127.0.0.1:8000 --ward sim-ward   # token in OXIWARD_SIM_API_TOKEN
"""


def _default(name: str, field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return "default: computed"
    if field.default is None:
        return "optional"
    if "password" in name or "token" in name:
        return "secret"
    value = field.default
    shown = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return f"default: {shown}"


def env_table(model: type[BaseModel], prefix: str) -> str:
    """The model's fields as environment variables: name, required or default, description."""
    rows = [
        (f"{prefix}{name.upper()}", _default(name, f), f.description or "")
        for name, f in model.model_fields.items()
    ]
    width = max(len(env) for env, _, _ in rows)
    lines = ["environment variables:"]
    lines += [f"  {env:<{width}}  {about}{' ' if about else ''}({default})" for env, default, about in rows]
    return "\n".join(lines) + "\n"
