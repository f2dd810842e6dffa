"""How the write service's failures map to problem responses."""

from typing import Any

from fastapi import FastAPI, Request, Response

from shared.contracts.envelope import InvalidCursor
from shared.plumbing.http import install_problem_handlers, problem, problem_responses

from ..application.handlers import IdempotencyMismatch
from ..application.personal import PersonalDataGone
from ..application.ports import SubjectErased, Unavailable
from ..domain.errors import (
    ConcurrencyError,
    DomainError,
    ErasedCustomer,
    NotFound,
    StockPending,
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
# A conflict that passes by itself (the order's stock is being reserved): a client tells it
# from a refusal by this type, and retries after Retry-After.
STOCK_PENDING_TYPE = "urn:ordering:problem:stock-pending"
STOCK_PENDING_RETRY_SECONDS = 1
# A command that would record personal data of an erased customer: refused for good.
CUSTOMER_ERASED_TYPE = "urn:ordering:problem:customer-erased"
CUSTOMER_ERASED: dict[str, Any] = {
    "description": "Business rule; with the type " + CUSTOMER_ERASED_TYPE + ", the customer was "
    "erased: nothing personal is recorded for them again"
}

# A 409 of a command on an order whose stock is still being reserved: retry after a moment.
STOCK_PENDING: dict[str, Any] = {
    "description": "Business rule; or, with the type " + STOCK_PENDING_TYPE + ", the order's "
    "tracked lines are not reserved yet: retry after Retry-After",
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before retrying (stock-pending only)",
            "schema": {"type": "integer"},
        }
    },
}


def install(app: FastAPI) -> None:
    install_problem_handlers(app, STATUSES, UNAVAILABLE, store="event store")
    app.add_exception_handler(StockPending, _stock_pending)
    app.add_exception_handler(ErasedCustomer, _customer_erased)
    app.add_exception_handler(SubjectErased, _customer_erased)
    app.add_exception_handler(PersonalDataGone, _personal_data_gone)


async def _stock_pending(request: Request, exc: Exception) -> Response:
    return problem(
        409,
        str(exc),
        instance=request.url.path,
        headers={"Retry-After": str(STOCK_PENDING_RETRY_SECONDS)},
        type=STOCK_PENDING_TYPE,
        title="Stock not reserved yet",
    )


async def _customer_erased(request: Request, exc: Exception) -> Response:
    # Said in words of our own: the store's message is not echoed.
    return problem(
        409,
        "the customer was erased: nothing personal is recorded for them again",
        instance=request.url.path,
        type=CUSTOMER_ERASED_TYPE,
        title="Customer erased",
    )


async def _personal_data_gone(request: Request, exc: Exception) -> Response:
    return problem(
        410,
        "the customer was erased: this event's personal data can no longer be read",
        instance=request.url.path,
        headers={"Cache-Control": "no-store"},
        type=CUSTOMER_ERASED_TYPE,
        title="Customer erased",
    )


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the problems a route answers; a 503 says when to retry."""
    responses = problem_responses(*statuses, s503="The event store is unavailable; retry later")
    if 503 in responses:
        retry = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
        responses[503]["headers"] = {"Retry-After": retry}
    return responses
