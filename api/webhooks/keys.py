"""Redis keys of webhook subscriptions and deliveries (docs/api.md, "Webhooks", has the flow).

| Key | Type | Holds |
|---|---|---|
| `ox:webhook:sub:<id>` | hash | url, events, wards, owner, secret, active, created_at, counters |
| `ox:idx:webhooks` | zset | subscription ids (lexicographic, for paging) |
| `ox:webhook:outbox` | stream | events waiting to be fanned out to subscriptions (group FANOUT_GROUP) |
| `ox:webhook:retry` | zset | delivery jobs waiting for their next attempt (score = due, epoch ms) |
| `ox:webhook:dead:<id>` | stream | deliveries that failed every attempt, with the last error |
| `ox:webhook:cursors` | hash | patient id -> last reading entry id turned into a `reading.created` event |
| `ox:webhook:reading-lock` | string | which process tails readings now (expires: a dead holder is replaced) |

Alert events are read from every shard's keys.alert_events stream through ALERT_GROUP.
"""

from __future__ import annotations

OUTBOX = "ox:webhook:outbox"
RETRY = "ox:webhook:retry"
CURSORS = "ox:webhook:cursors"
READING_LOCK = "ox:webhook:reading-lock"
INDEX = "ox:idx:webhooks"
ALERT_GROUP = "webhooks"
FANOUT_GROUP = "webhook-fanout"


def subscription(subscription_id: str) -> str:
    return f"ox:webhook:sub:{subscription_id}"


def dead_letters(subscription_id: str) -> str:
    return f"ox:webhook:dead:{subscription_id}"
