"""RFC 9457 problem details for both HTTP APIs; never a stack trace in a response."""

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Payload too large",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}
Handler = Callable[[Request, Exception], Awaitable[Response]]


class FieldError(BaseModel):
    """One invalid part of a request: where, what is wrong, and the kind of error."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details; 422 answers add `errors`, one per invalid part."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"
DESCRIPTIONS = {
    401: "Missing or invalid credentials",
    403: "Not allowed",
    404: "Not found",
    409: "Business rule",
    410: "Gone for good",
    412: "Version mismatch",
    413: "Body too large",
    422: "Invalid input",
    503: "Unavailable, retry later",
}


def problem_responses(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for problem+json answers: `problem_responses(404, 422)`, or with a
    description of this route's own: `problem_responses(422, s503="Not reached in time")`."""
    own = {int(key.lstrip("s")): text for key, text in described.items()}
    return {
        status: {
            "description": own.get(status, DESCRIPTIONS.get(status, TITLES.get(status, "Error"))),
            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        }
        for status in sorted({*statuses, *own})
    }


def problem(
    status: int,
    detail: str,
    *,
    instance: str = "",
    headers: Mapping[str, str] | None = None,
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


def status_handler(status: int) -> Handler:
    """A handler answering `status` with the exception's message as detail."""

    async def handle(request: Request, exc: Exception) -> Response:
        return problem(status, str(exc), instance=request.url.path)

    return handle


def unavailable_handler(what: str) -> Handler:
    """503 with Retry-After, for a backing store that cannot be reached right now."""

    async def handle(request: Request, exc: Exception) -> Response:
        log.warning("%s unavailable: %r", what, exc)
        return problem(
            503,
            f"the {what} is unavailable",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    return handle


def install_problem_handlers(
    app: FastAPI,
    statuses: Iterable[tuple[type[Exception], int]],
    unavailable: Iterable[type[Exception]] = (),
    *,
    store: str = "database",
) -> None:
    """Turn validation errors, HTTP errors and the given exceptions into problem responses."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = _errors(exc)
        return problem(422, _summary(errors), instance=request.url.path, errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        # Keeps the exception's headers: `Allow` on a 405 (RFC 9110), for one.
        return problem(
            exc.status_code, str(exc.detail), instance=request.url.path, headers=exc.headers
        )

    for kind, status in statuses:
        app.add_exception_handler(kind, status_handler(status))
    for kind in unavailable:
        app.add_exception_handler(kind, unavailable_handler(store))
    # Any other exception is answered by shared.plumbing.middleware.RequestContext (a 500 that still
    # carries the correlation id).
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, with 422s described as the problem+json they are served as,
    and the Problem schema every problem response refers to."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            servers=app.servers,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        problem_schemas = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem_schemas.pop("$defs", {}))
        schemas["Problem"] = problem_schemas
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                invalid = operation.get("responses", {}).get("422")
                if invalid is not None:
                    invalid.update(problem_responses(422)[422])
        app.openapi_schema = document
    return app.openapi_schema
