"""Health and metrics."""

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from shared.plumbing.access import operators_only
from shared.plumbing.http import problem, problem_responses
from shared.plumbing.metrics import exposition

from ..metrics import HEAD_POSITION
from .deps import Service
from .schemas import Live, Ready

# Open: orchestrators' probes carry no token.
router = APIRouter(tags=["operations"])


@router.get("/health/live", operation_id="getLive", response_model=Live)
async def live() -> Response:
    """The process is up."""
    return JSONResponse({"status": "ok"})


@router.get(
    "/health/ready",
    operation_id="getReady",
    response_model=Ready,
    responses=problem_responses(503, s503="The event store does not answer"),
)
async def ready(service: Service, request: Request) -> Response:
    """Ready when the event store answers. Kafka is not required: writes never depend on it."""
    try:
        await asyncio.wait_for(service.pool.fetchval("SELECT 1"), timeout=2)
    except Exception as exc:
        return problem(
            503, f"event store unavailable: {type(exc).__name__}", instance="/health/ready"
        )
    relay = service.relay
    relay_state = "disabled" if relay is None else ("stopped" if relay.done() else "running")
    leader = service.relay_status.leader
    access = request.app.state.auth.state
    body = {"status": "ready", "relay": relay_state, "relay_leader": leader}
    return JSONResponse({**body, "access_control": access})


def metrics_router(*, token_required: bool) -> APIRouter:
    """/metrics: open, as it holds no personal data and scrapers seldom carry a token; or, where
    the deployment asks for it (AUTH_METRICS_REQUIRED), for ordering:operate only."""
    text: dict[int | str, dict[str, Any]] = {
        200: {"description": "The Prometheus text exposition format"}
    }
    guard = operators_only(token_required, responses=text)
    metrics_only = APIRouter(tags=["operations"])
    metrics_only.add_api_route(
        "/metrics", metrics, operation_id="getMetrics", response_class=PlainTextResponse, **guard
    )
    return metrics_only


async def metrics(service: Service) -> Response:
    """Prometheus metrics."""
    try:
        HEAD_POSITION.set(await asyncio.wait_for(service.store.max_position(), timeout=2))
    except Exception:  # noqa: BLE001 - metrics still answer when the database does not
        pass
    body, content_type = exposition()
    return Response(body, media_type=content_type)
