"""A notification's tracked link, `/n/{delivery id}?t={token}` (api/notify/receipts.py).

No bearer: the token proves the link came from the message. Following it records the delivery
`read` and answers 303 to the patient page, which asks for the ward sign-in as always. The page gets
the delivery in its fragment (`#accept=<alert>.<delivery>.<token>`): a fragment never reaches a
server, a log or a Referer, and lets the signed-in clinician's acknowledgement accept this delivery
(api/web/accept-link.js). Anything wrong is one plain 404 that says nothing about why.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from api.deps import NowDep, RedisDep
from api.notify import receipts
from api.routes.web_pages import HEADERS

router = APIRouter(include_in_schema=False)

_DELIVERY_ID = re.compile(r"[0-9a-f]{32}")
_TOKEN = re.compile(r"[0-9a-f]{64}")


@router.get("/n/{delivery_id}")
async def follow_link(delivery_id: str, r: RedisDep, now: NowDep, t: str = "") -> Response:
    found = None
    if _DELIVERY_ID.fullmatch(delivery_id) and _TOKEN.fullmatch(t):
        found = await receipts.follow(r, delivery_id, t, now)
    if found is None:
        return PlainTextResponse("This link is not valid, or it has expired.", 404, headers=HEADERS)
    page = f"/ward/{found.ward}/patients/{found.patient_id}#accept={found.alert_id}.{delivery_id}.{t}"
    return Response(status_code=303, headers={**HEADERS, "Location": page})
