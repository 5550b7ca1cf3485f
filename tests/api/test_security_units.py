"""The pure parts of api/security/: credential formats and hashes, JWTs, roles, audit entries."""

from __future__ import annotations

import re
import time

import jwt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api import metrics
from api.security import audit
from api.security.middleware import route_template
from api.security.principal import Kind, Principal
from api.security.roles import ROLE_SCOPES, Role, Scope, format_scopes, parse_scopes
from api.security.secrets import (
    api_secret_matches,
    hash_api_secret,
    hash_password,
    new_api_key,
    parse_api_key,
    verify_password,
)
from api.security.tokens import InvalidToken, TokenConfig, issue, verify

CONFIG = TokenConfig(b"k" * 32, "oxiward", "oxiward-api", 900)


def test_api_keys_are_prefixed_random_and_parse_back() -> None:
    one, two = new_api_key(), new_api_key()
    assert re.fullmatch(r"oxw_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", one.token)
    assert one.token != two.token
    assert parse_api_key(one.token) == one
    for bad in ("", "oxw_", one.token + "x", one.token[:-1], "xyz_" + one.token[4:], one.token.upper()):
        assert parse_api_key(bad) is None, bad


def test_api_key_secrets_are_stored_as_sha256() -> None:
    key = new_api_key()
    stored = hash_api_secret(key.secret)
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert key.secret not in stored
    assert api_secret_matches(key.secret, stored)
    assert not api_secret_matches(new_api_key().secret, stored)


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("a long passphrase"), hash_password("a long passphrase")
    assert first.startswith("scrypt$15$8$1$")
    assert first != second  # salted
    assert verify_password("a long passphrase", first)
    assert not verify_password("a long passphrase!", first)
    assert "passphrase" not in first


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "bcrypt$x",
        "scrypt$15$8$1$salt",
        "scrypt$x$8$1$AAAA$AAAA",
        "scrypt$30$8$1$AAAA$AAAA",
        "scrypt$15$8$1$!$!",
    ],
    ids=["empty", "other-scheme", "short", "not-a-number", "cost-too-high", "bad-base64"],
)
def test_malformed_or_dangerous_password_hashes_never_match(stored: str) -> None:
    started = time.perf_counter()
    assert not verify_password("anything at all", stored)
    assert time.perf_counter() - started < 5  # a 2^30 cost was refused, not computed


def test_tokens_round_trip_with_millisecond_issue_time() -> None:
    now = time.time()
    token, claims = issue(CONFIG, "u-0123456789abcdef", frozenset({Scope.READ, Scope.ALERTS}), now)
    checked = verify(CONFIG, token)
    assert checked == claims
    assert checked.scopes == frozenset({Scope.READ, Scope.ALERTS})
    assert abs(checked.issued_at - now) < 0.001
    assert checked.expires_at == int(now) + 900
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_tokens_from_elsewhere_are_refused() -> None:
    token, _ = issue(CONFIG, "u-1", frozenset({Scope.READ}), time.time())
    others = [
        TokenConfig(b"x" * 32, "oxiward", "oxiward-api", 900),
        TokenConfig(b"k" * 32, "other", "oxiward-api", 900),
        TokenConfig(b"k" * 32, "oxiward", "other", 900),
    ]
    for config in others:
        with pytest.raises(InvalidToken):
            verify(config, token)
    old, _ = issue(CONFIG, "u-1", frozenset({Scope.READ}), time.time() - 3600)
    with pytest.raises(InvalidToken, match="expired"):
        verify(CONFIG, old)
    now = int(time.time())
    unknown_scope = jwt.encode(
        {"iss": "oxiward", "aud": "oxiward-api", "sub": "u-1", "iat": now, "nbf": now, "exp": now + 60,
         "jti": "j", "scope": "ward:read root"},
        b"k" * 32,
        algorithm="HS256",
    )  # fmt: skip
    with pytest.raises(InvalidToken):
        verify(CONFIG, unknown_scope)


def test_role_table() -> None:
    assert set(ROLE_SCOPES) == set(Role)
    assert ROLE_SCOPES[Role.ADMINISTRATOR] == frozenset(Scope)
    for role in Role:
        if role is not Role.ADMINISTRATOR:
            assert Scope.ADMIN not in ROLE_SCOPES[role]
            assert Scope.AUDIT not in ROLE_SCOPES[role]
    assert ROLE_SCOPES[Role.CLINICIAN] >= {Scope.READ, Scope.ALERTS}
    assert Scope.READ not in ROLE_SCOPES[Role.GATEWAY]  # a gateway reads no patient data
    assert parse_scopes("ward:read  alerts:write") == frozenset({Scope.READ, Scope.ALERTS})
    assert format_scopes(frozenset({Scope.ALERTS, Scope.READ})) == "alerts:write ward:read"
    with pytest.raises(ValueError, match="unknown scope `root`"):
        parse_scopes("ward:read root")


