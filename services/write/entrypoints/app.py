"""The write service's HTTP application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from shared.plumbing.access import install_auth
from shared.plumbing.cors import install_cors
from shared.plumbing.middleware import RequestContext
from shared.plumbing.tracing import FASTAPI_TELEMETRY, instrument_app

from ..bootstrap import bootstrap
from ..metrics import HTTP_LATENCY, HTTP_REQUESTS
from ..settings import WriteSettings
from . import commands, events, ops, personal, problems, processes, stock
from .command_lane import CommandLane

# The issuer's discovery document and keys: fetched at the first token, then for unknown keys.
ISSUER_TIMEOUT = httpx.Timeout(5.0)


def create_app(settings: WriteSettings | None = None) -> FastAPI:
    settings = settings or WriteSettings()
    issuer_http = httpx.AsyncClient(timeout=ISSUER_TIMEOUT)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with issuer_http:  # closed at shutdown, whatever happens before
            service = await bootstrap(settings)
            app.state.service = service
            try:
                yield
            finally:
                await service.close()

    app = FastAPI(
        title="Ordering write service",
        version="1.0.0",
        description="Commands for customers and orders, appended to an event store and "
        "relayed to Kafka; the event log in commit order.",
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY,
    )
    problems.install(app)
    install_auth(app, settings, issuer_http)
    commands.install(app)
    stock.install(app)
    app.include_router(events.router, tags=["events"])
    app.include_router(processes.router)
    app.include_router(personal.router)
    app.include_router(ops.router)
    app.include_router(ops.metrics_router(token_required=settings.auth_metrics_required))
    app.add_middleware(CommandLane, owner=app)  # innermost: see command_lane
    app.add_middleware(
        RequestContext,
        requests=HTTP_REQUESTS,
        latency=HTTP_LATENCY,
        service="write",
        max_bytes=settings.max_body_bytes,
    )
    install_cors(app, settings)  # outermost: every answer carries the CORS headers
    instrument_app(app)  # around all of it: the request's span holds everything it did
    return app
