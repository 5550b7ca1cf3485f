"""OpenAPI document and the self-contained ward page."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from api.main import create_app
from tests.api.rest_support import AUTH, TOKEN, api_client, settings


def test_openapi_documents_every_v1_operation_with_auth_errors_and_examples() -> None:
    schema = create_app(settings("redis://127.0.0.1:1/0")).openapi()
    assert schema["info"]["title"] == "Oxiward"
    assert "OAuth2" in schema["components"]["securitySchemes"]
    operations = [
        (path, op) for path, ops in schema["paths"].items() if path.startswith("/v1/") for op in ops.values()
    ]
    assert len(operations) >= 9
    for path, op in operations:
        # Each operation states its one scope (docs/api.md); the token endpoint needs no bearer.
        expected = 0 if path == "/v1/auth/token" else 1
        assert len(op.get("security", [])) == expected, path
        assert all(set(req) == {"OAuth2"} for req in op["security"]), path
        assert "401" in op["responses"], path
        assert "application/problem+json" in op["responses"]["401"]["content"], path
    assert "/healthz" in schema["paths"]
    assert "/readyz" in schema["paths"]
    assert not any(p.startswith("/ward") for p in schema["paths"])  # the page is not an API
    models = schema["components"]["schemas"]
    for name in (
        "PatientCreate",
        "PatientRead",
        "ReadingPage",
        "ReadingRead",
        "WardQueue",
        "AlertRead",
        "Problem",
    ):
        assert models[name].get("examples"), name


async def test_docs_and_schema_are_served(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        docs = await client.get("/docs")
        schema = await client.get("/openapi.json")
    assert docs.status_code == 200
    assert schema.status_code == 200
    assert "/v1/wards/{ward_id}/queue" in schema.json()["paths"]
    # The docs page must work offline: its script and style come from this service, not a CDN.
    assert "cdn." not in docs.text
    assert "https://" not in docs.text
    async with api_client(redis_url) as client:
        for asset in re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', docs.text):
            assert (await client.get(asset)).status_code == 200, asset


@pytest.mark.parametrize("path", ["/ward", "/ward/north-1"])
async def test_ward_page_is_self_contained_and_locked_down(redis_url: str, path: str) -> None:
    async with api_client(redis_url) as client:
        page = await client.get(path)
        script = await client.get("/ward-assets/ward.js")
        style = await client.get("/ward-assets/ward.css")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    html = page.text
    # Only same-origin assets: no scheme or protocol-relative URL anywhere in the page or its assets.
    for text in (html, script.text, style.text):
        assert not re.search(r"(https?:)?//[a-z0-9]", text.replace("// ", "")), "external reference"
    assert 'src="/ward-assets/ward.js"' in html
    assert 'href="/ward-assets/ward.css"' in html
    assert "<script>" not in html  # no inline script (the CSP would block it anyway)
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.headers["content-type"].startswith("text/css")


async def test_ward_script_renders_text_only_and_keeps_the_token_in_session_storage(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        js = (await client.get("/ward-assets/ward.js")).text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "localStorage"):
        assert sink not in js, sink
    assert "textContent" in js
    assert "sessionStorage" in js
    assert '"Bearer " + token()' in js
    assert "/v1/wards/" in js  # fetches the JSON API


@pytest.mark.parametrize("path", ["/ward/bad%20id", "/ward-assets/ward.html", "/ward-assets/..%2Fmain.py"])
async def test_page_routes_serve_only_what_they_should(redis_url: str, path: str) -> None:
    async with api_client(redis_url) as client:
        response = await client.get(path)
    assert response.status_code == 404


async def test_queue_json_the_page_uses_has_the_fields_it_renders(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        await client.post(
            "/v1/wards/w1/patients", json={"patient_id": "p-1", "ref": "<b>Bed 1</b>"}, headers=AUTH
        )
        queue = (await client.get("/v1/wards/w1/queue", headers=AUTH)).json()
    (item,) = queue["items"]
    assert item["ref"] == "<b>Bed 1</b>"  # stored and returned verbatim; the page sets it as text
    assert set(item) == {"patient_id", "ref", "latest", "band", "worst_alert", "open_alerts"}


# A minimal stand-in for the browser (a third-party edge that cannot run here): just the DOM
# calls ward.js makes. It runs the real script against real queue JSON and reports what was drawn.
_HARNESS = r"""
const fs = require("fs");
const [script, queueFile, path, token] = process.argv.slice(2);
const created = [];
const text = (n) => (typeof n === "string" ? n : n.textContent);
class El {
  constructor(tag) {
    this.tagName = tag; this.children = []; this.className = ""; this.hidden = false;
    this._text = ""; this.listeners = {}; this.value = "";
    this.classList = { toggle: (c, on) => { this.className = on ? c : ""; } };
  }
  set textContent(v) { this._text = String(v); this.children = []; }
  get textContent() { return this._text + this.children.map(text).join(""); }
  append(...nodes) { this.children.push(...nodes); }
  replaceChildren(...nodes) { this.children = nodes; }
  addEventListener(type, fn) { this.listeners[type] = fn; }
  focus() {}
  set innerHTML(_) { throw new Error("innerHTML used"); }
}
const ids = {};
const known = ["title", "status", "forget", "login", "token", "wards", "ward-list", "queue", "rows", "empty"];
for (const id of known) ids[id] = new El("div");
global.document = {
  getElementById: (id) => ids[id],
  createElement: (tag) => { created.push(tag); return new El(tag); },
};
global.location = { pathname: path };
const store = token ? { "oxiward.api-token": token } : {};
global.sessionStorage = {
  getItem: (k) => store[k] ?? null,
  setItem: (k, v) => { store[k] = v; },
  removeItem: (k) => { delete store[k]; },
};
const requests = [];
global.fetch = async (url, init) => {
  requests.push({ url, auth: init.headers.Authorization });
  const body = JSON.parse(fs.readFileSync(queueFile, "utf8"));
  return { ok: true, status: 200, json: async () => body };
};
global.setTimeout = () => 0;
global.clearTimeout = () => {};
eval(fs.readFileSync(script, "utf8"));
setImmediate(() => {
  const cell = (td) => ({ text: td.textContent, classes: td.children.map((c) => c.className ?? "") });
  const rows = ids["rows"].children.map((tr) => tr.children.map(cell));
  console.log(JSON.stringify({
    rows, requests, created: [...new Set(created)], title: ids["title"].textContent,
    loginHidden: ids["login"].hidden,
  }));
});
"""


def _draw(tmp_path: Path, script: str, queue: object, path: str, token: str) -> dict[str, Any]:
    """Run ward.js in the harness; return what it drew."""
    (tmp_path / "ward.js").write_text(script)
    (tmp_path / "queue.json").write_text(json.dumps(queue))
    (tmp_path / "harness.js").write_text(_HARNESS)
    argv = [
        "node",
        str(tmp_path / "harness.js"),
        str(tmp_path / "ward.js"),
        str(tmp_path / "queue.json"),
        path,
        token,
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    drawn: dict[str, Any] = json.loads(result.stdout)
    return drawn


_NO_NODE = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not installed: cannot run ward.js"
)


@_NO_NODE
async def test_ward_script_draws_the_queue_as_text(redis_url: str, tmp_path: Path) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    async with api_client(redis_url) as client:
        await client.post("/v1/wards/w1/patients", json={"patient_id": "p-1", "ref": hostile}, headers=AUTH)
        await client.post("/v1/wards/w1/patients", json={"patient_id": "p-2", "ref": "Bed 2"}, headers=AUTH)
        queue = (await client.get("/v1/wards/w1/queue", headers=AUTH)).json()
        script = (await client.get("/ward-assets/ward.js")).text
    drawn = await asyncio.to_thread(_draw, tmp_path, script, queue, "/ward/w1", TOKEN)
    assert drawn["requests"] == [{"url": "/v1/wards/w1/queue", "auth": f"Bearer {TOKEN}"}]
    assert drawn["title"] == "Ward w1: queue"
    assert drawn["loginHidden"] is True
    refs = [row[0]["text"] for row in drawn["rows"]]
    assert refs == [hostile, "Bed 2"]  # drawn verbatim, as text ("<" sorts before letters)
    assert "img" not in drawn["created"]  # the hostile text never became an element
    band_cell = drawn["rows"][1][3]
    assert band_cell["text"] == "No reading"
    assert band_cell["classes"] == ["band band-unknown"]


@_NO_NODE
def test_ward_script_asks_for_a_token_when_none_is_stored(tmp_path: Path) -> None:
    script = (Path(__file__).parents[2] / "api" / "web" / "ward.js").read_text()
    drawn = _draw(tmp_path, script, {}, "/ward", "")
    assert drawn["requests"] == []  # nothing fetched without a token
    assert drawn["loginHidden"] is False
    assert drawn["title"] == "Oxiward wards"
