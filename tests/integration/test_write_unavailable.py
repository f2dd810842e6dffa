"""The write API with its database out of reach: 503 problems that say when to retry, a probe
that says not ready, metrics that still answer; and everything back once it returns."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from services.write.entrypoints.app import create_app
from services.write.settings import WriteSettings
from shared.plumbing.http import PROBLEM_JSON
from tests.auth import pii_settings
from tests.polling import poll


class CuttableLink:
    """A TCP relay to PostgreSQL that a test cuts (every connection dropped, new ones refused)
    and mends (on the same port)."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def mend(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def _pipe(self, client: asyncio.StreamReader, back: asyncio.StreamWriter) -> None:
        server, forth = await asyncio.open_connection(*self._upstream)
        self._writers += [back, forth]
        await asyncio.gather(_copy(client, forth), _copy(server, back), return_exceptions=True)


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    finally:
        sink.close()


@pytest.fixture
async def link(pg_database: str) -> AsyncIterator[tuple[CuttableLink, str]]:
    """The link, and the database's URL through it."""
    url = urlsplit(pg_database)
    relay = CuttableLink(url.hostname or "127.0.0.1", url.port or 5432)
    await relay.mend()
    netloc = url.netloc.rsplit("@", 1)[0] + "@" if "@" in url.netloc else ""
    yield relay, urlunsplit(url._replace(netloc=f"{netloc}127.0.0.1:{relay.port}"))
    await relay.cut()


@pytest.fixture
async def client(link: tuple[CuttableLink, str]) -> AsyncIterator[httpx.AsyncClient]:
    settings = WriteSettings(
        database_url=link[1], relay_enabled=False, auth_disabled=True, **pii_settings()
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://write") as http,
    ):
        yield http


async def register(client: httpx.AsyncClient) -> httpx.Response:
    body = {"name": "Ada", "email": f"{uuid.uuid4().hex[:8]}@example.com"}
    return await client.post("/customers", json=body)


async def test_without_its_database_the_api_answers_503_and_recovers_when_it_returns(
    link: tuple[CuttableLink, str], client: httpx.AsyncClient
) -> None:
    relay, _ = link
    assert (await register(client)).status_code == 201
    await relay.cut()
    for response in (
        await register(client),
        await client.get("/events"),
        await client.get("/events/head"),
        await client.get(f"/streams/{uuid.uuid4()}/events"),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.headers["retry-after"] == "1"
        assert response.json()["detail"] == "the event store is unavailable"
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["detail"].startswith("event store unavailable: ")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and "outbox_published_position" in metrics.text
    assert "\neventstore_head_position " not in metrics.text  # not known: not shown

    await relay.mend()

    async def registered() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return (await register(client)).status_code == 201
        return False

    await poll(registered, "a command to succeed with the database back", timeout=10)
    assert (await client.get("/health/ready")).status_code == 200
    head = (await client.get("/events/head")).json()
    assert (
        f"\neventstore_head_position {float(head['position'])}"
        in (await client.get("/metrics")).text
    )
