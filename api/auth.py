"""Authentication and authorisation for the REST API: the public face of api/security/.

Routes declare what they need through the aliases in api/deps.py (``Reader``,
``ReadablePatient``, …), built from the dependencies here. Other modules (FHIR search, webhook
delivery, exports) filter by ward with ``principal_can_see_ward`` / ``principal_can_see_patient``
and record the patients they touch with ``note_access``. docs/api.md has the model and tables.
"""

from __future__ import annotations

from api.security.audit import note_access
from api.security.authn import Authenticator, fingerprint
from api.security.dependencies import (
    authenticate,
    authorize,
    oauth2_scheme,
    patient_access,
    principal_can_see_patient,
    principal_can_see_ward,
    request_principal,
    require_patient_access,
    scoped,
    ward_access,
)
from api.security.principal import REALM, AuthError, Kind, Principal, RateLimited
from api.security.roles import ROLE_SCOPES, Role, Scope

__all__ = [
    "REALM",
    "ROLE_SCOPES",
    "AuthError",
    "Authenticator",
    "Kind",
    "Principal",
    "RateLimited",
    "Role",
    "Scope",
    "authenticate",
    "authorize",
    "fingerprint",
    "note_access",
    "oauth2_scheme",
    "patient_access",
    "principal_can_see_patient",
    "principal_can_see_ward",
    "request_principal",
    "require_patient_access",
    "scoped",
    "ward_access",
]
