"""The read service's own access token, for its calls to the write service (and the operator
commands' calls to both): the OAuth 2.0 client-credentials grant of AUTH_CLIENT_ID, at the token
endpoint the issuer's discovery document names. One token is kept and used until shortly before
it expires; a 401 asks for a new one once.
"""

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import httpx

RENEW_BEFORE_SECONDS = 60.0
DEFAULT_LIFETIME_SECONDS = 300.0  # when the issuer does not say (`expires_in` is optional)


class TokenUnavailable(Exception):
    """The issuer could not be reached, or refused this client."""


class ClientCredentials:
    """Access tokens of one client, cached and renewed before they expire."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        *,
        audience: str = "",
        scope: str = "",
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer, self.client_id = issuer.rstrip("/"), client_id
        self._secret, self._audience, self._scope = client_secret, audience, scope
        self._http = http or httpx.AsyncClient(timeout=10)
        self._owns_http = http is None
        self._clock = clock
        self._endpoint: str | None = None
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        """The current token, asked for when there is none or it is about to expire."""
        async with self._lock:  # concurrent callers share one request to the issuer
            if self._token is None or self._clock() >= self._renew_at:
                self._token, self._renew_at = await self._fetch()
            return self._token

    def refused(self, token: str) -> None:
        """A service answered 401 to `token`: the next call asks for a new one."""
        if self._token == token:
            self._token = None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _fetch(self) -> tuple[str, float]:
        """A new token, and when to renew it: a minute before it expires, or a tenth of its
        lifetime before when that is shorter (a token of a few seconds is still reused)."""
        asked = self._clock()
        body = await self._post(await self._token_endpoint())
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise TokenUnavailable("the token endpoint answered without an access_token")
        lifetime = _lifetime(body.get("expires_in"))
        return token, asked + lifetime - min(RENEW_BEFORE_SECONDS, lifetime / 10)

    async def _token_endpoint(self) -> str:
        if self._endpoint is None:
            discovery = await self._json("GET", f"{self.issuer}/.well-known/openid-configuration")
            endpoint = discovery.get("token_endpoint")
            if not isinstance(endpoint, str) or not endpoint:
                raise TokenUnavailable("the issuer's discovery document names no token_endpoint")
            self._endpoint = endpoint
        return self._endpoint

    async def _post(self, endpoint: str) -> dict[str, Any]:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        if self._audience:  # Auth0 wants it; others ignore parameters they do not know
            form["audience"] = self._audience
        auth = (self.client_id, self._secret)  # client_secret_basic, which every issuer takes
        return await self._json("POST", endpoint, data=form, auth=auth)

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise TokenUnavailable(f"{method} {url}: {exc!r}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise TokenUnavailable(f"{method} {url} answered {response.status_code} {error or ''}")
        return body


def _lifetime(expires_in: Any) -> float:
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME_SECONDS
    return seconds if seconds > 0 else DEFAULT_LIFETIME_SECONDS


class BearerAuth(httpx.Auth):
    """httpx authentication with the client's token; on a 401, once more with a new one (the
    issuer may have rotated its keys, or the token was revoked)."""

    def __init__(self, tokens: ClientCredentials) -> None:
        self.tokens = tokens

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.tokens.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.tokens.refused(token)
            request.headers["Authorization"] = f"Bearer {await self.tokens.token()}"
            yield request


def bearer_auth(tokens: ClientCredentials | None) -> BearerAuth | None:
    return None if tokens is None else BearerAuth(tokens)
