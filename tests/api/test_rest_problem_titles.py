"""A status has one problem `title` on every route, as RFC 9110 names it: a 422 is "Unprocessable
Content" whether FastAPI's validation, a care plan, the ward alerting configuration or a rota
refused the request (Python 3.11's http module still calls it "Unprocessable Entity")."""

from __future__ import annotations

from api.main import create_app
from tests.api.rest_support import AUTH, api_client, settings

WARD = "titles"


async def test_every_422_is_titled_unprocessable_content(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        admitted = await client.post(f"/v1/wards/{WARD}/patients", json={"ref": "Bed 1"}, headers=AUTH)
        pid = admitted.json()["patient_id"]
        refusals = {
            "validation": await client.post(f"/v1/wards/{WARD}/patients", json={"ref": ""}, headers=AUTH),
            "care plan": await client.put(
                f"/v1/patients/{pid}/care-plan",
                json={"plan": {"rule_pack": "news2-scale2"}, "by": "dr-ak", "reason": "review"},
                headers=AUTH,
            ),
            "alerting": await client.put(
                f"/v1/wards/{WARD}/alerting-config",
                json={"config": {"snooze_max_s": -1}, "by": "matron", "reason": "go-live"},
                headers=AUTH,
            ),
            "rota": await client.put(
                f"/v1/wards/{WARD}/rota",
                json={
                    "tiers": [{"recipients": [{"name": "A", "channels": [{"kind": "apprise", "url": "x"}]}]}]
                },
                headers=AUTH,
            ),
        }
    assert admitted.status_code == 201, admitted.text
    assert {name: r.status_code for name, r in refusals.items()} == dict.fromkeys(refusals, 422)
    titles = {name: r.json()["title"] for name, r in refusals.items()}
    assert titles == dict.fromkeys(refusals, "Unprocessable Content")


def test_the_document_names_422_as_rfc_9110_does() -> None:
    spec = create_app(settings("redis://127.0.0.1:1/0")).openapi()
    put_plan = spec["paths"]["/v1/patients/{patient_id}/care-plan"]["put"]["responses"]
    assert put_plan["422"]["description"] == "Unprocessable Content"
