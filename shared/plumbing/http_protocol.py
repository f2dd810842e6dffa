"""uvicorn's httptools protocol, writing each response in one piece.

uvicorn writes a response's status line and headers as soon as the app starts it, and its body
in a second write: two system calls and two TCP segments per response, each costing the
sending process as much as a small command's validation (the loopback delivers the segment in
the sender's system call). Here the writes a connection makes within one turn of the event
loop go out together, at the end of that turn, in their order: a response that starts and
ends without waiting leaves in one write, and nothing waits longer than the turn.
"""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TurnWrites:
    """A transport whose writes within one turn of the event loop are sent as one; everything
    else goes to the transport itself (closing sends what waits first)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._waiting: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._waiting:
            self._loop.call_soon(self.flush)
        self._waiting.append(data)

    def flush(self) -> None:
        if self._waiting:
            data = b"".join(self._waiting)
            self._waiting.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over TurnWrites (see the module's docstring)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # the flow control (pausing, resuming) stays on the transport itself
        self.transport = TurnWrites(transport, self.loop)  # type: ignore[assignment]
