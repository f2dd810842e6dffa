"""MongoDB's failures in the application's terms (services/read/application/ports.py), and the
few calls to it that belong to no store: a ping, a collection's size."""

import asyncio
import functools
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, PyMongoError

from ..application.ports import Refused, Unavailable

P = ParamSpec("P")
T = TypeVar("T")


def transient(exc: PyMongoError) -> bool:
    """The server could not be reached or did not answer in time (as opposed to refusing)."""
    return isinstance(exc, ConnectionFailure) or bool(getattr(exc, "timeout", False))


@contextmanager
def unavailable_when_unreachable() -> Iterator[None]:
    """MongoDB out of reach: Unavailable; any other failure of the driver: Refused."""
    try:
        yield
    except PyMongoError as exc:
        if transient(exc):
            raise Unavailable(f"MongoDB: {exc}") from exc
        raise Refused(f"MongoDB refused: {type(exc).__name__}: {exc}") from exc


def unavailable_on_error(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Every MongoDB failure of `method` is Unavailable: for state that work cannot go on
    without (whether a projection is paused), where waiting is the only answer."""

    @functools.wraps(method)
    async def translated(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except PyMongoError as exc:
            raise Unavailable(f"MongoDB: {exc}") from exc

    return translated


async def ping(db: AsyncDatabase[Any], *, timeout: float = 2.0) -> None:
    """Return once MongoDB answers; Unavailable when it does not within `timeout` seconds."""
    try:
        await asyncio.wait_for(db.command("ping"), timeout=timeout)
    except (PyMongoError, TimeoutError) as exc:
        raise Unavailable(f"MongoDB: {type(exc).__name__}") from exc


@unavailable_on_error
async def document_count(db: AsyncDatabase[Any], collection: str) -> int:
    """About how many documents the collection holds (from its metadata: no scan)."""
    return await db[collection].estimated_document_count()
