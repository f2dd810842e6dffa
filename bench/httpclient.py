"""A minimal HTTP/1.1 keep-alive client over asyncio streams for the load generator: it spends
far less CPU per request than a full client, which matters on a machine shared with the servers
being measured. Enough HTTP for our services: Content-Length or chunked bodies, keep-alive.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

IDLE_SECONDS = 4.0  # uvicorn closes keep-alive connections idle for 5 s


class HttpError(RuntimeError):
    """The connection broke or the answer was not HTTP."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.used = 0  # requests answered on this connection
        self.idle_since = time.monotonic()

    async def exchange(self, request: bytes) -> tuple[Response, bool]:
        """Send one request, read one answer; returns it and whether the server keeps alive."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError(f"not an HTTP status line: {lines[0]!r}") from None
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get("transfer-encoding") == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return Response(status, body), headers.get("connection") != "close"

    async def _chunked(self) -> bytes:
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        await self.reader.readuntil(b"\r\n")  # the empty trailer
        return b"".join(parts)

    def close(self) -> None:
        self.writer.close()


class HttpPool:
    """Up to `max_connections` keep-alive connections to one host."""

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int = 128,
        headers: dict[str, str] | None = None,
    ) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.headers = headers or {}  # sent with every request
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def request(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> Response:
        body = b"" if json is None else orjson.dumps(json)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if json is not None:
            head += "Content-Type: application/json\r\n"
        for name, value in {**self.headers, **(headers or {})}.items():
            head += f"{name}: {value}\r\n"
        request = f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        async with self._slots:
            conn = await self._take()
            try:
                try:
                    response, keep = await conn.exchange(request)
                except asyncio.IncompleteReadError as exc:
                    if conn.used == 0 or exc.partial:
                        raise
                    # The server closed this idle connection as the request went out: nothing
                    # was read, so nothing was processed; send it once more on a new one.
                    conn.close()
                    conn = await self._open()
                    response, keep = await conn.exchange(request)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                conn.close()
                raise HttpError(repr(exc)) from exc
            except BaseException:
                conn.close()
                raise
            conn.used += 1
            if keep:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            else:
                conn.close()
            return response

    async def _take(self) -> _Connection:
        """The most recently used idle connection, unless the server may have closed it."""
        while self._idle:
            conn = self._idle.pop()
            if time.monotonic() - conn.idle_since < IDLE_SECONDS:
                return conn
            conn.close()
        return await self._open()

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer)

    async def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
