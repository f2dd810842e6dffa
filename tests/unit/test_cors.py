"""CORS: preflights and answers carry the headers for allowed origins only, none when unset."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from pydantic import ValidationError

from shared.plumbing.cors import install_cors
from shared.plumbing.settings import BaseServiceSettings

ALLOWED = "https://shop.example.com"


def app_with(origins: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/orders", status_code=201)
    def place(response: Response) -> dict[str, str]:
        response.headers["Location"] = "/orders/1"
        response.headers["ETag"] = '"1"'
        return {"id": "1"}

    install_cors(app, BaseServiceSettings(cors_allow_origins=origins))
    return app


async def call(app: FastAPI, method: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.request(method, "/orders", headers=headers)


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


async def test_a_preflight_from_an_allowed_origin_is_answered() -> None:
    response = await call(
        app_with(f"{ALLOWED},http://localhost:5173"), "OPTIONS", preflight(ALLOWED)
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    for header in (
        "authorization",
        "content-type",
        "idempotency-key",
        "if-match",
        "traceparent",
        "tracestate",
    ):
        assert header in allowed
    assert "access-control-allow-credentials" not in response.headers


async def test_an_answer_to_an_allowed_origin_exposes_the_apis_headers() -> None:
    response = await call(app_with([ALLOWED]), "POST", {"Origin": ALLOWED})

    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == ALLOWED
    exposed = response.headers["access-control-expose-headers"]
    for header in (
        "ETag",
        "Location",
        "X-Correlation-ID",
        "Idempotent-Replayed",
        "Retry-After",
        "traceresponse",
    ):
        assert header in exposed


async def test_another_origin_gets_no_cors_headers() -> None:
    app = app_with(ALLOWED)

    refused = await call(app, "OPTIONS", preflight("https://evil.example"))
    answered = await call(app, "POST", {"Origin": "https://evil.example"})

    # Starlette still lists methods and headers (and exposes some), but without
    # Access-Control-Allow-Origin the browser lets the page read nothing.
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-origin" not in answered.headers


async def test_no_origins_means_no_cors_at_all() -> None:
    app = app_with("")

    refused = await call(app, "OPTIONS", preflight(ALLOWED))
    answered = await call(app, "POST", {"Origin": ALLOWED})

    assert refused.status_code == 405  # the route has no OPTIONS: nothing answers preflights
    assert cors_headers(refused) == {} and cors_headers(answered) == {}
    assert app.user_middleware == []


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", []),
        (
            "https://a.example, http://localhost:5173",
            ["https://a.example", "http://localhost:5173"],
        ),
        ('["https://a.example"]', ["https://a.example"]),
        ("*", ["*"]),
    ],
)
def test_the_origins_come_comma_separated_or_as_a_json_list(
    monkeypatch: pytest.MonkeyPatch, value: str, origins: list[str]
) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", value)

    assert BaseServiceSettings().cors_allow_origins == origins


@pytest.mark.parametrize("value", ["https://a.example/", "a.example", "*,https://a.example"])
def test_what_no_browser_would_send_as_an_origin_fails_at_start(value: str) -> None:
    with pytest.raises(ValidationError, match="origin"):
        BaseServiceSettings(cors_allow_origins=value)
