"""ASGI middleware: correlation ids, the request body limit, request metrics, and the answer to
an unexpected error, in one layer."""

import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.plumbing.http import problem
from shared.plumbing.ids import uuid4_text
from shared.plumbing.logging import correlation_id
from shared.plumbing.tracing import traceresponse

log = logging.getLogger(__name__)
# A correlation id we take from a client: printable ASCII without spaces, at most 100 characters.
_CORRELATION_ID = re.compile(rb"[\x21-\x7e]{1,100}")


class RequestContext:
    """The one middleware of our own around every request: sets the correlation id (from
    X-Correlation-ID or new), answers 413 to a body over `max_bytes` (declared or streamed),
    records request metrics, and answers an exception nothing else handled with a 500
    problem (never a stack trace).

    One layer, reading the request's headers once: each layer costs every request a call and
    each message it sends another. A body without a declared length (chunked) is read here,
    up to the limit, and handed on whole: a limit raised from inside the app's own read would
    reach it as a parse error. Starlette's own limit is not used: it answers a declared
    oversize in plain text.

    The metrics' children are looked up once per label set (`labels()` takes a lock and
    builds its key on every call), so a request costs an increment and an observation.
    """

    def __init__(
        self,
        app: ASGIApp,
        requests: Any,
        latency: Any,
        service: str,
        max_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency
        self.service = service
        self.max_bytes = max_bytes
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given, declared, chunked = _read_headers(scope)
        cid = given.decode() if _CORRELATION_ID.fullmatch(given) else uuid4_text()
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
            await self._limited(declared, chunked, scope, receive, sending)
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

    async def _limited(
        self, declared: bytes | None, chunked: bool, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """The app, unless the body is over the limit. The server reads no more than a
        declared length: then there is nothing to count."""
        if self.max_bytes is None or (declared is None and not chunked):
            await self.app(scope, receive, send)  # no limit, or no body at all
        elif declared is None:
            await self._streamed(scope, receive, send)
        elif int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body of no declared length, read up to the limit, then handed on whole."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > (self.max_bytes or 0):
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


def _read_headers(scope: Scope) -> tuple[bytes, bytes | None, bool]:
    """In one pass over the headers (names arrive lower-cased from the ASGI server), the first
    of each: X-Correlation-ID (empty if none), Content-Length when it is digits (else None),
    and whether Transfer-Encoding was given."""
    given: bytes | None = None
    declared: bytes | None = None
    chunked = False
    for key, value in scope["headers"]:
        if key == b"x-correlation-id":
            given = value if given is None else given
        elif key == b"content-length":
            declared = value if declared is None else declared
        elif key == b"transfer-encoding":
            chunked = True
    if declared is not None and not declared.isdigit():
        declared = None
    return bytes(given or b""), declared, chunked
