"""Errors under /fhir are FHIR OperationOutcomes (``application/fhir+json``), not problem details.

A FHIR client reads every error body as an OperationOutcome, whatever refused the request: the
route itself, authentication (401), scopes or ward grants (403), parameter validation (422),
rate limits (429), an unknown path (404) or the edge (413, 503). api/main.py and the edge
middleware ask :func:`is_fhir_path` and answer with :func:`outcome_for`; api/openapi.py documents
the same for every /fhir operation.
"""

from __future__ import annotations

from typing import Any

from api.fhir.resources import operation_outcome

FHIR_JSON = "application/fhir+json"

#: OperationOutcome.issue.code (http://hl7.org/fhir/issue-type) for each HTTP status we send.
_ISSUE_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-long",
    422: "invalid",
    429: "throttled",
    503: "transient",
}


def is_fhir_path(path: str) -> bool:
    return path == "/fhir" or path.startswith("/fhir/")


def outcome_for(status: int, detail: str) -> dict[str, Any]:
    """The OperationOutcome answering ``status``, saying ``detail`` (what a problem would say)."""
    code = _ISSUE_CODE.get(status, "exception" if status >= 500 else "processing")
    return operation_outcome("error", code, detail)
