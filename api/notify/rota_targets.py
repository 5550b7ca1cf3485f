"""The webhook target policy (api/webhooks/targets.py) applied to a rota's channels when the rota is
set: a webhook whose host, or an apprise URL naming a server (an SMS gateway, an SMTP server, a
`json://` receiver, ...) that resolves to a loopback, link-local, private or otherwise non-global
address is refused (422) unless the operator allows its network. Delivery checks again
(api/webhooks/http.py; api/notify/channels.py), since DNS can change after the rota is set."""

from __future__ import annotations

from api.notify.channels import AppriseRefused, HostsUnknown, apprise_hosts
from api.notify.rota import ChannelKind, RotaPut
from api.settings import ApiSettings
from api.webhooks.targets import TargetPolicy, host_refusal, url_refusal


async def rota_refusal(body: RotaPut, settings: ApiSettings) -> str:
    """Why a channel of the rota may not be used ('' when all may); never repeats the URL."""
    policy = settings.webhook_targets()
    for t, tier in enumerate(body.tiers):
        for p, person in enumerate(tier.recipients):
            for c, channel in enumerate(person.channels):
                url = channel.url.get_secret_value()
                if channel.kind is ChannelKind.WEBHOOK:
                    refusal = await url_refusal(url, policy)
                else:
                    refusal = await _apprise_refusal(url, policy)
                if refusal:
                    return f"tiers[{t}].recipients[{p}].channels[{c}].url: {refusal}"
    return ""


async def _apprise_refusal(url: str, policy: TargetPolicy) -> str:
    """Services on their provider's own hosts (Slack, Telegram, ...) name no host: nothing to look up."""
    try:
        hosts = apprise_hosts(url)
    except AppriseRefused as exc:
        return str(exc)
    except HostsUnknown as exc:
        return "" if policy.allow_private else str(exc)
    for host in hosts:
        refusal = await host_refusal(host, 0, policy)
        if refusal:
            return refusal
    return ""
