"""The HTTP plumbing both services share: problem answers, even for a bug."""

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request

from services.write.metrics import HTTP_LATENCY, HTTP_REQUESTS
from shared.plumbing.http import PROBLEM_JSON, install_problem_handlers
from shared.plumbing.middleware import RequestContext


class Bug(Exception):
    """Stands for any exception nothing maps to a status."""


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app, [])

    @app.get("/boom")
    async def boom() -> None:
        raise Bug("secret internals")

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    app.add_middleware(
        RequestContext, requests=HTTP_REQUESTS, latency=HTTP_LATENCY, service="t", max_bytes=10
    )
    return app


async def _get(path: str, **headers: str) -> httpx.Response:
    # raise_app_exceptions=False: the answer the client gets, as a server would send it.
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


async def _post(content: bytes | AsyncIterator[bytes]) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/echo", content=content, headers={"X-Correlation-ID": "r-1"})


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_an_unexpected_exception_is_a_500_problem_with_the_correlation_id() -> None:
    response = await _get("/boom", **{"X-Correlation-ID": "req-42"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["x-correlation-id"] == "req-42"
    body = response.json()
    assert body["status"] == 500 and body["instance"] == "/boom"
    assert "secret internals" not in response.text and "Traceback" not in response.text


async def test_a_500_gets_a_new_correlation_id_when_the_client_gave_none_or_a_bad_one() -> None:
    for headers in ({}, {"X-Correlation-ID": "has spaces"}):
        response = await _get("/boom", **headers)
        assert response.status_code == 500
        assert response.headers["x-correlation-id"] not in ("", "has spaces")


async def test_a_body_over_the_limit_is_a_413_problem_declared_or_streamed() -> None:
    for content in (b"x" * 11, _chunks(b"x" * 6, b"x" * 5)):
        response = await _post(content)
        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.headers["x-correlation-id"] == "r-1"
        assert response.json()["detail"] == "request body exceeds 10 bytes"


async def test_a_body_within_the_limit_reaches_the_app_whole_declared_or_streamed() -> None:
    for content in (b"x" * 10, _chunks(b"x" * 6, b"x" * 4)):
        response = await _post(content)
        assert response.status_code == 200
        assert response.json() == {"received": 10}
