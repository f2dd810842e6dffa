"""ASGI middleware: request body limit, correlation ids, request metrics, and the answer to an
unexpected error."""

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.plumbing.http import problem
from shared.plumbing.logging import correlation_id
from shared.plumbing.tracing import traceresponse

log = logging.getLogger(__name__)
# A correlation id we take from a client: printable ASCII without spaces, at most 100 characters.
_CORRELATION_ID = re.compile(rb"[\x21-\x7e]{1,100}")


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a header (names arrive lower-cased from the ASGI server)."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class BodyLimit:
    """Answers 413 to any request body over `max_bytes`, declared or streamed.

    A body without a declared length (chunked) is read here, up to the limit, and handed on
    whole: a limit raised from inside the app's own read would reach it as a parse error.
    Starlette's own limit is not used: it answers a declared oversize in plain text.
    """

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
        if _header(scope, b"transfer-encoding") is None:  # no body at all
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return whole

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body exceeds {self.max_bytes} bytes"
        await problem(413, detail, instance=scope.get("path", ""))(scope, receive, send)


class RequestContext:
    """Sets the correlation id (from X-Correlation-ID or new), records request metrics, and
    answers an exception nothing else handled with a 500 problem (never a stack trace).

    The metrics' children are looked up once per label set (`labels()` takes a lock and
    builds its key on every call), so a request costs an increment and an observation.
    """

    def __init__(self, app: ASGIApp, requests: Any, latency: Any, service: str) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency
        self.service = service
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-correlation-id") or b""
        cid = given.decode() if _CORRELATION_ID.fullmatch(given) else str(uuid.uuid4())
        token = correlation_id.set(cid)
        status = 500
        started = False
        start = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = message.setdefault("headers", [])
                headers.append((b"x-correlation-id", cid.encode()))
                if (trace := traceresponse()) is not None:
                    headers.append((b"traceresponse", trace.encode()))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope.get("path", ""))
            if started:
                raise
            detail = "unexpected error; it has been logged"
            await problem(500, detail, instance=scope.get("path", ""))(scope, receive, sending)
        finally:
            correlation_id.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            self._record(scope["method"], route, status, time.perf_counter() - start)

    def _record(self, method: str, route: str, status: int, seconds: float) -> None:
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self.requests.labels(self.service, method, route, str(status))
            self._counters[method, route, status] = counter
        counter.inc()
        timer = self._timers.get(route)
        if timer is None:
            timer = self._timers[route] = self.latency.labels(self.service, route)
        timer.observe(seconds)
