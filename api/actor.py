"""Who is recorded as having acted on an alert, a care plan or an observation.

A person signed in (a user principal, including the ward pages' session) is always recorded under
their own username: a request body cannot act in someone else's name. A system (API key or
bootstrap token) acts for the person it names in `by`; the audit log records which system it was.
"""

from __future__ import annotations

from fastapi import Request
from redis.asyncio import Redis

from api.security import principals
from api.security.dependencies import authenticate
from api.security.principal import Kind


async def recorded_actor(request: Request, r: Redis, claimed: str) -> str:
    principal = await authenticate(request)  # cached for the request: no second check
    if principal.kind is not Kind.USER:
        return claimed
    record = await principals.get(r, principal.subject)
    return record.name if record is not None else principal.subject
