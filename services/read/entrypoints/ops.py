"""Health, metrics and the projections' status (with an operator's pause and resume).

Health is open (probes carry no token); /metrics too unless AUTH_METRICS_REQUIRED. The status
needs ordering:query or ordering:operate, its error details ordering:operate (an error's text
may hold anything: a document, a server's address); pause and resume need ordering:operate, and
so does the state of a customer's erasure in each projection.
"""

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response

from shared.plumbing.access import operators_only, secured
from shared.plumbing.auth import ERASE, OPERATE, QUERY
from shared.plumbing.http import problem, problem_responses
from shared.plumbing.metrics import exposition

from ..application.ports import Unavailable
from . import ops_schemas, schemas
from .caching import unstored
from .deps import ErasureReader, Observer, Operations, Operator, Read

router = APIRouter(tags=["operations"])
ProjectionName = Annotated[ops_schemas.ProjectionName, Path()]


def _json(body: Any) -> Response:
    # Served as is (no validation on the way out); the response_model is its documentation.
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/health/live", response_model=ops_schemas.Live)
async def live() -> Response:
    """The process is up."""
    return _json({"status": "ok"})


NOT_READY = "MongoDB unavailable, or a projection failing or stalled"


@router.get(
    "/health/ready", response_model=ops_schemas.Ready, responses=problem_responses(s503=NOT_READY)
)
async def ready(request: Request, operations: Operations) -> Response:
    """Ready when MongoDB answers and no projection is failing or stalled; lists the paused ones.

    An operator's pause applies to every replica: were it not ready, every replica would leave
    the rotation, and a pause would become an outage. It is shown here and by
    `projection_paused` instead; a stall (lag not moving while not paused) is not ready.
    """
    try:
        await operations.ping()
    except Unavailable as exc:
        reason = type(exc.__cause__ or exc).__name__
        return problem(503, f"MongoDB unavailable: {reason}", instance="/health/ready")
    problems = operations.not_ready()
    if problems:
        return problem(503, "; ".join(problems), instance="/health/ready")
    paused = await operations.paused()
    access = request.app.state.auth.state
    return _json({"status": "ready", "paused": paused, "access_control": access})


async def metrics() -> Response:
    """Prometheus metrics, in the text exposition format."""
    body, content_type = exposition()
    return Response(body, media_type=content_type)


def metrics_router(*, required: bool) -> APIRouter:
    """/metrics: open (it holds no personal data), or for ordering:operate when `required`."""
    metered = APIRouter(tags=["operations"])
    guarded = operators_only(required)
    metered.add_api_route("/metrics", metrics, response_class=PlainTextResponse, **guarded)
    return metered


@router.get(
    "/projections",
    response_model=ops_schemas.Projections,
    **secured(QUERY, OPERATE, responses=schemas.responses()),
)
async def projections(caller: Observer, operations: Operations) -> Response:
    """Each projection's state, position, lag (events and seconds), counts and rebuild progress;
    `last_error` is shown to ordering:operate only (null for others)."""
    found = await operations.statuses(details=caller.has(OPERATE))
    return _json({"projections": found})


OPERATED = secured(OPERATE, responses=schemas.responses(422))


@router.post("/projections/{name}/pause", response_model=ops_schemas.ProjectionStatus, **OPERATED)
async def pause(caller: Operator, name: ProjectionName, operations: Operations) -> Response:
    """Stop applying events to a projection (every replica); lag keeps being measured."""
    return _json(await operations.set_paused(name, True))


@router.post("/projections/{name}/resume", response_model=ops_schemas.ProjectionStatus, **OPERATED)
async def resume(caller: Operator, name: ProjectionName, operations: Operations) -> Response:
    """Resume a paused projection."""
    return _json(await operations.set_paused(name, False))


@router.get(
    "/erasures/{customer_id}",
    response_model=ops_schemas.Erasure,
    **secured(ERASE, OPERATE, responses=schemas.responses(422, ok=schemas.NO_STORE)),
)
async def erasure(caller: ErasureReader, customer_id: UUID, read: Read) -> Response:
    """Whether each projection's active version has applied the customer's erasure
    (CustomerErased); none has for a customer who was never erased."""
    found = await read.erasure(str(customer_id))
    body = {"customer_id": str(customer_id), "projections": found}
    return unstored(body)
