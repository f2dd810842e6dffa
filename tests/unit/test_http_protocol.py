"""The server's protocol writes a response in one piece: what a connection writes within one
turn of the event loop leaves together, in order, and a real server still answers every kind
of response whole."""

import asyncio
from typing import Any

import httpx
import uvicorn

from deploy.local.stack import free_port
from shared.plumbing import server as serving
from shared.plumbing.http_protocol import OneWriteHttpToolsProtocol, TurnWrites


class Recorded:
    """A transport that keeps what it was given."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


async def test_writes_of_one_turn_leave_as_one_in_their_order() -> None:
    recorded = Recorded()
    writes = TurnWrites(recorded, asyncio.get_running_loop())  # type: ignore[arg-type]
    writes.write(b"HTTP/1.1 200 OK\r\n\r\n")
    writes.write(b"hello")
    assert recorded.writes == []
    await asyncio.sleep(0)
    assert recorded.writes == [b"HTTP/1.1 200 OK\r\n\r\nhello"]
    writes.write(b"more")
    writes.close()  # what waits goes first
    assert recorded.writes[1:] == [b"more"] and recorded.closed
    assert writes.get_extra_info("peername") == "info peername"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if scope["path"] == "/streamed":
        for part in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
    elif scope["path"] == "/large":
        await send({"type": "http.response.body", "body": b"x" * 5_000_000})
    else:
        await send({"type": "http.response.body", "body": b"hello"})


async def test_a_server_on_it_answers_whole_over_one_connection() -> None:
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        http=OneWriteHttpToolsProtocol,
    )
    server = serving.QuietServer(config)
    serving_task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(3):  # keep-alive: one connection
                assert (await client.get("/")).text == "hello"
            assert (await client.get("/streamed")).text == "one two three"
            assert (await client.get("/large")).content == b"x" * 5_000_000
            closing = await client.get("/", headers={"Connection": "close"})
            assert closing.text == "hello"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving_task, timeout=10)
