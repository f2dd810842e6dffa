"""Health and metrics."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from shared.plumbing.access import operators_only
from shared.plumbing.http import problem, problem_responses

from ..application.ports import Unavailable
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
        await service.log.ping(timeout=2)
    except Unavailable as exc:
        reason = type(exc.cause).__name__
        return problem(503, f"event store unavailable: {reason}", instance="/health/ready")
    leader = service.relay_status.leader
    access = request.app.state.auth.state
    body = {"status": "ready", "relay": service.relay_state, "relay_leader": leader}
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
    body, content_type = await service.metrics.render()
    return Response(body, media_type=content_type)
