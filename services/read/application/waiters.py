"""Readers waiting for a stream's events to be written (read-your-writes)."""

import asyncio


class StreamWaiters:
    """Readers waiting for a stream's events to be written; each is woken by its own stream only,
    so a thousand waiting readers do not all re-read after every batch."""

    def __init__(self) -> None:
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}

    async def wait(self, stream_id: str, timeout: float) -> None:
        """Return once a batch with `stream_id` was written, or after `timeout` seconds."""
        woken = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(stream_id, []).append(woken)
        try:
            await asyncio.wait_for(woken, timeout)
        except TimeoutError:
            pass
        finally:
            waiting = self._waiting.get(stream_id)
            if waiting is not None and woken in waiting:
                waiting.remove(woken)
                if not waiting:
                    del self._waiting[stream_id]

    def wake(self, stream_ids: set[str]) -> None:
        for stream_id in stream_ids & self._waiting.keys():
            for woken in self._waiting.pop(stream_id):
                if not woken.done():
                    woken.set_result(None)
