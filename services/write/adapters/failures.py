"""Driver failures in the application's terms: those that mean "cannot be reached right now"
raised as Unavailable, any other of the driver's as Refused. Each adapter names its driver's,
and marks the methods that may meet them."""

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from ..application.ports import Refused, Unavailable

P = ParamSpec("P")
R = TypeVar("R")
Translated = Callable[P, Coroutine[Any, Any, R]]


def translating(
    unreachable: tuple[type[BaseException], ...],
    refused: tuple[type[BaseException], ...] = (),
) -> Callable[[Callable[P, Awaitable[R]]], Translated[P, R]]:
    """A decorator for async methods: any of `unreachable` they raise becomes Unavailable, any
    other of `refused` (the driver's own errors) Refused."""

    def decorate(method: Callable[P, Awaitable[R]]) -> Translated[P, R]:
        @functools.wraps(method)
        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await method(*args, **kwargs)
            except unreachable as exc:
                raise Unavailable(exc) from exc
            except refused as exc:
                raise Refused(f"{type(exc).__name__}: {exc}") from exc

        return call

    return decorate
