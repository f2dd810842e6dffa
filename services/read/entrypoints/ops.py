"""Health, metrics and the projections' status (with an operator's pause and resume).

Health is open (probes carry no token); /metrics too unless AUTH_METRICS_REQUIRED. The status
needs ordering:query or ordering:operate, its error details ordering:operate (an error's text
may hold anything: a document, a server's address); pause and resume need ordering:operate.
"""

import asyncio
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response

from shared.plumbing.access import operators_only, secured
from shared.plumbing.auth import OPERATE, QUERY
from shared.plumbing.http import problem, problem_responses
from shared.plumbing.metrics import exposition

from ..adapters.control import rebuild_running
from ..bootstrap import ReadService
from . import schemas
from .deps import Observer, Operator

router = APIRouter(tags=["operations"])
ProjectionName = Annotated[Literal["order_details", "customers", "sales"], Path()]


def _service(request: Request) -> ReadService:
    service: ReadService = request.app.state.read
    return service


def _json(body: Any) -> Response:
    # Served as is (no validation on the way out); the response_model is its documentation.
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/health/live", response_model=schemas.Live)
async def live() -> Response:
    """The process is up."""
    return _json({"status": "ok"})


NOT_READY = "MongoDB unavailable, or a projection failing or stalled"


@router.get(
    "/health/ready", response_model=schemas.Ready, responses=problem_responses(s503=NOT_READY)
)
async def ready(request: Request) -> Response:
    """Ready when MongoDB answers and no projection is failing or stalled; lists the paused ones.

    An operator's pause applies to every replica: were it not ready, every replica would leave
    the rotation, and a pause would become an outage. It is shown here and by
    `projection_paused` instead; a stall (lag not moving while not paused) is not ready.
    """
    service = _service(request)
    try:
        await asyncio.wait_for(service.db.command("ping"), timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return problem(503, f"MongoDB unavailable: {type(exc).__name__}", instance="/health/ready")
    problems = _failing(service)
    if problems:
        return problem(503, "; ".join(problems), instance="/health/ready")
    paused = [name for name in service.runners if (await service.control.get(name)).get("paused")]
    access = request.app.state.auth.state
    return _json({"status": "ready", "paused": paused, "access_control": access})


def _failing(service: ReadService) -> list[str]:
    """What keeps the projections from being ready: failures and stalls."""
    problems = []
    for name, runner in service.runners.items():
        lag = service.lag.lags[name]
        if not runner.status.healthy:  # the error itself only in /projections, for operators
            problems.append(f"{name}: failing, see /projections")
        elif not runner.status.paused and lag.stalled(service.settings.stall_seconds):
            problems.append(f"{name}: stalled with {lag.events} events waiting")
    return problems


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


async def describe(service: ReadService, name: str, *, details: bool = True) -> dict[str, Any]:
    """A projection's status; `details` shows its last error (else null)."""
    runner, lag = service.runners[name], service.lag.lags[name]
    state = await service.control.get(name)
    rebuild = state.get("rebuild") or None
    return {
        "name": name,
        "state": "rebuilding" if rebuild_running(state) else "live",
        "paused": bool(state.get("paused")),
        "healthy": runner.status.healthy,
        "last_error": runner.status.last_error if details else None,
        "active_version": int(state.get("active_version", 1)),
        "position": max(runner.status.position, int(state.get("position", 0))),
        "lag_measured": lag.measured,
        "lag_events": lag.events,
        "lag_seconds": round(lag.seconds, 3),
        "events_applied": runner.status.applied,
        "dead_letters": await service.dead_letters.count(name),
        "rebuild": rebuild,
    }


@router.get(
    "/projections",
    response_model=schemas.Projections,
    **secured(QUERY, OPERATE, responses=schemas.responses()),
)
async def projections(caller: Observer, request: Request) -> Response:
    """Each projection's state, position, lag (events and seconds), counts and rebuild progress;
    `last_error` is shown to ordering:operate only (null for others)."""
    service = _service(request)
    details = caller.has(OPERATE)
    found = [await describe(service, name, details=details) for name in service.runners]
    return _json({"projections": found})


OPERATED = secured(OPERATE, responses=schemas.responses(422))


@router.post("/projections/{name}/pause", response_model=schemas.ProjectionStatus, **OPERATED)
async def pause(caller: Operator, name: ProjectionName, request: Request) -> Response:
    """Stop applying events to a projection (every replica); lag keeps being measured."""
    service = _service(request)
    await service.control.set(name, paused=True)
    return _json(await describe(service, name))


@router.post("/projections/{name}/resume", response_model=schemas.ProjectionStatus, **OPERATED)
async def resume(caller: Operator, name: ProjectionName, request: Request) -> Response:
    """Resume a paused projection."""
    service = _service(request)
    await service.control.set(name, paused=False)
    return _json(await describe(service, name))
