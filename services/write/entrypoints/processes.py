"""The fulfilment process's instances, for operators (ordering:operate): listed by state, one
with its timeline, and a suspended one sent back to work."""

import uuid
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from shared.contracts.envelope import EventMetadata, InvalidCursor
from shared.plumbing.access import requires, secured
from shared.plumbing.auth import OPERATE, Principal
from shared.plumbing.logging import correlation_id
from shared.plumbing.tracing import current_traceparent, enabled

from ..application.fulfilment.ports import RetryOutcome
from ..application.processes import MAX_PAGE, PageAfter, ProcessState
from ..domain.errors import DomainError, NotFound
from .deps import Service
from .problems import documented
from .process_schemas import (
    Process,
    ProcessList,
    ProcessWithTimeline,
    detail_body,
    page_body,
    process_body,
)

router = APIRouter(tags=["processes"], dependencies=[Depends(requires(OPERATE))])
Operator = Annotated[Principal, Depends(requires(OPERATE))]


class NotSuspended(DomainError):
    """Only a suspended instance can be retried (409)."""


def _json(body: Any) -> Response:
    # The driver's UUIDs are a subclass orjson only takes through `default`.
    return Response(orjson.dumps(body, default=str), media_type="application/json")


async def page_after(
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="The `next_cursor` of the previous page",
        ),
    ] = None,
) -> PageAfter | None:
    try:
        return None if cursor is None else PageAfter.decode(cursor)
    except InvalidCursor as exc:
        error = {"loc": ("query", "cursor"), "msg": str(exc), "type": "value_error"}
        raise RequestValidationError([error]) from exc


@router.get(
    "/processes",
    operation_id="listProcesses",
    response_model=ProcessList,
    **secured(OPERATE, responses=documented(422, 503)),
)
async def list_processes(
    service: Service,
    after: Annotated[PageAfter | None, Depends(page_after)],
    state: Annotated[
        ProcessState | None, Query(description="Only these; stuck: active ones not moving")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> Response:
    """The process's instances, most recently updated first; pass `next_cursor` back as
    `cursor` for the next page."""
    page = await service.processes.list(state=state, limit=limit, after=after)
    return _json(page_body(page))


@router.get(
    "/processes/{order_id}",
    operation_id="getProcess",
    response_model=ProcessWithTimeline,
    **secured(OPERATE, responses=documented(404, 422, 503)),
)
async def get_process(order_id: UUID, service: Service) -> Response:
    """The order's instance, with its timeline: the order's events, the process's and the stock
    items' about the order, in log order."""
    found = await service.processes.get(order_id)
    if found is None:
        raise NotFound(f"order {order_id} has no fulfilment process")
    return _json(detail_body(found))


def _metadata(request: Request, operator: Principal) -> EventMetadata:
    """What the FulfilmentRetried event records of the request: who asked, and its trace (the
    request's span, or, untraced, the caller's traceparent passed on, as commands do)."""
    cid = correlation_id.get()
    traced = current_traceparent() if enabled() else request.headers.get("traceparent")
    return EventMetadata(
        correlation_id=cid,
        causation_id=cid,
        command_id=str(uuid.uuid4()),
        traceparent=traced,
        actor=operator.actor(),
    )


@router.post(
    "/processes/{order_id}/retry",
    operation_id="retryProcess",
    status_code=202,
    response_model=Process,
    **secured(OPERATE, responses=documented(404, 409, 422, 503)),
)
async def retry_process(
    order_id: UUID, service: Service, operator: Operator, request: Request
) -> Response:
    """Send a suspended instance back to work: active again, its attempts at 0, the operator
    recorded as who retried it; the replica leading the process runs it next (202)."""
    metadata = _metadata(request, operator)
    outcome = await service.fulfilment.retry(order_id, by=operator.subject, metadata=metadata)
    found = await service.processes.find(order_id)
    if outcome is RetryOutcome.UNKNOWN or found is None:  # nothing deletes an instance
        raise NotFound(f"order {order_id} has no fulfilment process")
    if outcome is RetryOutcome.NOT_SUSPENDED:
        detail = f"the fulfilment process of order {order_id} is {found.state}, not suspended"
        raise NotSuspended(detail)
    response = _json(process_body(found))
    response.status_code = 202
    return response
