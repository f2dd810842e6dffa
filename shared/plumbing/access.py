"""Who may call what, for both HTTP APIs: the request's bearer token, checked against the
permission of its route, and the answers when it is missing (401) or not enough (403)."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from shared.plumbing.auth import (
    OPERATE,
    UNCHECKED,
    Forbidden,
    InvalidToken,
    IssuerUnavailable,
    Principal,
    TokenVerifier,
    bearer_token,
)
from shared.plumbing.http import problem, problem_responses
from shared.plumbing.settings import BaseServiceSettings, InvalidSettings

log = logging.getLogger(__name__)
REALM = "ordering"
ISSUER_DOWN = "the token issuer cannot be reached to check the token"
SCHEME = "bearerAuth"
# The OpenAPI extension of a route a customer's token may call (for the customer's own data).
CUSTOMER_TOKENS = "x-customer-tokens"


class Authenticator:
    """The principal of a request; with auth disabled, every request may do everything."""

    def __init__(self, verifier: TokenVerifier | None) -> None:
        self.verifier = verifier

    @property
    def enabled(self) -> bool:
        return self.verifier is not None

    @property
    def state(self) -> str:
        """What /health/ready says of it: "on", or "disabled" (AUTH_DISABLED=true)."""
        return "on" if self.enabled else "disabled"

    async def principal(self, request: Request) -> Principal:
        if self.verifier is None:
            return UNCHECKED
        found: Principal | None = request.scope.get("ordering.principal")
        if found is None:  # once per request, whatever asks
            token = bearer_token(request.headers.get("authorization"))
            found = await self.verifier.verify(token)
            request.scope["ordering.principal"] = found
        return found


async def authorize(request: Request, *scopes: str, customers: bool = False) -> Principal:
    """The caller, if its token holds one of `scopes` (or, where `customers`, is a customer's
    token: the handler then limits it to the customer's own data); else 401 or 403."""
    authenticator: Authenticator = request.app.state.auth
    principal = await authenticator.principal(request)
    if any(principal.has(s) for s in scopes) or (customers and principal.customer_id is not None):
        return principal
    raise Forbidden(f"this needs a token with {' or '.join(scopes)}", scope=" ".join(scopes))


def requires(*scopes: str, customers: bool = False) -> Callable[[Request], Awaitable[Principal]]:
    """A route dependency answering the caller (see `authorize`)."""

    async def caller(request: Request) -> Principal:
        return await authorize(request, *scopes, customers=customers)

    return caller


def secured(
    *scopes: str,
    customers: bool = False,
    responses: dict[int | str, dict[str, Any]] | None = None,
    openapi_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The route keyword arguments (`responses`, `openapi_extra`) that document a route needing
    one of `scopes` (or, with `customers`, a customer's token too): its security requirement,
    its 401 and 403, and a 503 while the issuer cannot be reached (unless the route documents a
    503 of its own), added to what the route documents itself."""
    extra = {**(openapi_extra or {}), "security": [{SCHEME: [scope]} for scope in scopes]}
    if customers:
        extra[CUSTOMER_TOKENS] = "a customer's token may call it for the customer's own data"
    unverifiable = problem_responses(s503=ISSUER_DOWN)
    return {
        "responses": {**unverifiable, **(responses or {}), **problem_responses(401, 403)},
        "openapi_extra": extra,
    }


def operators_only(
    required: bool, *, responses: dict[int | str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The route keyword arguments of a route open by default that a deployment may reserve for
    ordering:operate (`/metrics`, with AUTH_METRICS_REQUIRED)."""
    if not required:
        return {"responses": responses or {}}
    return {"dependencies": [Depends(requires(OPERATE))], **secured(OPERATE, responses=responses)}


def install_auth(app: FastAPI, settings: BaseServiceSettings, http: httpx.AsyncClient) -> None:
    """Set `app.state.auth` and the answers to missing, bad or insufficient tokens."""
    if (refusal := settings.auth_problem()) is not None:
        raise InvalidSettings(f"refusing to start: {refusal}")
    verifier = None
    if settings.auth_disabled:
        log.warning("AUTH_DISABLED=true: every request is accepted without a token")
    else:
        verifier = TokenVerifier(
            settings.auth_issuer,
            settings.auth_audience,
            leeway=settings.auth_leeway_seconds,
            http=http,
        )
    app.state.auth = Authenticator(verifier)
    documented = app.openapi

    def openapi() -> dict[str, Any]:
        document = documented()
        document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        return document

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(InvalidToken)
    async def unauthorized(request: Request, exc: InvalidToken) -> Response:
        challenge = f'Bearer realm="{REALM}"'
        if not exc.missing:  # RFC 6750: no error code when the request carried no token
            challenge += f', error="invalid_token", error_description="{_quoted(str(exc))}"'
        headers = {"WWW-Authenticate": challenge}
        return problem(401, str(exc), instance=request.url.path, headers=headers)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        challenge = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{exc.scope}"'
        headers = {"WWW-Authenticate": challenge} if exc.scope else None
        return problem(403, str(exc), instance=request.url.path, headers=headers)

    @app.exception_handler(IssuerUnavailable)
    async def issuer_down(request: Request, exc: IssuerUnavailable) -> Response:
        log.warning("token issuer unavailable: %s", exc)
        detail = ISSUER_DOWN
        return problem(503, detail, instance=request.url.path, headers={"Retry-After": "1"})


def _quoted(text: str) -> str:
    # a quoted-string of RFC 9110 holds no `"` or `\\` unescaped; keep it printable and short
    return "".join(c for c in text if c.isprintable() and c not in '"\\')[:200]


SECURITY_SCHEMES = {
    SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token of the OpenID Connect issuer AUTH_ISSUER, for the "
        "audience AUTH_AUDIENCE. Scopes: ordering:command, ordering:query, ordering:events, "
        "ordering:operate, ordering:erase (erase a customer), ordering:pii (open an event's "
        "personal data, audited), ordering:keys (customers' data keys, for the read service); "
        "or a customer's token (a `customer_id` claim) for their own data.",
    }
}
