"""The development issuer's authorize endpoint: the login form of its development users (GET),
and its answer (POST), a redirect to the console with a one-time code or an OAuth error."""

from __future__ import annotations

import html
from collections.abc import Mapping
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from deploy.local.issuer_login import CARRIED, AuthorizeError, Logins, redirect_to

# The form is the issuer's own: no script, no frame, nothing fetched from elsewhere.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def authorize_routes(logins: Logins) -> list[Route]:
    """GET /authorize shows the form, POST /authorize checks the user and redirects."""

    def answer(params: Mapping[str, str]) -> Response | None:
        """A refusal, an error redirect, or None when the request may sign in."""
        try:
            error = logins.check_request(params)
        except AuthorizeError as exc:
            return HTMLResponse(refusal_page(str(exc)), status_code=400, headers=HEADERS)
        if error is None:
            return None
        back = redirect_to(params["redirect_uri"], error=error, state=params.get("state", ""))
        return RedirectResponse(back, status_code=303, headers=HEADERS)

    async def show(request: Request) -> Response:
        params = dict(request.query_params)
        return answer(params) or HTMLResponse(login_page(params), headers=HEADERS)

    async def sign_in(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        params = {name: form[name] for name in CARRIED if name in form}
        refused = answer(params)
        if refused is not None:
            return refused
        user, password = form.get("username", ""), form.get("password", "")
        if not logins.authenticate(user, password):
            page = login_page(params, error="Unknown user or wrong password.", user=user)
            return HTMLResponse(page, status_code=401, headers=HEADERS)
        code = logins.issue(params, user)
        back = redirect_to(params["redirect_uri"], code=code, state=params.get("state", ""))
        return RedirectResponse(back, status_code=303, headers=HEADERS)

    return [
        Route("/authorize", show, methods=["GET"]),
        Route("/authorize", sign_in, methods=["POST"]),
    ]


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in: ordering development issuer</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; background: #f4f5f7; color: #1b1f24; }}
main {{ max-width: 22rem; margin: 4rem auto; background: #fff; padding: 1.5rem 2rem;
  border: 1px solid #c9ced6; border-radius: 8px; }}
label {{ display: block; margin-top: 1rem; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: .5rem; font: inherit;
  border: 1px solid #6b7280; border-radius: 4px; }}
button {{ margin-top: 1.5rem; padding: .5rem 1.25rem; font: inherit; color: #fff;
  background: #1d4ed8; border: 0; border-radius: 4px; cursor: pointer; }}
:focus-visible {{ outline: 3px solid #f59e0b; outline-offset: 2px; }}
.error {{ color: #a40e26; font-weight: 600; }}
</style></head>
<body><main>
<h1>Sign in</h1>
<p>Development issuer of the ordering stack, for <strong>{client}</strong>.
Users: operator, viewer, nobody.</p>
{error}
<form method="post" action="authorize">
{hidden}
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required value="{user}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</main></body></html>
"""


def login_page(params: Mapping[str, str], *, error: str = "", user: str = "") -> str:
    """The login form, carrying the authorize request's parameters."""
    hidden = "\n".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
        for name in CARRIED
        if params.get(name)
    )
    shown = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    client = html.escape(params.get("client_id", ""))
    return PAGE.format(client=client, error=shown, hidden=hidden, user=html.escape(user))


def refusal_page(reason: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Refused</title>'
        f"</head><body><main><h1>Sign-in refused</h1><p>{html.escape(reason)}</p></main>"
        "</body></html>"
    )
