"""How the write service's failures map to problem responses."""

from typing import Any

from fastapi import FastAPI

from shared.contracts.envelope import InvalidCursor
from shared.plumbing.http import install_problem_handlers, problem_responses

from ..application.handlers import IdempotencyMismatch
from ..application.ports import Unavailable
from ..domain.errors import (
    ConcurrencyError,
    DomainError,
    NotFound,
    UnknownReference,
    VersionMismatch,
)


class BadHeader(ValueError):
    """A request header that cannot be understood (422)."""


STATUSES: list[tuple[type[Exception], int]] = [
    (VersionMismatch, 412),
    (NotFound, 404),
    (UnknownReference, 422),
    (IdempotencyMismatch, 422),
    (InvalidCursor, 422),
    (BadHeader, 422),
    (DomainError, 409),
    (ConcurrencyError, 409),
]

# The event store cannot be reached right now (its adapter says so): 503, retry later.
UNAVAILABLE: tuple[type[Exception], ...] = (Unavailable,)


def install(app: FastAPI) -> None:
    install_problem_handlers(app, STATUSES, UNAVAILABLE, store="event store")


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the problems a route answers; a 503 says when to retry."""
    responses = problem_responses(*statuses, s503="The event store is unavailable; retry later")
    if 503 in responses:
        retry = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
        responses[503]["headers"] = {"Retry-After": retry}
    return responses
