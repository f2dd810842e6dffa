"""The write service's failures: a driver's "cannot reach it" becomes Unavailable in the adapter,
and Unavailable is a 503 that says when to retry."""

from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI

from services.write.adapters.event_log import postgres_call
from services.write.adapters.kafka import kafka_call
from services.write.application.ports import Refused, Unavailable
from services.write.domain.errors import ConcurrencyError
from services.write.entrypoints import problems
from shared.plumbing.http import PROBLEM_JSON


@pytest.mark.parametrize(
    ("translate", "error"),
    [
        (postgres_call, asyncpg.exceptions.CannotConnectNowError("starting up")),
        (postgres_call, asyncpg.InterfaceError("connection is closed")),
        (postgres_call, ConnectionRefusedError(111, "refused")),
        (postgres_call, TimeoutError()),
        (kafka_call, KafkaConnectionError("no broker")),
    ],
)
async def test_a_driver_that_cannot_reach_its_server_raises_unavailable(
    translate: Callable[[Callable[[], Awaitable[None]]], Callable[[], Awaitable[None]]],
    error: Exception,
) -> None:
    @translate
    async def call() -> None:
        raise error

    with pytest.raises(Unavailable) as raised:
        await call()
    assert raised.value.cause is error and raised.value.__cause__ is error


async def test_the_application_s_own_failures_pass_as_they_are() -> None:
    @postgres_call
    async def call() -> None:
        raise ConcurrencyError("version taken")

    with pytest.raises(ConcurrencyError):
        await call()


async def test_any_other_failure_of_the_driver_is_refused_not_the_driver_s_error() -> None:
    @postgres_call
    async def call() -> None:
        raise asyncpg.exceptions.NumericValueOutOfRangeError("integer out of range")

    with pytest.raises(Refused) as raised:
        await call()
    assert "integer out of range" in str(raised.value)
    assert isinstance(raised.value.__cause__, asyncpg.PostgresError)


async def test_unavailable_answers_503_with_retry_after_as_a_problem() -> None:
    app = FastAPI()
    problems.install(app)

    @app.get("/down")
    async def down() -> None:
        raise Unavailable(ConnectionRefusedError(111, "refused"))

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/down")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == "the event store is unavailable"
