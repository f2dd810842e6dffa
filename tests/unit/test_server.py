"""The HTTP server both services run: it answers, keeps its Date header, and stops when told
even while it sleeps between ticks."""

import asyncio
import signal
from typing import Any

import httpx
import pytest
import uvicorn

from deploy.local.stack import free_port
from shared.plumbing import server as serving


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def test_answers_with_a_date_and_stops_at_once_when_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serving, "TICK_SECONDS", 3600.0)  # only a wake-up can end its sleep
    raised: list[int] = []  # uvicorn raises a caught signal again once stopped: not in here
    monkeypatch.setattr(signal, "raise_signal", raised.append)
    port = free_port()
    config = uvicorn.Config(hello, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    server = serving.QuietServer(config)
    serving_task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{port}/")
    assert answer.status_code == 200 and answer.text == "hello"
    assert answer.headers["date"].endswith(" GMT")

    server.handle_exit(signal.SIGTERM, None)
    await asyncio.wait_for(serving_task, timeout=10)
    assert serving_task.done() and serving_task.exception() is None
    assert raised == [signal.SIGTERM]


def test_forwarded_headers_are_taken_only_when_a_service_asks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configs: list[uvicorn.Config] = []
    monkeypatch.setattr(serving, "tune_gc", lambda: None)  # not in the tests' process
    monkeypatch.setattr(serving.QuietServer, "run", lambda self: configs.append(self.config))
    serving.serve(hello, host="127.0.0.1", port=1)
    serving.serve(hello, host="127.0.0.1", port=1, proxy_headers=True)
    assert [config.proxy_headers for config in configs] == [False, True]
