"""The HTTP plumbing both services share: problem answers, even for a bug."""

import httpx
from fastapi import FastAPI

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

    app.add_middleware(RequestContext, requests=HTTP_REQUESTS, latency=HTTP_LATENCY, service="t")
    return app


async def _get(path: str, **headers: str) -> httpx.Response:
    # raise_app_exceptions=False: the answer the client gets, as a server would send it.
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


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
