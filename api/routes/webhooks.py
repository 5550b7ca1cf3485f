"""Webhook subscriptions: an integrator registers a URL for reading.created, alert.raised and
alert.updated events; deliveries are signed (HMAC-SHA256), retried, then dead-lettered
(api/webhooks/delivery.py). A caller sees and changes only its own subscriptions
(administrators: all); ward filters must be wards the caller is granted; a URL must lead to an
address the target policy allows (api/webhooks/targets.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from redis.asyncio import Redis

from api.auth import Principal, Scope
from api.deps import NowDep, RedisDep, SettingsDep
from api.resources.access import WebhookManager, require_ward
from api.schemas import problem_responses
from api.webhooks import store, targets
from api.webhooks.schemas import (
    DeadLetterPage,
    PingAccepted,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookRead,
    WebhookSecret,
    WebhookUpdate,
)

router = APIRouter(tags=["webhooks"])
SubscriptionId = Annotated[str, Path(pattern=r"^wh-[0-9a-f]{16}$", examples=["wh-4f1c2a9e7b3d5c60"])]


def _owns(principal: Principal, owner: str) -> bool:
    return owner == principal.subject or Scope.ADMIN in principal.scopes


async def _mine(r: Redis, principal: Principal, subscription_id: str) -> WebhookRead:
    found = await store.get(r, subscription_id)
    if found is None or not _owns(principal, found[1]):
        # Someone else's subscription is as good as absent: its id says nothing about them.
        raise HTTPException(404, f"no webhook subscription {subscription_id}")
    return found[0]


def _check_wards(request: Request, principal: Principal, ward_ids: list[str] | None) -> None:
    for ward in ward_ids or []:
        require_ward(request, principal, ward)


async def _check_url(url: str | None, settings: SettingsDep) -> None:
    """422 when the URL's host resolves to an address webhooks may not reach (loopback, private…)."""
    if url is not None:
        refusal = await targets.url_refusal(url, settings.webhook_targets())
        if refusal:
            raise HTTPException(422, f"url: {refusal}")


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses=problem_responses(422),
)
async def create_webhook(
    request: Request,
    body: WebhookCreate,
    principal: WebhookManager,
    r: RedisDep,
    now: NowDep,
    settings: SettingsDep,
) -> WebhookCreated:
    """Subscribe a URL to events. The response carries the signing secret, shown only now.

    Each delivery is a POST of the event JSON with `Oxiward-Signature: t=<unix>,v1=<hex>`, the
    HMAC-SHA256 of `<t>.<body>` under the secret (docs/api.md shows how to verify it). Any 2xx
    answer within 5 s counts as delivered; otherwise it is retried with exponential backoff and,
    after the last attempt, kept as a dead letter.

    The URL must resolve to public addresses only (422 otherwise) unless the operator allows its
    network; it is checked again at every delivery.
    """
    _check_wards(request, principal, body.ward_ids)
    await _check_url(body.url, settings)
    sub, secret = await store.create(r, body, principal.subject, now)
    return WebhookCreated(**sub.model_dump(), secret=secret)


@router.get("/webhooks", response_model=WebhookPage, responses=problem_responses(400, 422))
async def list_webhooks(
    principal: WebhookManager,
    r: RedisDep,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> WebhookPage:
    """Your subscriptions (administrators: everyone's), with delivery counters."""
    page = await store.page(
        r, cursor, limit, lambda s: _owns(principal, s[1]) and (active is None or s[0].active == active)
    )
    return WebhookPage(items=[s for s, _ in page.items], next_cursor=page.next_cursor)


@router.get("/webhooks/{subscription_id}", response_model=WebhookRead, responses=problem_responses(404))
async def get_webhook(subscription_id: SubscriptionId, principal: WebhookManager, r: RedisDep) -> WebhookRead:
    return await _mine(r, principal, subscription_id)


@router.patch(
    "/webhooks/{subscription_id}", response_model=WebhookRead, responses=problem_responses(404, 422)
)
async def update_webhook(
    request: Request,
    subscription_id: SubscriptionId,
    body: WebhookUpdate,
    principal: WebhookManager,
    r: RedisDep,
    settings: SettingsDep,
) -> WebhookRead:
    """Change the URL, events or wards, or pause (`"active": false`) and resume deliveries."""
    await _mine(r, principal, subscription_id)
    _check_wards(request, principal, body.ward_ids)
    await _check_url(body.url, settings)
    try:
        return await store.update(r, subscription_id, body)
    except store.WebhookNotFound as exc:
        raise HTTPException(404, exc.detail) from exc


@router.delete(
    "/webhooks/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(404),
)
async def delete_webhook(subscription_id: SubscriptionId, principal: WebhookManager, r: RedisDep) -> Response:
    """Delete the subscription, its pending retries are dropped and its dead letters removed."""
    await _mine(r, principal, subscription_id)
    try:
        await store.delete(r, subscription_id)
    except store.WebhookNotFound as exc:
        raise HTTPException(404, exc.detail) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/webhooks/{subscription_id}/secret", response_model=WebhookSecret, responses=problem_responses(404)
)
async def rotate_webhook_secret(
    subscription_id: SubscriptionId, principal: WebhookManager, r: RedisDep
) -> WebhookSecret:
    """Replace the signing secret (shown once); deliveries from now on are signed with it."""
    await _mine(r, principal, subscription_id)
    return WebhookSecret(
        subscription_id=subscription_id, secret=await store.rotate_secret(r, subscription_id)
    )


@router.post(
    "/webhooks/{subscription_id}/ping",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PingAccepted,
    responses=problem_responses(404),
)
async def ping_webhook(
    subscription_id: SubscriptionId, principal: WebhookManager, r: RedisDep, now: NowDep
) -> PingAccepted:
    """Queue a signed `ping` event to this subscription only, to test the receiver end to end."""
    await _mine(r, principal, subscription_id)
    return PingAccepted(event_id=await store.enqueue_ping(r, subscription_id, now))


@router.get(
    "/webhooks/{subscription_id}/dead-letters",
    response_model=DeadLetterPage,
    responses=problem_responses(404, 422),
)
async def list_dead_letters(
    subscription_id: SubscriptionId,
    principal: WebhookManager,
    r: RedisDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,20}-\d{1,20}$")] = None,
) -> DeadLetterPage:
    """Deliveries that failed every attempt, newest first, with the event as it would have been sent."""
    await _mine(r, principal, subscription_id)
    items, next_cursor = await store.dead_letters(r, subscription_id, limit, cursor)
    return DeadLetterPage(items=items, next_cursor=next_cursor)
