"""Driver failures that mean "cannot be reached right now", raised as the application's
Unavailable: each adapter names its driver's, and marks the methods that may meet them."""

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from ..application.ports import Unavailable

P = ParamSpec("P")
R = TypeVar("R")
Translated = Callable[P, Coroutine[Any, Any, R]]


def translating(
    unreachable: tuple[type[BaseException], ...],
) -> Callable[[Callable[P, Awaitable[R]]], Translated[P, R]]:
    """A decorator for async methods: any of `unreachable` they raise becomes Unavailable."""

    def decorate(method: Callable[P, Awaitable[R]]) -> Translated[P, R]:
        @functools.wraps(method)
        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await method(*args, **kwargs)
            except unreachable as exc:
                raise Unavailable(exc) from exc

        return call

    return decorate
