"""The development issuer's authorization-code grant with PKCE: the login form, the one-time
code, the redirect URI and the verifier it is bound to, and the tokens a signed-in user gets."""

import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from deploy.local.issuer import Issuer, create_app
from deploy.local.issuer_login import s256

URL = "http://issuer.test"
CONSOLE_URI = "http://127.0.0.1:8002/console/"
AUDIENCE = "ordering"


@pytest.fixture
def issuer(tmp_path: Path) -> Issuer:
    return Issuer(tmp_path, url=URL, audience=AUDIENCE, console_redirects=(CONSOLE_URI,))


@pytest.fixture
async def http(issuer: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(issuer))
    async with httpx.AsyncClient(transport=transport, base_url=URL) as client:
        yield client


def authorize_params(verifier: str, **changes: str) -> dict[str, str]:
    params = {
        "client_id": "console",
        "redirect_uri": CONSOLE_URI,
        "response_type": "code",
        "scope": "openid ordering:query ordering:operate ordering:events",
        "state": "s-1",
        "nonce": "n-1",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    return {**params, **changes}


async def sign_in(
    http: httpx.AsyncClient, issuer: Issuer, user: str, verifier: str, **changes: str
) -> dict[str, list[str]]:
    """The query of the redirect after signing in as `user` with the right password."""
    params = authorize_params(verifier, **changes)
    form = {**params, "username": user, "password": issuer.logins.passwords[user]}
    answer = await http.post("/authorize", data=form)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(params["redirect_uri"] + "?")
    return parse_qs(urlsplit(location).query)


async def redeem(http: httpx.AsyncClient, code: str, verifier: str, **changes: str) -> Any:
    form = {
        "grant_type": "authorization_code",
        "client_id": "console",
        "code": code,
        "redirect_uri": CONSOLE_URI,
        "code_verifier": verifier,
        **changes,
    }
    return await http.post("/token", data=form)


def claims(token: str, issuer: Issuer, audience: str = AUDIENCE) -> dict[str, Any]:
    key = issuer.key.public_key()
    found: dict[str, Any] = jwt.decode(
        token, key, algorithms=["RS256"], audience=audience, issuer=URL
    )
    return found


async def test_discovery_names_the_authorize_endpoint_and_pkce(http: httpx.AsyncClient) -> None:
    found = (await http.get("/.well-known/openid-configuration")).json()
    assert found["authorization_endpoint"] == f"{URL}/authorize"
    assert found["code_challenge_methods_supported"] == ["S256"]
    assert "authorization_code" in found["grant_types_supported"]
    assert found["response_types_supported"] == ["code"]


async def test_the_login_form_carries_the_request_and_labels_its_fields(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.get("/authorize", params=authorize_params("v" * 43))
    assert answer.status_code == 200
    page = answer.text
    assert '<label for="username">' in page and '<label for="password">' in page
    assert 'name="code_challenge" value="' in page and 'name="state" value="s-1"' in page
    assert "default-src 'none'" in answer.headers["content-security-policy"]


async def test_an_operator_signs_in_and_gets_every_staff_scope_asked_for(
    http: httpx.AsyncClient, issuer: Issuer
) -> None:
    verifier = secrets.token_urlsafe(48)
    query = await sign_in(http, issuer, "operator", verifier)
    assert query["state"] == ["s-1"]
    answer = await redeem(http, query["code"][0], verifier)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    access = claims(body["access_token"], issuer)
    assert access["sub"] == "operator" and access["client_id"] == "console"
    assert set(access["scope"].split()) == {"ordering:query", "ordering:operate", "ordering:events"}
    identity = claims(body["id_token"], issuer, audience="console")
    assert identity["nonce"] == "n-1" and identity["preferred_username"] == "operator"


@pytest.mark.parametrize(("user", "scopes"), [("viewer", {"ordering:query"}), ("nobody", set())])
async def test_a_user_gets_only_the_scopes_they_have(
    http: httpx.AsyncClient, issuer: Issuer, user: str, scopes: set[str]
) -> None:
    verifier = secrets.token_urlsafe(48)
    query = await sign_in(http, issuer, user, verifier)
    body = (await redeem(http, query["code"][0], verifier)).json()
    assert set(claims(body["access_token"], issuer)["scope"].split()) == scopes


async def test_a_wrong_password_shows_the_form_again(
    http: httpx.AsyncClient, issuer: Issuer
) -> None:
    form = {**authorize_params("v" * 43), "username": "operator", "password": "wrong"}
    answer = await http.post("/authorize", data=form)
    assert answer.status_code == 401
    assert re.search(r'role="alert">Unknown user or wrong password', answer.text)
    assert "location" not in answer.headers


async def test_the_code_is_bound_to_its_verifier_and_used_once(
    http: httpx.AsyncClient, issuer: Issuer
) -> None:
    verifier = secrets.token_urlsafe(48)
    code = (await sign_in(http, issuer, "operator", verifier))["code"][0]
    wrong = await redeem(http, code, secrets.token_urlsafe(48))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # a failed attempt spends the code too: it cannot be tried again with the right verifier
    assert (await redeem(http, code, verifier)).json()["error"] == "invalid_grant"
    code = (await sign_in(http, issuer, "operator", verifier))["code"][0]
    assert (await redeem(http, code, verifier)).status_code == 200
    assert (await redeem(http, code, verifier)).json()["error"] == "invalid_grant"


async def test_the_code_is_bound_to_its_redirect_uri(
    http: httpx.AsyncClient, issuer: Issuer
) -> None:
    verifier = secrets.token_urlsafe(48)
    code = (await sign_in(http, issuer, "operator", verifier))["code"][0]
    answer = await redeem(http, code, verifier, redirect_uri="http://127.0.0.1:8002/other/")
    assert answer.json()["error"] == "invalid_grant"


async def test_unregistered_redirects_and_clients_are_refused_without_redirecting(
    http: httpx.AsyncClient,
) -> None:
    for changes in ({"redirect_uri": "http://evil.test/console/"}, {"client_id": "shop"}):
        answer = await http.get("/authorize", params=authorize_params("v" * 43, **changes))
        assert answer.status_code == 400 and "location" not in answer.headers


async def test_a_request_without_s256_pkce_is_sent_back_with_an_error(
    http: httpx.AsyncClient,
) -> None:
    params = authorize_params("v" * 43, code_challenge_method="plain")
    answer = await http.get("/authorize", params=params)
    assert answer.status_code == 303
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query == {"error": ["invalid_request"], "state": ["s-1"]}


async def test_the_public_client_cannot_use_client_credentials(http: httpx.AsyncClient) -> None:
    answer = await http.post(
        "/token", data={"grant_type": "client_credentials", "client_id": "console"}
    )
    assert answer.json()["error"] == "unsupported_grant_type"


async def test_the_console_origin_may_call_the_token_endpoint(http: httpx.AsyncClient) -> None:
    origin = "http://127.0.0.1:8002"
    preflight = await http.options(
        "/token",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers["access-control-allow-origin"] == origin
    other = await http.get(
        "/.well-known/openid-configuration", headers={"Origin": "http://evil.test"}
    )
    assert "access-control-allow-origin" not in other.headers


def test_passwords_are_made_once_and_kept_private(tmp_path: Path) -> None:
    first = Issuer(tmp_path, url=URL, audience=AUDIENCE).logins.passwords
    again = Issuer(tmp_path, url=URL, audience=AUDIENCE).logins.passwords
    assert first == again and set(first) == {"operator", "viewer", "nobody"}
    assert (tmp_path / "users.json").stat().st_mode & 0o077 == 0
