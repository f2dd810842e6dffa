"""The development OpenID Connect issuer of the embedded stack: discovery, JWKS, the
client-credentials grant (all the services use of Keycloak, Auth0 or Entra ID) and, for the
operator console, the authorization-code grant with PKCE behind a login form
(deploy/local/issuer_login.py).

python -m deploy.local.issuer --port 8003 --state .local/issuer [--audience ordering]
    [--console-redirect http://127.0.0.1:8002/console/ ...]

Its signing key (RSA, RS256) and its clients' secrets are made at the first start and kept in the
state folder, so tokens and settings survive a restart. Two clients:
- `read-service`: what the read service and the operator commands use (the event log, the
  operator's actions, and the customers' data keys to open what the read side shows);
- `dev`: what `make token` uses; it may ask for any scope, and, this issuer being for development
  only, for a token's `sub`, `customer_id` and lifetime too.
And one public client, `console`, whose users sign in on the issuer's login page.
"""

import argparse
import base64
import binascii
import json
import secrets
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from uvicorn.config import LOGGING_CONFIG

from deploy.local.issuer_login import CONSOLE, OPENID, Grant, Logins, TokenError, kept_secrets
from deploy.local.issuer_pages import authorize_routes
from shared.plumbing.auth import EVENTS, KEYS, OPERATE, SCOPES
from shared.plumbing.server import serve

CLIENTS: dict[str, tuple[tuple[str, ...], bool]] = {  # scopes it may ask for, development client
    "read-service": ((EVENTS, OPERATE, KEYS), False),
    "dev": (SCOPES, True),
}
DEFAULT_TTL, MAX_TTL = 3600, 7 * 24 * 3600


class Issuer:
    """Keys, clients and the tokens they are given."""

    def __init__(
        self, state: Path, *, url: str, audience: str, console_redirects: tuple[str, ...] = ()
    ) -> None:
        self.url, self.audience = url, audience
        state.mkdir(parents=True, exist_ok=True)
        self.key = _signing_key(state / "key.pem")
        self.kid = _kid(self.key)
        self.clients = kept_secrets(state / "clients.json", CLIENTS, 24)
        self.logins = Logins(state, redirects=console_redirects)

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def token(self, client_id: str, form: dict[str, str]) -> dict[str, Any]:
        allowed, dev = CLIENTS[client_id]
        wanted = form.get("scope", "").split() or list(allowed)
        if not set(wanted) <= set(allowed):
            raise TokenError("invalid_scope", f"{client_id} may ask for {' '.join(allowed)}")
        extra = _dev_claims(form) if dev else {}
        ttl = int(extra.pop("ttl", DEFAULT_TTL))
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": client_id,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
            "scope": " ".join(wanted),
            **extra,
        }
        if "customer_id" in claims:  # a customer's token carries no staff scope
            claims["scope"] = ""
        token = self._sign(claims)
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    def signed_in(self, grant: Grant) -> dict[str, Any]:
        """The tokens of a redeemed code: an access token with the user's granted scopes, and
        an ID token when `openid` was asked for."""
        now = int(time.time())
        scopes = [s for s in grant.scopes if s != OPENID]
        claims = {"iss": self.url, "sub": grant.user, "iat": now, "nbf": now}
        claims["exp"] = now + DEFAULT_TTL
        access = {**claims, "aud": self.audience, "jti": str(uuid.uuid4())}
        access.update(client_id=grant.client_id, scope=" ".join(scopes))
        answer: dict[str, Any] = {"access_token": self._sign(access), "token_type": "Bearer"}
        answer.update(expires_in=DEFAULT_TTL, scope=" ".join(grant.scopes))
        if OPENID in grant.scopes:
            identity = {**claims, "aud": grant.client_id, "auth_time": now}
            identity.update(preferred_username=grant.user, azp=grant.client_id)
            if grant.nonce:
                identity["nonce"] = grant.nonce
            answer["id_token"] = self._sign(identity)
        return answer

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def _dev_claims(form: dict[str, str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if form.get("subject"):
        claims["sub"] = form["subject"][:200]
    if form.get("customer_id"):
        try:
            claims["customer_id"] = str(uuid.UUID(form["customer_id"]))
        except ValueError as exc:
            raise TokenError("invalid_request", "customer_id must be a UUID") from exc
    if form.get("ttl"):
        if not form["ttl"].isdigit() or not 0 < int(form["ttl"]) <= MAX_TTL:
            raise TokenError("invalid_request", f"ttl must be 1 to {MAX_TTL} seconds")
        claims["ttl"] = int(form["ttl"])
    return claims


def _signing_key(path: Path) -> rsa.RSAPrivateKey:
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


def _kid(key: rsa.RSAPrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return jwt.utils.base64url_encode(public[-24:]).decode()


def _client_of(request: Request, form: dict[str, str], issuer: Issuer) -> str:
    """The authenticated client (client_secret_basic or client_secret_post)."""
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        client_id, _, secret = decoded.partition(":")
    if client_id == CONSOLE and not secret and not header:  # the public client: no secret
        return client_id
    known = issuer.clients.get(client_id)
    if known is None or not secrets.compare_digest(known, secret):
        raise TokenError("invalid_client", "unknown client or wrong secret", status=401)
    return client_id


def create_app(issuer: Issuer) -> Starlette:
    async def discovery(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": issuer.url,
                "jwks_uri": f"{issuer.url}/jwks",
                "token_endpoint": f"{issuer.url}/token",
                "authorization_endpoint": f"{issuer.url}/authorize",
                "grant_types_supported": ["client_credentials", "authorization_code"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": [OPENID, *SCOPES],
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def keys(request: Request) -> JSONResponse:
        return JSONResponse(issuer.jwks())

    async def token(request: Request) -> JSONResponse:
        # application/x-www-form-urlencoded (RFC 6749), read without a multipart parser
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        try:
            client_id = _client_of(request, form, issuer)
            grant_type = form.get("grant_type")
            if client_id == CONSOLE and grant_type == "authorization_code":
                answer = issuer.signed_in(issuer.logins.redeem(form))
            elif client_id != CONSOLE and grant_type == "client_credentials":
                answer = issuer.token(client_id, form)
            else:
                raise TokenError("unsupported_grant_type", f"not for {client_id}: {grant_type}")
        except TokenError as exc:
            body = {"error": exc.error, "error_description": str(exc)}
            return JSONResponse(body, status_code=exc.status)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    # The console's pages call discovery, the keys and the token endpoint from their origin.
    cors = Middleware(
        CORSMiddleware,
        allow_origins=issuer.logins.origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
        max_age=600,
    )
    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", keys),
            Route("/token", token, methods=["POST"]),
            *authorize_routes(issuer.logins),
        ],
        middleware=[cors],
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.issuer", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8003)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--audience", default="ordering")
    parser.add_argument("--console-redirect", action="append", default=[])
    args = parser.parse_args()
    url = f"http://{args.host}:{args.port}"
    redirects = tuple(args.console_redirect)
    issuer = Issuer(args.state, url=url, audience=args.audience, console_redirects=redirects)
    app = create_app(issuer)
    serve(app, host=args.host, port=args.port, log_level="warning", log_config=LOGGING_CONFIG)


if __name__ == "__main__":
    main()
