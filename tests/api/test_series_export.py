"""Chart series (per-minute rollups kept at ingest), CSV export and HL7 v2 ORU^R01 export,
with readings stored through the ingest path's own store into a real Redis."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import hl7  # type: ignore[import-untyped]
import redis

from api import keys
from tests.api import factories
from tests.api.integration_support import NHS, admit, register
from tests.api.rest_support import AUTH, api_client, store_readings

T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
PROBE_OFF = 1 << 11


def _readings(start: datetime, minutes: int, seq0: int) -> list[dict[str, Any]]:
    """One reading every 10 s; every 7th is probe-off; values vary so min/max/mean are distinct."""
    out = []
    for i in range(minutes * 6):
        bad = i % 7 == 3
        out.append(
            factories.payload(
                measured_at=start + timedelta(seconds=10 * i),
                spo2=float(88 + (i * 5) % 11) if not bad else 40.0,
                pulse=float(60 + (i * 3) % 40),
                device_sensor=PROBE_OFF if bad else None,
                mode="continuous",
                seq=seq0 + i,
            )
        )
    return out


def _expected(payloads: list[dict[str, Any]], bucket_s: int) -> dict[str, dict[str, Any]]:
    """Brute force: per bucket, min / max / mean of the usable values."""
    buckets: dict[str, dict[str, Any]] = {}
    for p in payloads:
        t = datetime.fromisoformat(p["measured_at"])
        start = datetime.fromtimestamp(int(t.timestamp()) // bucket_s * bucket_s, tz=UTC)
        b = buckets.setdefault(
            factories.iso_ms(start), {"readings": 0, "excluded": 0, "spo2": [], "pulse": []}
        )
        b["readings"] += 1
        if p["status"]["device_sensor"]:
            b["excluded"] += 1
        else:
            b["spo2"].append(p["spo2"])
            b["pulse"].append(p["pulse"])
    return buckets


def _check(series: dict[str, Any], payloads: list[dict[str, Any]], bucket_s: int) -> None:
    expected = _expected(payloads, bucket_s)
    assert [b["start"] for b in series["buckets"]] == sorted(expected)
    for got in series["buckets"]:
        want = expected[got["start"]]
        assert (got["readings"], got["excluded"]) == (want["readings"], want["excluded"])
        for vital in ("spo2", "pulse"):
            values = want[vital]
            assert got[vital] == {
                "n": len(values),
                "min": min(values),
                "max": max(values),
                "mean": round(sum(values) / len(values), 2),
            }


async def test_series_matches_a_brute_force_count_and_folds_late_readings(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    first = _readings(T0, 30, 0)
    late = _readings(T0 + timedelta(minutes=2, seconds=5), 3, 10_000)  # measured early, stored last
    window: dict[str, str | int] = {
        "from": T0.isoformat(),
        "to": (T0 + timedelta(minutes=30)).isoformat(),
        "bucket_seconds": 300,
    }
    async with api_client(redis_url) as client:
        pid = (await admit(client, "north-1", "Bed 1", devices=[factories.DEVICE]))["patient_id"]
        store_readings(redis_url, first)
        before = (await client.get(f"/v1/patients/{pid}/readings/series", params=window, headers=AUTH)).json()
        watermark = r.hget(keys.rollup(pid), "~w")
        store_readings(redis_url, late)
        after = (await client.get(f"/v1/patients/{pid}/readings/series", params=window, headers=AUTH)).json()
        minutes = (
            await client.get(
                f"/v1/patients/{pid}/readings/series", params=window | {"bucket_seconds": 60}, headers=AUTH
            )
        ).json()
        default = (await client.get(f"/v1/patients/{pid}/readings/series", headers=AUTH)).json()
        odd = await client.get(
            f"/v1/patients/{pid}/readings/series", params=window | {"bucket_seconds": 90}, headers=AUTH
        )
        backwards = await client.get(
            f"/v1/patients/{pid}/readings/series",
            params={"from": window["to"], "to": window["from"]},
            headers=AUTH,
        )
    _check(before, first, 300)
    assert watermark is not None
    _check(after, first + late, 300)
    _check(minutes, first + late, 60)
    assert after["bucket_seconds"] == 300
    assert default["bucket_seconds"] == 60  # 24 h at one-minute buckets
    assert sum(b["readings"] for b in default["buckets"]) == len(first) + len(late)
    assert odd.status_code == 422
    assert backwards.status_code == 422
    r.close()


async def test_csv_export_has_every_reading_with_its_quality(redis_url: str) -> None:
    payloads = _readings(T0, 5, 0)
    async with api_client(redis_url) as client:
        pid = (await admit(client, "north-1", "Bed 1", devices=[factories.DEVICE]))["patient_id"]
        store_readings(redis_url, payloads)
        params = {"from": T0.isoformat(), "to": (T0 + timedelta(hours=1)).isoformat()}
        response = await client.get(f"/v1/patients/{pid}/readings.csv", params=params, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(payloads)
    assert [r["measured_at"] for r in rows] == [p["measured_at"] for p in payloads]
    probe_off = [r for r in rows if r["quality"] == "unscorable"]
    assert len(probe_off) == sum(1 for p in payloads if p["status"]["device_sensor"])
    assert all(r["quality_reasons"] == "probe-off" for r in probe_off)
    assert rows[0]["spo2"] == "88"
    assert rows[0]["device_address"] == factories.DEVICE


async def test_hl7_export_is_ihe_pcd01_with_ieee_11073_codes(redis_url: str) -> None:
    payloads = [
        factories.payload(measured_at=T0, spo2=97.0, pulse=71.0, seq=1),
        factories.payload(measured_at=T0 + timedelta(minutes=1), spo2=55.0, device_sensor=PROBE_OFF, seq=2),
        factories.payload(measured_at=T0 + timedelta(minutes=2), spo2=94.5, pulse=88.0, seq=3),
    ]
    async with api_client(redis_url) as client:
        pid = (await register(client, NHS[1]))["patient_id"]
        await admit(client, "north-1", "Bed 1", pid, devices=[factories.DEVICE])
        store_readings(redis_url, payloads)
        first = await client.get(f"/v1/patients/{pid}/readings.hl7", params={"limit": 2}, headers=AUTH)
        rest = await client.get(
            f"/v1/patients/{pid}/readings.hl7",
            params={"limit": 2, "cursor": first.headers["oxiward-next-cursor"]},
            headers=AUTH,
        )
    assert first.headers["content-type"].startswith("application/hl7-v2")
    assert "oxiward-next-cursor" not in rest.headers
    messages = list(hl7.parse_batch(first.text)) + list(hl7.parse_batch(rest.text))
    assert len(messages) == 3
    for msg in messages:
        msh = msg.segment("MSH")
        assert str(msh[9]) == "ORU^R01^ORU_R01"
        assert str(msh[12]) == "2.6"
        assert str(msh[21]) == "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
        assert str(msg.segment("PID")[3]) == f"{NHS[1]}^^^NHS^NH~{pid}^^^OXIWARD^PI"
        assert str(msg.segment("OBR")[4]) == "182777000^monitoring of patient^SCT"
        spo2, pulse = msg.segments("OBX")
        assert str(spo2[3]) == "150456^MDC_PULS_OXIM_SAT_O2^MDC"
        assert str(spo2[6]) == "262688^MDC_DIM_PERCENT^MDC"
        assert str(pulse[3]) == "149530^MDC_PULS_OXIM_PULS_RATE^MDC"
        assert str(pulse[6]) == "264864^MDC_DIM_BEAT_PER_MIN^MDC"
        assert str(spo2[18]) == "C0-FF-EE-00-00-01^EUI-48"
    good, off, fractional = messages
    assert (str(good.segments("OBX")[0][5]), str(good.segments("OBX")[0][11])) == ("97", "R")
    assert str(good.segments("OBX")[0][14]) == factories.iso_ms(T0).replace("-", "").replace(":", "").replace(
        "T", ""
    ).replace("Z", "+0000")
    assert (str(off.segments("OBX")[0][5]), str(off.segments("OBX")[0][11])) == ("", "X")
    assert "probe-off" in str(off.segment("NTE")[3])
    assert str(fractional.segments("OBX")[0][5]) == "94.5"
