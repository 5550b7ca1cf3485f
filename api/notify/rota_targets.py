"""The webhook target policy (api/webhooks/targets.py) applied to a rota's webhook channels when the
rota is set: a channel whose host resolves to a loopback, link-local, private or otherwise
non-global address is refused (422) unless the operator allows its network. Delivery checks again
(api/webhooks/http.py), since DNS can change after the rota is set."""

from __future__ import annotations

from api.notify.rota import ChannelKind, RotaPut
from api.settings import ApiSettings
from api.webhooks.targets import url_refusal


async def rota_refusal(body: RotaPut, settings: ApiSettings) -> str:
    """Why a webhook channel of the rota may not be used ('' when all may); never repeats the URL."""
    policy = settings.webhook_targets()
    for t, tier in enumerate(body.tiers):
        for p, person in enumerate(tier.recipients):
            for c, channel in enumerate(person.channels):
                if channel.kind is not ChannelKind.WEBHOOK:
                    continue
                refusal = await url_refusal(channel.url.get_secret_value(), policy)
                if refusal:
                    return f"tiers[{t}].recipients[{p}].channels[{c}].url: {refusal}"
    return ""
