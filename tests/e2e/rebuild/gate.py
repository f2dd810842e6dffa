"""A gate between a rebuild and the write service: an HTTP proxy that forwards every request,
and holds the log's pages once the rebuild has read a given share of the log, until released.
A rebuild read through it stops at a known point however fast it runs, so a test acts on a
rebuild half way without racing it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from deploy.local.stack import free_port
from tests.polling import poll

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class Gate:
    """Forwards to `upstream`; once the pages forwarded hold `share` of the log's head, the
    next page waits for `release`."""

    def __init__(self, upstream: str, share: float) -> None:
        self.upstream = upstream
        self.share = share
        self.head = 0  # learned from the rebuild's own GET /events/head
        self.rows = 0  # rows of the log forwarded in pages
        self.holding = asyncio.Event()  # a page is being held
        self.released = asyncio.Event()
        self.url = ""
        self._client = httpx.AsyncClient(base_url=upstream, timeout=30)

    def release(self) -> None:
        self.released.set()

    async def forward(self, request: Request) -> Response:
        path = request.url.path
        if path == "/events" and self.head and self.rows >= self.share * self.head:
            self.holding.set()
            await self.released.wait()
        try:
            content = await request.body()
        except ClientDisconnect:  # the rebuild was killed while its page was held
            return Response(status_code=499)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        answer = await self._client.request(
            request.method,
            path,
            params=request.url.query,
            headers=headers,
            content=content,
        )
        if answer.status_code == 200 and path in ("/events", "/events/head"):
            self._count(path, orjson.loads(answer.content))
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        return Response(answer.content, answer.status_code, kept)

    def _count(self, path: str, body: dict[str, Any]) -> None:
        if path == "/events/head":
            self.head = max(self.head, int(body["position"]))
        else:
            self.rows += len(body["events"])

    async def close(self) -> None:
        await self._client.aclose()


@asynccontextmanager
async def gate(upstream: str, share: float) -> AsyncIterator[Gate]:
    """A `Gate` serving on a free local port for the block's duration."""
    held = Gate(upstream, share)
    app = Starlette(routes=[Route("/{path:path}", held.forward, methods=["GET", "POST"])])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    try:

        async def started() -> bool:
            if serving.done():
                await serving  # raises what kept it from starting
            return bool(server.started)

        await poll(started, "the gate to serve", timeout=30, interval=0.01)
        held.url = f"http://127.0.0.1:{port}"
        yield held
    finally:
        held.release()
        server.should_exit = True
        await serving
        await held.close()
