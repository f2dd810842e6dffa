"""The operator console: a browser application served at /console, which calls the two
services' own APIs with the signed-in operator's token. Nothing here reads a projection.

Served unauthenticated (the page holds no data): its HTML, its modules (console/app/), the few
browser libraries it imports, straight from the npm packages `make install` puts in
console/node_modules/ (ES modules, no bundler), and /console/config.json, where the page learns
the issuer, its client and the write service's URL: nothing secret.
"""

import base64
import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from shared.plumbing.http import problem

from ..settings import ReadSettings

CONSOLE = Path(__file__).resolve().parents[1] / "console"
MODULES = CONSOLE / "node_modules"
# The packages the page imports (package.json), each served from its own folder.
VENDORED = ("preact", "htm", "oidc-client-ts", "jwt-decode")
IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.DOTALL)
NOT_INSTALLED = "the console's browser libraries are not installed: run `make install`"
NO_CACHE = {"Cache-Control": "no-cache"}


def console_config(settings: ReadSettings) -> dict[str, Any]:
    """What the page needs to sign in and call both services."""
    return {
        "auth": "disabled" if settings.auth_disabled else "on",
        "issuer": (settings.console_issuer or settings.auth_issuer).rstrip("/"),
        "client_id": settings.console_client_id,
        "scope": settings.console_scope,
        "write_service_url": _write_url(settings),
        "trace_viewer_url": settings.trace_viewer_url or None,
    }


def _write_url(settings: ReadSettings) -> str:
    return (settings.console_write_service_url or settings.write_service_url).rstrip("/")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


def security_headers(settings: ReadSettings, page: str) -> dict[str, str]:
    """A strict policy: scripts of this origin and the page's import map alone, and requests to
    this origin, the write service and the issuer only."""
    found = IMPORT_MAP.search(page)
    digest = hashlib.sha256(found.group(1).encode()).digest() if found else b""
    import_map = f"'sha256-{base64.b64encode(digest).decode()}'" if found else ""
    config = console_config(settings)
    others = {_origin(config["write_service_url"]), _origin(config["issuer"])} - {""}
    policy = "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {import_map}".strip(),
            f"connect-src 'self' {' '.join(sorted(others))}".strip(),
            "img-src 'self' data:",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        **NO_CACHE,
    }


def install_console(app: FastAPI, settings: ReadSettings) -> None:
    """/console, /console/config.json and the console's static files."""
    router = APIRouter(include_in_schema=False)
    page = (CONSOLE / "index.html").read_text()
    headers = security_headers(settings, page)
    config = orjson.dumps(console_config(settings))

    @router.get("/console")
    async def console_root() -> Response:
        return RedirectResponse("/console/", status_code=308)

    @router.get("/console/")
    async def console_page() -> Response:
        if not all((MODULES / name / "package.json").is_file() for name in VENDORED):
            return problem(503, NOT_INSTALLED, instance="/console/")
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    @router.get("/console/config.json")
    async def console_settings() -> Response:
        return Response(config, media_type="application/json", headers=NO_CACHE)

    app.include_router(router)
    app.mount("/console/app", StaticFiles(directory=CONSOLE / "app"), name="console-app")
    for name in VENDORED:
        files = StaticFiles(directory=MODULES / name, check_dir=False)
        app.mount(f"/console/vendor/{name}", files, name=f"console-{name}")
