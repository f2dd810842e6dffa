"""The operator console as the read service serves it: the page with a strict policy, its
modules and libraries, and a configuration that names the issuer and the write service and
holds no secret."""

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from services.read.entrypoints import console
from services.read.entrypoints.app import create_app
from services.read.settings import ReadSettings

SETTINGS: dict[str, Any] = {
    "auth_issuer": "http://issuer.test:8003",
    "auth_audience": "ordering",
    "auth_client_id": "read-service",
    "auth_client_secret": "a-secret-of-the-service",
    "write_service_url": "http://write-inside:8001",
    "console_write_service_url": "http://write.test:8001",
    "trace_viewer_url": "http://traces.test/trace/{trace_id}",
}


@pytest.fixture
def libraries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-ins for the npm packages `make install` puts in node_modules/."""
    for name in console.VENDORED:
        (tmp_path / name).mkdir()
        (tmp_path / name / "package.json").write_text("{}")
    (tmp_path / "preact" / "index.mjs").write_text("export const h = 1;")
    monkeypatch.setattr(console, "MODULES", tmp_path)
    return tmp_path


async def client(**settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ReadSettings(**{**SETTINGS, **settings}), consume=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://read.test") as http:
        yield http


@pytest.fixture
async def http(libraries: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for found in client():
        yield found


async def test_the_config_names_the_issuer_client_and_write_service_and_no_secret(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.get("/console/config.json")
    assert answer.status_code == 200
    assert answer.json() == {
        "auth": "on",
        "issuer": "http://issuer.test:8003",
        "client_id": "console",
        "scope": "openid ordering:query ordering:events ordering:operate",
        "write_service_url": "http://write.test:8001",
        "trace_viewer_url": "http://traces.test/trace/{trace_id}",
    }
    assert "a-secret-of-the-service" not in answer.text


async def test_the_page_allows_its_import_map_and_the_two_origins_only(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.get("/console")).headers["location"] == "/console/"
    answer = await http.get("/console/")
    assert answer.status_code == 200 and "text/html" in answer.headers["content-type"]
    import_map = re.search(r'<script type="importmap">(.*?)</script>', answer.text, re.DOTALL)
    assert import_map is not None
    digest = base64.b64encode(hashlib.sha256(import_map.group(1).encode()).digest()).decode()
    policy = dict(
        part.strip().split(" ", 1) for part in answer.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert policy["connect-src"] == "'self' http://issuer.test:8003 http://write.test:8001"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in answer.headers["content-security-policy"]


async def test_modules_and_libraries_are_served(http: httpx.AsyncClient) -> None:
    main = await http.get("/console/app/main.js")
    assert main.status_code == 200 and "javascript" in main.headers["content-type"]
    library = await http.get("/console/vendor/preact/index.mjs")
    assert library.status_code == 200 and library.text == "export const h = 1;"
    assert (await http.get("/console/vendor/axe-core/axe.js")).status_code == 404


async def test_without_its_libraries_the_page_says_how_to_install_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "MODULES", tmp_path / "missing")
    async for http in client():
        answer = await http.get("/console/")
        assert answer.status_code == 503 and "make install" in answer.json()["detail"]


async def test_the_console_knows_when_access_control_is_off(libraries: Path) -> None:
    async for http in client(auth_disabled=True, auth_issuer="", console_write_service_url=""):
        found = (await http.get("/console/config.json")).json()
        assert (
            found["auth"] == "disabled" and found["write_service_url"] == "http://write-inside:8001"
        )


def test_a_trace_viewer_url_must_say_where_the_trace_id_goes() -> None:
    with pytest.raises(ValidationError):
        ReadSettings(trace_viewer_url="http://traces.test/trace/")
