"""The published OpenAPI 3.1 document, made to say exactly what the service sends.

FastAPI's generated document differs from the wire in two ways, fixed here once for every route:

- errors: the service answers every 4xx/5xx with RFC 9457 problem details
  (``application/problem+json``, schema ``Problem``), including request validation (422), where
  FastAPI documents its own ``HTTPValidationError`` as ``application/json``; under /fhir every
  error is an ``OperationOutcome`` (``application/fhir+json``, api/fhir/errors.py); and an
  operation with a request body can answer 400 when the body does not parse, which FastAPI
  leaves out;
- examples: models carry their examples in ``components``; each operation's request body and
  success response gets the first one as its ``example``, so every operation shows one where
  clients (and Swagger UI) look first.

The result is computed once and cached, like FastAPI's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api.fhir.errors import FHIR_JSON, is_fhir_path, outcome_for

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
OUTCOME_REF = {"$ref": "#/components/schemas/OperationOutcome"}
_FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")
#: What the FHIR API's errors are documented as: the parts of a FHIR R4 OperationOutcome we send.
OUTCOME_SCHEMA: dict[str, Any] = {
    "title": "OperationOutcome",
    "description": "FHIR R4 OperationOutcome: what is wrong, in `issue[].diagnostics`",
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string"},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                },
            },
        },
    },
    "examples": [outcome_for(403, "you are not granted the ward of this resource")],
}


def _component_example(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    ref = schema.get("$ref", "")
    if not ref.startswith("#/components/schemas/"):
        return None
    component = spec.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
    examples = component.get("examples")
    return examples[0] if isinstance(examples, list) and examples else None


def _add_example(spec: dict[str, Any], content: dict[str, Any]) -> None:
    for media in content.values():
        if not isinstance(media, dict) or "example" in media or "examples" in media:
            continue
        found = _component_example(spec, media.get("schema", {}))
        if found is not None:
            media["example"] = found


def _generic_error(content: dict[str, Any]) -> bool:
    """True unless the route documents an error body of its own (a FHIR OperationOutcome, the
    readiness report on 503): those are kept as they are."""
    for media in content.values():
        schema = media.get("schema", {}) if isinstance(media, dict) else {}
        if schema and schema.get("$ref", "").rsplit("/", 1)[-1] not in {"Problem", *_FASTAPI_ERRORS}:
            return False
    return True


def _outcome(content: dict[str, Any]) -> dict[str, Any]:
    """A /fhir error's content: the OperationOutcome schema, keeping the route's own example."""
    media = content.get(FHIR_JSON, {})
    example = {"example": media["example"]} if "example" in media else {}
    return {FHIR_JSON: {"schema": OUTCOME_REF, **example}}


def _fix_operation(spec: dict[str, Any], path: str, operation: dict[str, Any]) -> None:
    body = operation.get("requestBody", {})
    _add_example(spec, body.get("content", {}))
    responses = operation.get("responses", {})
    if body and "400" not in responses:
        responses["400"] = {"description": "The body is not valid JSON (or not the declared media type)"}
    for status, response in responses.items():
        content = response.get("content", {})
        if str(status).startswith(("4", "5")) and is_fhir_path(path):
            response["content"] = _outcome(content)
            continue
        if str(status).startswith(("4", "5")) and _generic_error(content):
            # Errors are problem details, whatever FastAPI inferred.
            response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
            continue
        if str(status).startswith("2"):
            _add_example(spec, content)


def finish(spec: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a FastAPI-generated document in place (see the module docstring) and return it."""
    fhir = False
    for path, path_item in spec.get("paths", {}).items():
        fhir = fhir or is_fhir_path(path)
        for operation in path_item.values():
            if isinstance(operation, dict) and "responses" in operation:
                _fix_operation(spec, path, operation)
    schemas = spec.get("components", {}).get("schemas", {})
    for name in _FASTAPI_ERRORS:
        schemas.pop(name, None)
    if fhir:
        schemas["OperationOutcome"] = OUTCOME_SCHEMA
    return spec


def install(app: FastAPI) -> None:
    """Serve the finished document from ``app.openapi()`` (and so from /openapi.json)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
