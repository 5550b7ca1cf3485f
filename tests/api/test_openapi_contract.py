"""The published OpenAPI document: version 3.1, errors documented as problem details, and an
example on every operation (api/openapi.py finishes what FastAPI generates)."""

from __future__ import annotations

from typing import Any

from api.main import create_app
from tests.api.rest_support import settings

SPEC: dict[str, Any] = create_app(settings("redis://127.0.0.1:1/0")).openapi()


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in SPEC["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    ]


def _has_example(content: dict[str, Any]) -> bool:
    return bool(content) and all("example" in m or "examples" in m for m in content.values())


def test_the_document_is_openapi_3_1() -> None:
    assert SPEC["openapi"].startswith("3.1.")
    assert len(_operations()) >= 70


def test_every_operation_shows_an_example() -> None:
    missing = set()
    for method, path, op in _operations():
        responses = op["responses"]
        success = [r for s, r in responses.items() if s.startswith("2")]
        shows = "204" in responses or any(_has_example(r.get("content", {})) for r in success)
        body = op.get("requestBody")
        if not shows or (body is not None and not _has_example(body.get("content", {}))):
            missing.add((method, path))
    assert missing == set()


def test_errors_are_documented_as_problem_details() -> None:
    """Problem details on /v1; under /fhir every error (401, 403, 422, 429…) an OperationOutcome."""
    # Error bodies of their own: the readiness report, OAuth 2.0 token errors (RFC 6749 §5.2).
    own_errors = {"/readyz": {"503"}, "/v1/auth/token": {"400", "401"}}
    fhir_statuses = set()
    for method, path, op in _operations():
        for status, response in op["responses"].items():
            if not status.startswith(("4", "5")) or status in own_errors.get(path, set()):
                continue
            content = response["content"]
            if path.startswith("/fhir/"):
                assert list(content) == ["application/fhir+json"], (method, path, status)
                assert content["application/fhir+json"]["schema"] == {
                    "$ref": "#/components/schemas/OperationOutcome"
                }, (method, path, status)
                fhir_statuses.add(status)
                continue
            assert content == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, (
                method,
                path,
                status,
            )
    assert {"400", "401", "403", "404", "422", "429"} <= fhir_statuses
    assert SPEC["components"]["schemas"]["OperationOutcome"]["properties"]["resourceType"] == {
        "const": "OperationOutcome"
    }
    assert "HTTPValidationError" not in SPEC["components"]["schemas"]


def test_every_schema_reference_resolves() -> None:
    """A `$ref` to a component the document does not define leaves clients (and fuzzers) guessing."""
    defined = {f"#/components/schemas/{name}" for name in SPEC["components"]["schemas"]}
    refs: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                refs.add(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(SPEC)
    assert refs
    assert refs - defined == set()


def test_operations_with_a_body_document_an_unparseable_body() -> None:
    for method, path, op in _operations():
        if "requestBody" in op:
            assert "400" in op["responses"], (method, path)
