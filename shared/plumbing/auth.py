"""OAuth 2.0 bearer tokens (JWT access tokens) from an OpenID Connect issuer.

The issuer is found by discovery (`<AUTH_ISSUER>/.well-known/openid-configuration`), its keys at
the `jwks_uri` it names (cached, fetched again when a token names an unknown `kid`). PyJWT checks
the signature and the claims; only asymmetric algorithms are accepted, so neither `none` nor an
HMAC token signed with some public key can pass.
"""

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import jwt

log = logging.getLogger(__name__)

COMMAND = "ordering:command"
QUERY = "ordering:query"
EVENTS = "ordering:events"
OPERATE = "ordering:operate"
ERASE = "ordering:erase"  # erase a customer, see their erasure's receipt
PII = "ordering:pii"  # open an event's personal data (every call audited)
KEYS = "ordering:keys"  # customers' data keys: the read service's own client only
SCOPES = (COMMAND, QUERY, EVENTS, OPERATE, ERASE, PII, KEYS)
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
KEYS_REFRESH_SECONDS = 30.0  # at most one JWKS fetch this often for unknown `kid`s
VERIFIED_CACHE_SIZE = 10_000  # tokens whose signature and claims were checked, until they expire


class InvalidToken(Exception):
    """No usable bearer token (401): missing, malformed, badly signed, expired, not for us."""

    def __init__(self, detail: str, *, missing: bool = False) -> None:
        super().__init__(detail)
        self.missing = missing


class Forbidden(Exception):
    """A valid token without the permission the request needs (403)."""

    def __init__(self, detail: str, *, scope: str = "") -> None:
        super().__init__(detail)
        self.scope = scope


class IssuerUnavailable(Exception):
    """The issuer's discovery document or keys could not be fetched (503)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's subject, client, scopes and, for a customer, its id."""

    subject: str
    client_id: str | None = None
    scopes: frozenset[str] = frozenset()
    customer_id: UUID | None = None

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def actor(self) -> dict[str, str]:
        """What the audit trail records of the caller."""
        found = {"subject": self.subject, "client_id": self.client_id}
        found["customer_id"] = str(self.customer_id) if self.customer_id else None
        return {k: v for k, v in found.items() if v}

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> "Principal":
        raw = claims.get("scope", claims.get("scp", ""))
        scopes = raw.split() if isinstance(raw, str) else [str(s) for s in raw or []]
        customer = claims.get("customer_id")
        try:
            customer_id = UUID(str(customer)) if customer is not None else None
        except ValueError as exc:
            raise InvalidToken("the token's customer_id is not a UUID") from exc
        client = claims.get("client_id", claims.get("azp"))
        return cls(
            subject=str(claims["sub"]),
            client_id=str(client) if client else None,
            scopes=frozenset(scopes),
            customer_id=customer_id,
        )


# Every permission, for a service started with AUTH_DISABLED=true.
UNCHECKED = Principal(subject="anonymous", scopes=frozenset(SCOPES))


class TokenVerifier:
    """Validates access tokens against one issuer and audience."""

    def __init__(
        self, issuer: str, audience: str, *, leeway: float = 30.0, http: httpx.AsyncClient
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.leeway = leeway
        self._http = http
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        # A client sends the same token with every request until it expires: checking its
        # signature once (about 0.1 ms of CPU, most of it PyJWT decoding in Python) is enough.
        self._verified: OrderedDict[str, tuple[Principal, float, float]] = OrderedDict()

    async def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document (fetched once)."""
        if self._metadata is None:
            found = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if str(found.get("issuer", "")).rstrip("/") != self.issuer:
                raise IssuerUnavailable(f"discovery names another issuer: {found.get('issuer')!r}")
            self._metadata = found
        return self._metadata

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, not_before, expires = known
            if not_before - self.leeway <= time.time() < expires + self.leeway:
                return principal
            del self._verified[token]
        principal, not_before, expires = await self._check(token)
        self._verified[token] = (principal, not_before, expires)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    async def _check(self, token: str) -> tuple[Principal, float, float]:
        """The token's principal and validity window, after PyJWT checked signature and claims."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from exc
        algorithm = header.get("alg")
        if algorithm not in ASYMMETRIC:
            raise InvalidToken(f"algorithm {algorithm!r} is not accepted")
        key = await self._key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        not_before = float(claims.get("nbf", claims.get("iat", 0)))
        return Principal.from_claims(claims), not_before, float(claims["exp"])

    async def _key(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys and time.monotonic() - self._fetched_at > KEYS_REFRESH_SECONDS:
            await self._fetch_keys()
        key = self._keys.get(kid) or (self._keys.get("") if not kid else None)
        if key is None:
            raise InvalidToken("the token is signed with a key the issuer does not publish")
        return key

    async def _fetch_keys(self) -> None:
        jwks = await self._get_json(str((await self.metadata())["jwks_uri"]))
        keys = {}
        for data in jwks.get("keys", []):
            try:
                key = jwt.PyJWK(data)
            except jwt.PyJWTError as exc:  # a key of a type we cannot use: not ours to use
                log.warning("ignoring a key of the issuer's JWKS: %s", exc)
                continue
            keys[str(data.get("kid", ""))] = key
        self._keys, self._fetched_at = keys, time.monotonic()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnavailable(f"{url}: {exc!r}") from exc
        return body


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750)."""
    if not authorization:
        raise InvalidToken("a bearer token is required", missing=True)
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header must be `Bearer <token>`")
    return token.strip()
