"""Reading the log: one stream's history, the whole log in commit order, and its head."""

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from shared.contracts.envelope import MAX_VERSION, START, Cursor
from shared.plumbing.access import requires, secured
from shared.plumbing.auth import EVENTS

from ..domain.errors import NotFound
from . import links
from .deps import Service
from .problems import documented
from .schemas import EventPage, Head, StreamEvents

# The event log is for the read service and integrations (ordering:events), never a customer's.
router = APIRouter(dependencies=[Depends(requires(EVENTS))])


def _json(body: Any) -> Response:
    # The log's rows may hold a UUID subclass (the driver's), which orjson only takes through
    # `default`.
    return Response(orjson.dumps(body, default=str), media_type="application/json")


def _public(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("transaction_id", None)
    return row


@router.get(
    "/streams/{stream_id}/events",
    operation_id="getStreamEvents",
    response_model=StreamEvents,
    **secured(
        EVENTS,
        responses={
            200: {"description": "The stream's events", "links": links.STREAM_EVENTS},
            **documented(404, 422, 503),
        },
    ),
)
async def stream_events(
    stream_id: UUID,
    service: Service,
    after_version: Annotated[int, Query(ge=0, le=MAX_VERSION)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    """One stream's events in version order, after `after_version`."""
    events = await service.log.read_stream(stream_id, after_version=after_version, limit=limit)
    if not events and after_version == 0:
        raise NotFound(f"stream {stream_id} does not exist")
    rows = [_public(e.model_dump(exclude_none=True)) for e in events]
    return _json({"stream_id": stream_id, "events": rows})


@router.get(
    "/events",
    operation_id="getEvents",
    response_model=EventPage,
    **secured(EVENTS, responses=documented(422, 503)),
)
async def all_events(
    service: Service,
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    """The whole log in commit order. Pass `next` back as `after` to continue; it never skips."""
    page = await service.log.read_page(Cursor.decode(after) if after else START, limit)
    body = {
        "events": page.events,
        "next": page.next.encode(),
        "has_more": len(page.events) == limit,
    }
    return _json(body)


@router.get(
    "/events/head",
    operation_id="getEventsHead",
    response_model=Head,
    **secured(EVENTS, responses=documented(503)),
)
async def head(service: Service) -> Response:
    """The last event visible to readers: its position, the highest position, and a cursor."""
    head = await service.log.head()
    body = {
        "position": head.position,
        "cursor": head.cursor.encode(),
        "last_position": head.cursor.position,
    }
    return _json(body)
