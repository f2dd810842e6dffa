"""The development issuer's sign-in for browser applications: the authorization-code grant with
PKCE (RFC 7636, S256 only) for its public `console` client, a login form for its development
users, and one-time codes.

The users and their scopes:
- `operator`: every staff scope (commands, queries, the event log, the operator's actions);
- `viewer`: ordering:query only, so it reads the projections and acts on nothing;
- `nobody`: no scope of ours, so every API refuses it.
Their passwords are made at the first start and kept in the state folder (users.json, mode
0600) like the clients' secrets; `make run` prints them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from shared.plumbing.auth import COMMAND, EVENTS, OPERATE, QUERY

CONSOLE = "console"  # the public client of the operator console: no secret, PKCE required
USERS: dict[str, tuple[str, ...]] = {
    "operator": (COMMAND, QUERY, EVENTS, OPERATE),
    "viewer": (QUERY,),
    "nobody": (),
}
OPENID = "openid"
CODE_TTL_SECONDS = 60
MAX_PENDING_CODES = 1000
# What the authorize request carries from the client to the login form and back.
CARRIED = (
    *("client_id", "redirect_uri", "response_type", "scope", "state", "nonce"),
    *("code_challenge", "code_challenge_method"),
)
VERIFIER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class TokenError(Exception):
    """An RFC 6749 error answer of the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.status = error, status


class AuthorizeError(Exception):
    """An authorize request that names no registered client or redirect: shown to the user,
    never redirected (RFC 6749 4.1.2.1), since the redirect itself cannot be trusted."""


@dataclass(frozen=True)
class Grant:
    """What a one-time code stands for."""

    client_id: str
    redirect_uri: str
    challenge: str
    user: str
    scopes: tuple[str, ...]
    nonce: str
    expires: float


class Logins:
    """The development users, the console's registered redirect URIs and the codes given."""

    def __init__(self, state: Path, *, redirects: Iterable[str]) -> None:
        self.passwords = kept_secrets(state / "users.json", USERS, 12)
        self.redirects = frozenset(redirects)
        self._codes: dict[str, Grant] = {}

    @property
    def origins(self) -> list[str]:
        """The browser origins of the registered redirects (they call discovery and /token)."""
        return sorted({_origin(uri) for uri in self.redirects})

    def check_request(self, params: Mapping[str, str]) -> str | None:
        """Refuse (AuthorizeError) a request of an unknown client or redirect; the OAuth error
        to send back to the client's redirect, or None for a request to sign in."""
        if params.get("client_id") != CONSOLE:
            raise AuthorizeError(f"unknown client {params.get('client_id', '')!r}")
        if params.get("redirect_uri") not in self.redirects:
            raise AuthorizeError("the redirect_uri is not registered for this client")
        if params.get("response_type") != "code":
            return "unsupported_response_type"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "invalid_request"  # PKCE with S256 is required of a public client
        return None

    def authenticate(self, user: str, password: str) -> bool:
        known = self.passwords.get(user)
        # compared even for an unknown user, so that timing does not tell which users exist
        matches = secrets.compare_digest(known or secrets.token_urlsafe(18), password)
        return known is not None and matches

    def issue(self, params: Mapping[str, str], user: str) -> str:
        """A one-time code for `user`, valid CODE_TTL_SECONDS, bound to the request."""
        now = time.monotonic()
        self._codes = {c: g for c, g in self._codes.items() if g.expires > now}
        if len(self._codes) >= MAX_PENDING_CODES:
            self._codes.pop(next(iter(self._codes)))
        wanted = params.get("scope", "").split()
        allowed = USERS[user]
        granted = [s for s in wanted if s in allowed or s == OPENID] if wanted else list(allowed)
        code = secrets.token_urlsafe(32)
        self._codes[code] = Grant(
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            challenge=params["code_challenge"],
            user=user,
            scopes=tuple(granted),
            nonce=params.get("nonce", ""),
            expires=now + CODE_TTL_SECONDS,
        )
        return code

    def redeem(self, form: Mapping[str, str]) -> Grant:
        """The grant of an authorization_code request; the code is spent whatever happens."""
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant.expires <= time.monotonic():
            raise TokenError("invalid_grant", "unknown, used or expired code")
        if form.get("client_id") != grant.client_id:
            raise TokenError("invalid_grant", "the code was given to another client")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise TokenError("invalid_grant", "redirect_uri differs from the authorize request's")
        verifier = form.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128 or not set(verifier) <= VERIFIER_CHARS:
            raise TokenError("invalid_grant", "code_verifier must be 43 to 128 unreserved chars")
        if not secrets.compare_digest(s256(verifier), grant.challenge):
            raise TokenError("invalid_grant", "the code_verifier does not match the challenge")
        return grant


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier: base64url of its SHA-256, unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def redirect_to(uri: str, **params: str) -> str:
    separator = "&" if urlsplit(uri).query else "?"
    return f"{uri}{separator}{urlencode({k: v for k, v in params.items() if v})}"


def kept_secrets(path: Path, names: Collection[str], nbytes: int) -> dict[str, str]:
    """A secret for each name, made once and kept in `path` (readable by the owner only):
    the issuer's client secrets and its development users' passwords."""
    kept = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in names if name not in kept]
    if missing:
        kept.update({name: secrets.token_urlsafe(nbytes) for name in missing})
        path.write_text(json.dumps(kept, indent=2))
        path.chmod(0o600)
    return {name: str(kept[name]) for name in names}


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"
