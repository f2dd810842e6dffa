"""The read service's own token (client-credentials grant of `read-service`) from the real
development issuer, and the write API client that carries it, against a stand-in write API over
HTTP that checks tokens as the write service does (shared/plumbing/access.py)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI, Request

from deploy.local.stack import LocalIssuer, free_port
from services.read.adapters.tokens import ClientCredentials, TokenUnavailable
from services.read.adapters.write_api import WriteApi, WriteApiError
from services.read.connections import client_credentials
from services.read.settings import ReadSettings
from shared.plumbing.access import install_auth, requires
from shared.plumbing.auth import EVENTS, KEYS, OPERATE, InvalidToken, Principal, TokenVerifier
from tests.auth import AUDIENCE, auth_env
from tests.polling import poll

pytestmark = pytest.mark.integration


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def issuer_calls() -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    """An HTTP client for the token client, and the paths it asked the issuer for."""
    paths: list[str] = []

    async def record(request: httpx.Request) -> None:
        paths.append(request.url.path)

    async with httpx.AsyncClient(timeout=10, event_hooks={"request": [record]}) as http:
        yield http, paths


def settings(issuer: LocalIssuer, **overrides: Any) -> ReadSettings:
    env = {key.lower(): value for key, value in auth_env(issuer).items()}
    return ReadSettings(**{**env, **overrides})


def credentials(issuer: LocalIssuer, http: httpx.AsyncClient, **kwargs: Any) -> ClientCredentials:
    secret = issuer.client_secret("read-service")
    return ClientCredentials(issuer.url, "read-service", secret, http=http, **kwargs)


async def test_the_service_token_is_the_clients_and_is_reused(
    issuer: LocalIssuer, issuer_calls: tuple[httpx.AsyncClient, list[str]]
) -> None:
    http, paths = issuer_calls
    tokens = credentials(issuer, http, audience=AUDIENCE)
    first, again = await asyncio.gather(tokens.token(), tokens.token())
    assert first == again == await tokens.token()
    assert paths == ["/.well-known/openid-configuration", "/token"]
    principal = await TokenVerifier(issuer.url, AUDIENCE, http=http).verify(first)
    # the log, the operator's actions, and the data keys that open what the read side shows
    scopes = frozenset({EVENTS, OPERATE, KEYS})
    assert principal == Principal(subject="read-service", client_id="read-service", scopes=scopes)


async def test_the_token_is_renewed_a_minute_before_it_expires(
    issuer: LocalIssuer, issuer_calls: tuple[httpx.AsyncClient, list[str]]
) -> None:
    http, paths = issuer_calls
    clock = Clock()
    tokens = credentials(issuer, http, clock=clock)
    first = await tokens.token()
    clock.now += 3600 - 61  # the dev issuer's tokens live an hour
    assert await tokens.token() == first
    clock.now += 2
    renewed = await tokens.token()
    assert renewed != first
    assert paths.count("/token") == 2
    assert paths.count("/.well-known/openid-configuration") == 1


async def test_an_unknown_client_or_wrong_secret_is_a_clear_error(
    issuer: LocalIssuer, issuer_calls: tuple[httpx.AsyncClient, list[str]]
) -> None:
    http, _ = issuer_calls
    tokens = ClientCredentials(issuer.url, "read-service", "not-the-secret", http=http)
    with pytest.raises(TokenUnavailable, match="401 invalid_client"):
        await tokens.token()
    unreachable = ClientCredentials(f"http://127.0.0.1:{free_port()}", "x", "y", http=http)
    with pytest.raises(TokenUnavailable, match="openid-configuration"):
        await unreachable.token()


def test_without_auth_the_service_asks_for_no_token(issuer: LocalIssuer) -> None:
    assert client_credentials(settings(issuer, auth_disabled=True)) is None
    assert client_credentials(ReadSettings()) is None
    configured = client_credentials(settings(issuer))
    assert configured is not None and configured.client_id == "read-service"


class StandIn:
    """A write API's `/events/head` behind the shared access checks, needing ordering:events;
    with `refusing`, any token answers 401 as a revoked one would."""

    def __init__(self, issuer: LocalIssuer, http: httpx.AsyncClient) -> None:
        self.refusing: set[str] | bool = set()
        self.seen: list[str] = []
        self.app = FastAPI()
        install_auth(self.app, settings(issuer), http)
        caller = Annotated[Principal, Depends(requires(EVENTS))]

        @self.app.get("/events/head")
        async def head(request: Request, principal: caller) -> dict[str, Any]:
            token = request.headers["authorization"].removeprefix("Bearer ")
            self.seen.append(token)
            if self.refusing is True or (isinstance(self.refusing, set) and token in self.refusing):
                raise InvalidToken("revoked")
            return {"position": 7, "cursor": "x", "last_position": 7}


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """uvicorn serving `app` on a free port in this event loop, until the block ends."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    try:
        await poll(started, "the stand-in write API to listen", timeout=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def stand_in(issuer: LocalIssuer) -> AsyncIterator[tuple[StandIn, str]]:
    async with httpx.AsyncClient(timeout=10) as http:
        api = StandIn(issuer, http)
        async with serving(api.app) as url:
            yield api, url


async def test_the_write_api_carries_the_token_and_renews_it_once_after_a_401(
    issuer: LocalIssuer,
    issuer_calls: tuple[httpx.AsyncClient, list[str]],
    stand_in: tuple[StandIn, str],
) -> None:
    api, url = stand_in
    http, paths = issuer_calls
    tokens = credentials(issuer, http)
    write_api = WriteApi(url, tokens=tokens)
    try:
        assert await write_api.head_position() == 7
        first = api.seen[-1]
        api.refusing = {first}
        assert await write_api.head_position() == 7
        assert api.seen[-2:] == [first, api.seen[-1]] and api.seen[-1] != first
        assert paths.count("/token") == 2
        api.refusing = True
        with pytest.raises(WriteApiError, match="answered 401"):
            await write_api.head_position()
        assert paths.count("/token") == 3  # once more, not again and again
    finally:
        await write_api.close()
    anonymous = WriteApi(url)
    try:
        with pytest.raises(WriteApiError, match="answered 401"):
            await anonymous.head_position()
    finally:
        await anonymous.close()
