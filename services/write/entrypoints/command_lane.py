"""A command request served by its route as soon as the middleware is through with it.

Between our middleware and a command's route, Starlette and FastAPI would put an exception
middleware (with a wrapper around every message sent), an exit stack, and the router, which
tries every route in turn until one matches: a tenth of a command's CPU. A request that a
command route takes in full is handled here instead, and what it raises is answered by the
app's own exception handlers, looked up as Starlette's exception middleware looks them up.
Anything else goes on through FastAPI as before.
"""

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .command_route import CommandRoute

# What Starlette's exception middleware leaves to the outermost one (our RequestContext answers).
_SERVER_ERRORS = (500, Exception)


class CommandLane:
    """The innermost middleware of the write service (see the module's docstring).

    It takes a request when a command route matches its method and path and no route
    declared before that one could match them too (the router would pick the first), and
    when neither a root path nor FastAPI's own telemetry asks for the router's handling.
    """

    def __init__(self, app: ASGIApp, *, owner: FastAPI) -> None:
        self.app = app
        self._router = owner.router
        self._lanes = lanes(owner.router.routes)
        handlers = {k: v for k, v in owner.exception_handlers.items() if k not in _SERVER_ERRORS}
        self._statuses = {k: v for k, v in handlers.items() if isinstance(k, int)}
        self._types: Mapping[Any, Any] = handlers  # FastAPI's own for HTTPException among them

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await route.answer(scope, receive, send)
        except Exception as exc:
            response = await self._handled(exc, scope, receive, send)
        await response(scope, receive, send)

    def _route(self, scope: Scope) -> CommandRoute | None:
        """The command route that takes the request, its path parameters set in `scope`."""
        if scope.get("root_path") or "fastapi.telemetry" in scope:
            return None
        for route in self._lanes.get((scope["method"], _first_segment(scope["path"])), ()):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.update(child_scope)
                scope.setdefault("router", self._router)
                return route
        return None

    async def _handled(self, exc: Exception, scope: Scope, receive: Receive, send: Send) -> Any:
        """The app's answer to `exc` (re-raised when no handler takes it)."""
        handler = self._statuses.get(exc.status_code) if isinstance(exc, HTTPException) else None
        if handler is None:
            handler = next((self._types[c] for c in type(exc).__mro__ if c in self._types), None)
        if handler is None:
            raise exc
        response = handler(Request(scope, receive, send), exc)
        if inspect.isawaitable(response):
            response = await response
        exc.__traceback__ = None  # a reused exception would collect tracebacks
        return response


def lanes(routes: Iterable[BaseRoute]) -> dict[tuple[str, str], list[CommandRoute]]:
    """The command routes no earlier route may shadow, by method and first path segment."""
    found: dict[tuple[str, str], list[CommandRoute]] = {}
    earlier: list[BaseRoute] = []
    for route in routes:
        if isinstance(route, CommandRoute) and not any(_shadows(e, route) for e in earlier):
            for method in route.methods or ():
                found.setdefault((method, _first_segment(route.path_format)), []).append(route)
        earlier.append(route)
    return found


def _shadows(earlier: BaseRoute, route: CommandRoute) -> bool:
    """Whether `earlier` could match a request `route` matches (when unsure: yes)."""
    if isinstance(earlier, WebSocketRoute):
        return False
    if not isinstance(earlier, Route):  # a mount, an included router: anything
        return True
    if earlier.methods is not None and not earlier.methods & (route.methods or set()):
        return False
    mine, theirs = route.path_format.split("/"), earlier.path_format.split("/")
    if any(":path}" in segment for segment in (*mine, *theirs)):
        return True
    return len(mine) == len(theirs) and all(
        a == b or "{" in a or "{" in b for a, b in zip(mine, theirs, strict=True)
    )


def _first_segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") else ""
