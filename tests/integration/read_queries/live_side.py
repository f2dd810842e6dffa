"""What the query routes are given in these tests: a real MongoDB database and fakes of the rest
of the live side, served over ASGI with tokens of the development issuer."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from deploy.local.stack import LocalIssuer
from services.read.adapters.collection_names import Collections
from services.read.application.personal import ERASURES
from services.read.entrypoints import ops, queries, stock
from services.read.queries.facade import ReadQueries
from services.read.queries.orders import Docs
from services.read.settings import ReadSettings
from shared.plumbing.access import install_auth
from shared.plumbing.http import install_problem_handlers
from tests.auth import AUDIENCE, bearer, token
from tests.integration.read_queries.documents import Doc


@dataclass
class FakeLiveSide:
    """What the queries are given: a real Mongo database (version 1 of every projection), and
    fakes of the rest: a wait that only sleeps, a pause, the event store's orders."""

    db: AsyncDatabase[Doc]
    max_wait_ms: int = 1000
    cache_max_age: int = 2
    waiting: asyncio.Event = field(default_factory=asyncio.Event)
    pause: str | None = None  # what pause_reason answers
    waits: list[float] = field(default_factory=list)  # every wait asked for, in seconds
    orders: dict[str, str] = field(default_factory=dict)  # the store's orders: id -> customer

    def documents(self, projection: str) -> Docs:
        return self.db[Collections(projection, 1).main]

    def markers(self, projection: str) -> Docs:
        return self.db[Collections(projection, 1).aux(ERASURES)]

    async def wait_for_order(self, order_id: str, timeout: float) -> None:
        self.waiting.set()
        self.waits.append(timeout)
        await asyncio.sleep(timeout)

    async def pause_reason(self, projection: str) -> str | None:
        return self.pause

    async def stream_exists(self, stream_id: str, *, customer_id: str | None = None) -> bool:
        return stream_id in self.orders and customer_id in (None, self.orders[stream_id])

    def queries(self) -> ReadQueries:
        return ReadQueries(
            documents=self.documents,
            markers=self.markers,
            wait=self.wait_for_order,
            pause_reason=self.pause_reason,
            streams=self,
            max_wait_ms=self.max_wait_ms,
            cache_max_age=self.cache_max_age,
        )


@asynccontextmanager
async def serving(live: FakeLiveSide, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the query routes over `live`, with a staff token."""
    app = FastAPI()
    app.include_router(queries.router)
    app.include_router(stock.router)
    app.include_router(ops.router)  # GET /erasures/{customer_id} among them
    install_problem_handlers(app, [])
    app.state.read = live.queries()
    settings = ReadSettings(auth_issuer=issuer.url, auth_audience=AUDIENCE)
    transport = httpx.ASGITransport(app=app)
    staff = bearer(token(issuer))
    async with (
        httpx.AsyncClient(timeout=10) as http,
        httpx.AsyncClient(transport=transport, base_url="http://read", headers=staff) as client,
    ):
        install_auth(app, settings, http)
        yield client


def customer(issuer: LocalIssuer, customer_id: str) -> dict[str, str]:
    """The headers of a request made with this customer's token."""
    return bearer(token(issuer, customer=customer_id))


async def seed(read: FakeLiveSide, projection: str, *docs: Doc) -> None:
    await read.db[Collections(projection, 1).main].insert_many(list(docs))
