"""ASGI middleware: request body limit, correlation ids and request metrics."""

import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http import problem
from shared.logging import correlation_id


class BodyTooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a header (names arrive lower-cased from the ASGI server)."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class BodyLimit:
    """Answers 413 to any request body over `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await self._reject(scope, receive, send)
            else:  # the server reads no more than the declared length: nothing to count
                await self.app(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge()
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body exceeds {self.max_bytes} bytes"
        await problem(413, detail, instance=scope.get("path", ""))(scope, receive, send)


class RequestContext:
    """Sets the correlation id (from X-Correlation-ID or new) and records request metrics."""

    def __init__(self, app: ASGIApp, requests: Any, latency: Any, service: str) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-correlation-id") or b""
        cid = given.decode("latin-1")[:100] or str(uuid.uuid4())
        token = correlation_id.set(cid)
        status = 500
        start = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-correlation-id", cid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            correlation_id.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(self.service, scope["method"], route, str(status)).inc()
            self.latency.labels(self.service, route).observe(time.perf_counter() - start)
