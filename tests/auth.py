"""The development OpenID Connect issuer for tests, and the tokens tests need.

`issuer` runs deploy/local/issuer.py on a free port, as `make run` does. Tokens come from its
token endpoint (the client-credentials grant of its `dev` client), as `make token` gets them;
`forge` signs arbitrary claims, with the issuer's own key or another, for the tokens an issuer
would never give (expired, for another audience, `alg: none`, HMAC...).
"""

import functools
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from deploy.local.keys import new_pii_keys
from deploy.local.stack import LocalIssuer, free_port
from shared.plumbing.auth import SCOPES

AUDIENCE = "ordering"
ALL_SCOPES = SCOPES


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIssuer]:
    state = tmp_path_factory.mktemp("issuer")
    server = LocalIssuer(state, port=free_port(), log_path=state / "issuer.log", audience=AUDIENCE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def auth_env(issuer: LocalIssuer) -> dict[str, str]:
    """The settings of a service that accepts this issuer's tokens, and of a client of it."""
    return issuer.service_settings()


# Random for this test run, one set for all: every write service and every store a test
# builds over one database must open what another sealed there.
_PII_KEYS = new_pii_keys()


def pii_env() -> dict[str, str]:
    """A write service's personal-data keys (PII_KEK, PII_INDEX_KEY) for this test run."""
    return dict(_PII_KEYS)


def pii_settings() -> dict[str, Any]:
    """The same, as keyword arguments of WriteSettings."""
    return {name.lower(): value for name, value in pii_env().items()}


def token(
    issuer: LocalIssuer,
    scopes: tuple[str, ...] = ALL_SCOPES,
    *,
    customer: uuid.UUID | str | None = None,
    subject: str = "test",
) -> str:
    """An access token from the issuer's token endpoint."""
    form = {"scope": " ".join(scopes), "subject": subject}
    if customer is not None:
        form["customer_id"] = str(customer)
    return issuer.dev_token(**form)


@functools.cache
def _client_token(issuer_url: str, client_id: str, secret: str) -> str:
    form = {"grant_type": "client_credentials"}
    answer = httpx.post(f"{issuer_url}/token", data=form, auth=(client_id, secret), timeout=10)
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def client_token(env: Mapping[str, str]) -> str:
    """A token of the client that a service's settings name (AUTH_CLIENT_ID and its secret):
    what the read service and its operator commands carry. Kept: it lives an hour."""
    return _client_token(env["AUTH_ISSUER"], env["AUTH_CLIENT_ID"], env["AUTH_CLIENT_SECRET"])


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def forge(issuer: LocalIssuer, *, key: Any = None, algorithm: str = "RS256", **claims: Any) -> str:
    """A token signed with the issuer's key (or `key`), with `claims` over sound defaults."""
    now = int(time.time())
    body = {"iss": issuer.url, "aud": AUDIENCE, "sub": "forged", "iat": now, "exp": now + 300}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    signing = issuer_key(issuer) if key is None else key
    kid = jwt.get_unverified_header(token(issuer, ("ordering:query",)))["kid"]
    return jwt.encode(body, signing, algorithm=algorithm, headers={"kid": kid})


def issuer_key(issuer: LocalIssuer) -> rsa.RSAPrivateKey:
    loaded = serialization.load_pem_private_key(
        Path(issuer.state_dir, "key.pem").read_bytes(), password=None
    )
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


def another_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