def test_ward_grants() -> None:
    limited = Principal("u-1", Role.CLINICIAN, frozenset(), frozenset({"a"}), Kind.USER)
    everywhere = Principal("bootstrap:x", Role.ADMINISTRATOR, frozenset(Scope), None)
    assert limited.sees_ward("a")
    assert not limited.sees_ward("b")
    assert everywhere.sees_ward("anything")


def test_route_templates_hide_ids() -> None:
    scope = {
        "route": object(),
        "path": "/v1/patients/p-9/alerts/a-1/ack",
        "path_params": {"patient_id": "p-9", "alert_id": "a-1"},
    }
    assert route_template(scope) == "/v1/patients/{patient_id}/alerts/{alert_id}/ack"
    assert route_template({"path": "/v1/patients/p-9"}) == "<unrouted>"


def test_audit_entries_record_who_what_where_and_outcome() -> None:
    ctx = audit.AuditContext("req-1", client="10.0.0.7", actor="u-1", role="clinician")
    for n in range(audit.MAX_NOTED + 5):
        ctx.note(patient_id=f"p-{n}", ward_id="w1")
    ctx.note(patient_id="p-0")  # noted once
    fields = audit.entry(ctx, "GET", "/v1/patients", 200, {"alert_id": "a-1", "patient_id": "p-0"})
    assert fields["actor"] == "u-1"
    assert fields["action"] == "read"
    assert len(fields["patients"].split(",")) == audit.MAX_NOTED
    assert fields["patients_total"] == str(audit.MAX_NOTED + 5)
    assert fields["wards"] == "w1"
    assert fields["target"] == "alert_id=a-1"
    assert fields["outcome"] == "ok"
    assert [audit.outcome_of(s) for s in (201, 401, 403, 404, 429, 503)] == [
        "ok", "denied", "denied", "refused", "rate-limited", "error",
    ]  # fmt: skip


def test_roster_reads_match_a_patient_for_the_time_the_patient_was_on_the_ward() -> None:
    admitted, discharged = 1_000_000, 2_000_000
    stay = audit.Stay("w1", admitted, discharged)
    by_patient = audit.Filters(patient="p-1", stays=(stay, audit.Stay("w2", discharged, None)))

    def read(route: str, ward: str, at_ms: int, status: int = 200) -> bool:
        fields = {"route": route, "wards": ward, "patients": "", "outcome": audit.outcome_of(status)}
        return by_patient.match(fields, at_ms)

    queue, events = "/v1/wards/{ward_id}/queue", "/v1/wards/{ward_id}/events"
    assert read(queue, "w1", admitted)
    assert not read(queue, "w1", admitted - 1)  # before the admission
    assert read(queue, "w1", discharged + audit.ROSTER_GRACE_MS)  # begun before the discharge
    assert not read(queue, "w1", discharged + audit.ROSTER_GRACE_MS + 1)
    assert read(queue, "w2", discharged + 10**9)  # still on w2
    assert not read(queue, "w3", admitted)
    assert not read(queue, "w1", admitted, status=403)  # a refused read showed no one
    assert not read("/v1/wards/{ward_id}", "w1", admitted)  # the ward's own record lists no patients
    # A live stream shows the ward for up to its lifetime: one opened just before the admission did.
    assert read(events, "w1", admitted - 60_000)
    assert not read(events, "w1", admitted - int(audit.ROSTER_READS[events] * 1000) - 1)
    # Without stays (or without a patient filter) only the patients named in the entry count.
    assert not audit.Filters(patient="p-1").match({"route": queue, "wards": "w1", "outcome": "ok"}, admitted)


def test_metric_names_follow_the_field_rule() -> None:
    snap = metrics.Snapshot(
        counters={
            "received": 5,
            "dead_letter:bad-json": 2,
            "delivery_failed:rota-webhook": 1,
            "alerts_raised:high": 3,
            "alerts_upgraded:high": 2,
            "odd name:x": 1,
        }
    )
    text = metrics.render(metrics.HttpMetrics(), snap).decode()
    names = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    assert names[("oxiward_readings_received_total", ())] == 5
    assert names[("oxiward_dead_letters_total", (("reason", "bad-json"),))] == 2
    assert names[("oxiward_delivery_failures_total", (("channel", "rota-webhook"),))] == 1
    assert names[("oxiward_alerts_raised_total", (("priority", "high"),))] == 3
    assert names[("oxiward_alerts_upgraded_total", (("priority", "high"),))] == 2
    assert names[("oxiward_odd_name_total", (("kind", "x"),))] == 1
