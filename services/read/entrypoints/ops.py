"""Health, metrics and the projections' status (with an operator's pause and resume)."""

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from shared.http import problem
from shared.metrics import exposition

from ..adapters.control import rebuild_running
from ..bootstrap import ReadService

router = APIRouter(tags=["operations"])
ProjectionName = Annotated[Literal["order_details", "customers", "sales"], Path()]


def _service(request: Request) -> ReadService:
    service: ReadService = request.app.state.read
    return service


@router.get("/health/live")
async def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(request: Request) -> Response:
    """Ready when MongoDB answers and no projection is failing or stalled."""
    service = _service(request)
    try:
        await asyncio.wait_for(service.db.command("ping"), timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return problem(503, f"MongoDB unavailable: {type(exc).__name__}", instance="/health/ready")
    problems = []
    for name, runner in service.runners.items():
        lag = service.lag.lags[name]
        if not runner.status.healthy:
            problems.append(f"{name}: {runner.status.last_error}")
        elif not runner.status.paused and lag.stalled(service.settings.stall_seconds):
            problems.append(f"{name}: stalled with {lag.events} events waiting")
    if problems:
        return problem(503, "; ".join(problems), instance="/health/ready")
    return JSONResponse({"status": "ready"})


@router.get("/metrics")
async def metrics() -> Response:
    """Prometheus metrics."""
    body, content_type = exposition()
    return Response(body, media_type=content_type)


async def describe(service: ReadService, name: str) -> dict[str, Any]:
    runner, lag = service.runners[name], service.lag.lags[name]
    state = await service.control.get(name)
    rebuild = state.get("rebuild") or None
    return {
        "name": name,
        "state": "rebuilding" if rebuild_running(state) else "live",
        "paused": bool(state.get("paused")),
        "healthy": runner.status.healthy,
        "last_error": runner.status.last_error,
        "active_version": int(state.get("active_version", 1)),
        "position": max(runner.status.position, int(state.get("position", 0))),
        "lag_measured": lag.measured,
        "lag_events": lag.events,
        "lag_seconds": round(lag.seconds, 3),
        "events_applied": runner.status.applied,
        "dead_letters": await service.dead_letters.count(name),
        "rebuild": rebuild,
    }


@router.get("/projections")
async def projections(request: Request) -> dict[str, Any]:
    """Each projection's state, position, lag (events and seconds), counts and rebuild progress."""
    service = _service(request)
    return {"projections": [await describe(service, name) for name in service.runners]}


@router.post("/projections/{name}/pause")
async def pause(name: ProjectionName, request: Request) -> dict[str, Any]:
    """Stop applying events to a projection (every replica); lag keeps being measured."""
    service = _service(request)
    await service.control.set(name, paused=True)
    return await describe(service, name)


@router.post("/projections/{name}/resume")
async def resume(name: ProjectionName, request: Request) -> dict[str, Any]:
    """Resume a paused projection."""
    service = _service(request)
    await service.control.set(name, paused=False)
    return await describe(service, name)
