"""Waiting on a condition in tests: bounded polling, never a fixed sleep."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def poll(
    check: Callable[[], Awaitable[T | None]],
    what: str,
    *,
    timeout: float,
    seen: Callable[[], object] = lambda: None,
    interval: float = 0.05,
) -> T:
    """Call `check` until it returns something other than None/False, for at
    most `timeout` seconds. On timeout the error names `what` and shows `seen()`, the last
    observation."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; saw {seen()}")
        await asyncio.sleep(interval)
