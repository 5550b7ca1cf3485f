"""Enrol simulated patients through the REST API (standard library HTTP: the simulator needs no
HTTP client library, and a running service is the only thing it talks to)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from oxiward.settings_errors import UsageError

#: The API may still be starting (compose starts the simulator once it is healthy, the demo once
#: /readyz answers; a loaded machine is slow): retry this long before giving up.
RETRY_FOR_S = 60.0


@dataclass(frozen=True)
class Enrolment:
    patient_id: str
    ref: str
    device: str


class ApiClient:
    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """(status, parsed JSON body or None). HTTP errors are returned, not raised; network errors raise."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310 - base URL is validated http(s) in SimSettings
            self.base_url + path, data=data, method=method,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:  # noqa: S310
                return response.status, _json(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _json(exc.read())


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def enrol(client: ApiClient, ward: str, patient: Enrolment, retry_for: float = RETRY_FOR_S) -> None:
    """Enrol `patient` on `ward`; already enrolled with the same device counts as done (re-runs)."""
    body = {"patient_id": patient.patient_id, "ref": patient.ref, "devices": [patient.device]}
    deadline = time.monotonic() + retry_for
    while True:
        try:
            status, answer = client.request("POST", f"/v1/wards/{ward}/patients", body)
        except (urllib.error.URLError, OSError) as exc:
            status, answer = 0, {"detail": str(getattr(exc, "reason", exc))}
        if status == 201:
            return
        if status == 409 and _already_mine(client, patient):
            return
        if status in (401, 403):
            raise UsageError(f"the API refused the simulator's token ({status}): check OXIWARD_SIM_API_TOKEN")
        if status not in (0, 502, 503, 504) or time.monotonic() > deadline:
            detail = answer.get("detail") if isinstance(answer, dict) else answer
            where = f"{client.base_url} ({status or 'unreachable'})"
            raise UsageError(f"could not enrol a simulated patient at {where}: {detail}")
        time.sleep(1.0)


def _already_mine(client: ApiClient, patient: Enrolment) -> bool:
    status, answer = client.request("GET", f"/v1/patients/{patient.patient_id}")
    return status == 200 and isinstance(answer, dict) and patient.device in answer.get("devices", [])
