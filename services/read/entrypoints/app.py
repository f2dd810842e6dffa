"""The read service's HTTP application: queries, projections' status and an operator's actions,
health, metrics, and the operator console."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from shared.plumbing.access import install_auth
from shared.plumbing.cors import install_cors
from shared.plumbing.http import install_problem_handlers
from shared.plumbing.middleware import RequestContext
from shared.plumbing.tracing import FASTAPI_TELEMETRY, instrument_app

from ..application.ports import Unavailable
from ..bootstrap import bootstrap
from ..metrics import HTTP_LATENCY, HTTP_REQUESTS
from ..settings import ReadSettings
from . import operator, ops, queries, stock
from .console import install_console


def create_app(settings: ReadSettings | None = None, *, consume: bool = True) -> FastAPI:
    settings = settings or ReadSettings()
    issuer_http = httpx.AsyncClient(timeout=10)  # the issuer's discovery document and keys

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = bootstrap(settings)
        app.state.read, app.state.operations = service.queries, service.operations
        app.state.replays, app.state.rebuilds = service.replays, service.rebuilds
        service.start(consume=consume)
        try:
            yield
        finally:
            await service.close()
            await issuer_http.aclose()

    app = FastAPI(
        title="Ordering read service",
        version="1.0.0",
        description="Queries over projections of the order events, with lag and rebuild status.",
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY,
    )
    unavailable = [Unavailable, TimeoutError]
    install_problem_handlers(app, [], unavailable, store="read store")
    install_auth(app, settings, issuer_http)
    app.include_router(queries.router, tags=["queries"])
    app.include_router(stock.router, tags=["queries"])
    app.include_router(ops.router)
    app.include_router(operator.router)
    app.include_router(ops.metrics_router(required=settings.auth_metrics_required))
    install_console(app, settings)
    app.add_middleware(
        RequestContext,
        requests=HTTP_REQUESTS,
        latency=HTTP_LATENCY,
        service="read",
        max_bytes=settings.max_body_bytes,
    )
    install_cors(app, settings)  # outermost: every answer carries the CORS headers
    instrument_app(app)  # around all of it: the request's span holds everything it did
    return app
