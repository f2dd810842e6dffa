"""The fulfilment process's instances, for operators (ordering:operate): listed by state, one
with its timeline."""

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from shared.contracts.envelope import InvalidCursor
from shared.plumbing.access import requires, secured
from shared.plumbing.auth import OPERATE

from ..application.processes import MAX_PAGE, PageAfter, ProcessState
from ..domain.errors import NotFound
from .deps import Service
from .problems import documented
from .process_schemas import ProcessList, ProcessWithTimeline, detail_body, page_body

router = APIRouter(tags=["processes"], dependencies=[Depends(requires(OPERATE))])


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
