"""RFC 9457 problem details for every failure; never a stack trace in a response."""

import logging
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from shared.envelope import InvalidCursor

from ..application.handlers import IdempotencyMismatch
from ..domain.errors import (
    ConcurrencyError,
    DomainError,
    NotFound,
    UnknownReference,
    VersionMismatch,
)

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"

# Driver failures that mean "the database cannot be reached right now": 503, retry later.
UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)


class BadHeader(ValueError):
    """A request header that cannot be understood (422)."""


TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    instance: str = "",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Keep location, message and kind; drop the echoed input and internal context.
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]


def _summary(errors: list[dict[str, Any]]) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5]]
    return "invalid request: " + "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the exception handlers that turn failures into problem responses."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = _errors(exc)
        return problem(422, _summary(errors), instance=request.url.path, errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return problem(exc.status_code, str(exc.detail), instance=request.url.path)

    mapping: list[tuple[type[Exception], int]] = [
        (VersionMismatch, 412),
        (NotFound, 404),
        (UnknownReference, 422),
        (IdempotencyMismatch, 422),
        (InvalidCursor, 422),
        (BadHeader, 422),
        (DomainError, 409),
        (ConcurrencyError, 409),
    ]
    for kind, status in mapping:
        app.add_exception_handler(kind, _handler(status))

    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, _unavailable)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "unexpected error; it has been logged", instance=request.url.path)


def _handler(status: int) -> Any:
    async def handle(request: Request, exc: Exception) -> Response:
        return problem(status, str(exc), instance=request.url.path)

    return handle


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %r", exc)
    return problem(
        503,
        "the event store is unavailable",
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )
