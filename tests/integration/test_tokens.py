"""Token validation against a real OpenID Connect issuer (the development one, over HTTP)."""

import time
import uuid
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from deploy.local.stack import LocalIssuer
from shared.plumbing.auth import InvalidToken, Principal, TokenVerifier, bearer_token
from tests.auth import AUDIENCE, another_key, forge, token
from tests.polling import poll


@pytest.fixture
async def verifier(issuer: LocalIssuer) -> AsyncIterator[TokenVerifier]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield TokenVerifier(issuer.url, AUDIENCE, leeway=5, http=http)


async def test_a_token_of_the_issuer_names_its_caller(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    staff = await verifier.verify(token(issuer, ("ordering:query", "ordering:events")))
    assert staff == Principal(
        subject="test", client_id="dev", scopes=frozenset({"ordering:query", "ordering:events"})
    )
    customer_id = uuid.uuid4()
    customer = await verifier.verify(token(issuer, customer=customer_id, subject="ada"))
    assert (customer.subject, customer.customer_id, customer.scopes) == (
        "ada",
        customer_id,
        frozenset(),
    )
    assert customer.actor() == {
        "subject": "ada",
        "client_id": "dev",
        "customer_id": str(customer_id),
    }


def refused_tokens(issuer: LocalIssuer) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": AUDIENCE, "sub": "x", "exp": now + 60}
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    return {
        "another key": forge(issuer, key=another_key()),
        "alg none": unsigned,
        "HMAC": forge(issuer, key="a-shared-secret-of-32-bytes-long!", algorithm="HS256"),
        "expired": forge(issuer, exp=now - 60),
        "not yet valid": forge(issuer, nbf=now + 600),
        "another audience": forge(issuer, aud="payments"),
        "another issuer": forge(issuer, iss="https://issuer.example.com"),
        "no expiry": forge(issuer, exp=None),
        "no subject": forge(issuer, sub=None),
        "customer id not a UUID": forge(issuer, customer_id="ada"),
        "not a JWT": "not-a-jwt",
    }


async def test_tokens_an_issuer_would_not_give_are_refused(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    for name, value in refused_tokens(issuer).items():
        with pytest.raises(InvalidToken):
            await verifier.verify(value)
            pytest.fail(f"accepted: {name}")


def test_the_authorization_header_is_a_bearer_token() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer  abc ") == "abc"
    for header in (None, "", "Basic dXNlcjpwdw==", "Bearer", "Bearer   "):
        with pytest.raises(InvalidToken):
            bearer_token(header)


async def test_the_issuer_refuses_a_wrong_secret_and_a_scope_beyond_the_client(
    issuer: LocalIssuer,
) -> None:
    async with httpx.AsyncClient(base_url=issuer.url) as http:
        form = {"grant_type": "client_credentials"}
        wrong = await http.post("/token", data=form, auth=("dev", "not-the-secret"))
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
        secret = issuer.client_secret("read-service")
        beyond = await http.post(
            "/token", data={**form, "scope": "ordering:command"}, auth=("read-service", secret)
        )
        assert (beyond.status_code, beyond.json()["error"]) == (400, "invalid_scope")


async def test_a_token_checked_once_still_expires(issuer: LocalIssuer) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        strict = TokenVerifier(issuer.url, AUDIENCE, leeway=0, http=http)
        short = forge(issuer, exp=int(time.time()) + 2)
        assert (await strict.verify(short)).subject == "forged"

        async def refused() -> bool:
            try:
                await strict.verify(short)
            except InvalidToken:
                return True
            return False

        await poll(refused, "the checked token to be refused once expired", timeout=15)
