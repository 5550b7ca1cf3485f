"""Redis keys of alert-notification delivery (docs/notifications.md has the flow).

| Key | Type | Holds |
|---|---|---|
| `ox:{w:<ward>}:rota` | string | the ward's rota record JSON (api/notify/rota.py) |
| `ox:{w:<ward>}:rota:history` | stream | every version of the rota, secrets masked (rota_store.py) |
| `ox:notify:delivery:<id>` | hash | one delivery: alert, tier, recipient, channel, status, attempts, stamps |
| `ox:notify:alert:<alert id>` | list | the alert's delivery ids, oldest first |
| `ox:notify:retry` | zset | delivery jobs waiting for their next attempt (score = due, epoch ms) |
| `ox:notify:dead` | stream | deliveries that failed every attempt, with the last error |

Notifications are read from every shard's keys.notifications stream through GROUP.
"""

from __future__ import annotations

GROUP = "notify"
RETRY = "ox:notify:retry"
DEAD = "ox:notify:dead"
#: Delivery records outlive any alert's handling; they are the "who was told" trail of a month.
DELIVERY_TTL_S = 31 * 24 * 3600


def rota(ward: str) -> str:
    return f"ox:{{w:{ward}}}:rota"


def rota_history(ward: str) -> str:
    return f"ox:{{w:{ward}}}:rota:history"


def delivery(delivery_id: str) -> str:
    return f"ox:notify:delivery:{delivery_id}"


def alert_deliveries(alert_id: str) -> str:
    return f"ox:notify:alert:{alert_id}"
