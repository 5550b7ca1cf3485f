"""The ward pages as files: locked-down headers, nothing inline, nothing from another origin, text
never parsed as HTML, only the listed assets served."""

from __future__ import annotations

import re

import pytest

from api.routes.web_pages import ASSETS
from tests.api.rest_support import api_client

PAGES = ["/ward", "/ward/north-1", "/ward/north-1/patients/p-7f3a9c2e41d8"]


@pytest.mark.parametrize("path", PAGES)
async def test_each_page_is_a_static_shell_with_a_strict_policy(redis_url: str, path: str) -> None:
    async with api_client(redis_url) as client:
        page = await client.get(path)
        assets = {
            src: await client.get(src)
            for src in re.findall(r'(?:src|href)="(/ward-assets/[^"]+)"', page.text)
        }
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'"):
        assert directive in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe" not in csp
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, "inline script"
    assert re.search(r"\son[a-z]+=", html) is None, "inline event handler"
    assert re.search(r"\sstyle=", html) is None, "inline style"
    assert re.search(r"(https?:)?//[a-z0-9]", html) is None, "another origin"
    assert assets, "the page loads its script and style"
    for src, response in assets.items():
        assert response.status_code == 200, src
        assert response.headers["cache-control"] == "no-store"


async def test_scripts_set_text_only_and_import_only_served_assets(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        scripts = {
            name: (await client.get(f"/ward-assets/{name}")).text for name in ASSETS if name.endswith(".js")
        }
    for name, js in scripts.items():
        assert js.startswith("//"), f"{name}: starts with a comment saying why it exists"
        for sink in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert sink not in js, f"{name} uses {sink}"
        for storage in ("localStorage", "sessionStorage", "document.cookie"):
            assert storage not in js, f"{name}: session state stays in the HttpOnly cookie"
        # The SVG namespace is a name, never fetched; any other URL would be another origin.
        assert re.search(r"https?://", js.replace('"http://www.w3.org/2000/svg"', "")) is None, name
        for imported in re.findall(r'from "/ward-assets/([^"]+)"', js):
            assert imported in ASSETS, f"{name} imports {imported}, which is not served"
        assert len(js.splitlines()) < 300, name


@pytest.mark.parametrize(
    "path",
    [
        "/ward/bad%20id",
        "/ward/w1/patients/bad%20id",
        "/ward-assets/index.html",
        "/ward-assets/..%2Fmain.py",
        "/ward-assets/ward.js",
    ],
)
async def test_nothing_else_is_served(redis_url: str, path: str) -> None:
    async with api_client(redis_url) as client:
        assert (await client.get(path)).status_code == 404
