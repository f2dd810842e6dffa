"""The read service's HTTP application: queries, projections' status, health and metrics."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pymongo.errors import ConnectionFailure

from shared.http import install_problem_handlers
from shared.middleware import BodyLimit, RequestContext

from ..bootstrap import build
from ..metrics import HTTP_LATENCY, HTTP_REQUESTS
from ..settings import ReadSettings
from . import ops, queries


def create_app(settings: ReadSettings | None = None, *, consume: bool = True) -> FastAPI:
    settings = settings or ReadSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = build(settings)
        app.state.read = service
        service.start(consume=consume)
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(
        title="Ordering read service",
        version="1.0.0",
        description="Queries over projections of the order events, with lag and rebuild status.",
        lifespan=lifespan,
    )
    install_problem_handlers(app, [], [ConnectionFailure, TimeoutError], store="read store")
    app.include_router(queries.router, tags=["queries"])
    app.include_router(ops.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext, requests=HTTP_REQUESTS, latency=HTTP_LATENCY, service="read")
    return app
