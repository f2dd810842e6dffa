"""How a command's request is served: the caller's permission first, then its path and body
validated as FastAPI would, then its endpoint, without FastAPI's per-request machinery.

FastAPI documents a command route from its endpoint's signature as for any route. Serving one,
it would resolve the signature's parameters anew on every request (a dependency solver, a
request and a function exit stack, the content type parsed with the email package, a
response model): a fifth of a command's CPU. A command's endpoint takes only its path
parameters, its body and the request, so those are validated here directly, with FastAPI's
own fields, and the same errors answer the same way.
"""

import inspect
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from shared.plumbing.access import CUSTOMER_TOKENS, authorize
from shared.plumbing.auth import COMMAND
from shared.plumbing.tracing import span

# FastAPI's words for a body that is missing, or not JSON (then it validates the raw bytes).
_MISSING = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
_JSON_INVALID = "JSON decode error"
_ABSENT = object()


class JsonRequest(Request):
    """A request whose JSON body is parsed by orjson, once (the idempotency fingerprint reads
    what the body's validation parsed)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class CommandRoute(APIRoute):
    """A command's route: 401 or 403 before anything its body or parameters would answer, then
    the endpoint called with its validated path parameters and body, in the command's span.

    Its endpoint may take path parameters, one body (optional or not) and the request, and
    no dependencies: anything else would need FastAPI's solver, and is refused when the route
    is declared. A customer's token may call it where its OpenAPI says so (`secured`).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        dependant = self.dependant
        known = {f.name for f in (*dependant.path_params, *dependant.body_params)}
        known.add(dependant.request_param_name or "")
        unknown = set(inspect.signature(endpoint).parameters) - known
        if unknown or dependant.dependencies or len(dependant.body_params) > 1:
            raise TypeError(f"{path}: a command takes path parameters, a body and the request")
        self._customers = CUSTOMER_TOKENS in (self.openapi_extra or {})
        self._span_name = f"command {self.operation_id}"
        self._request_name = dependant.request_param_name

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in (self.methods or ()):
            await super().handle(scope, receive, send)  # FastAPI's 405, with Allow
            return
        response = await self.answer(scope, receive, send)
        await response(scope, receive, send)

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> Response:
        """The response to a request of this route's method and path, not sent yet (what
        goes wrong before it raises, for the app's exception handlers)."""
        request = JsonRequest(scope, receive, send)
        await authorize(request, COMMAND, customers=self._customers)
        # its events carry this span's trace (see deps.get_context)
        with span(self._span_name, headers=request.headers):
            arguments = await self._arguments(request)
            response: Response = await self.endpoint(**arguments)
        return response

    async def _arguments(self, request: JsonRequest) -> dict[str, Any]:
        """The endpoint's keyword arguments; every invalid one is reported, as FastAPI does
        (a body that is not even JSON alone)."""
        values: dict[str, Any] = {}
        errors: list[Any] = []
        body = await self._body(request) if self.body_field is not None else None
        for field in self.dependant.path_params:
            raw = request.path_params[field.alias]
            values[field.name], failed = field.validate(raw, values, loc=("path", field.alias))
            errors += failed
        if self.body_field is not None:
            if body is _ABSENT:
                values[self.body_field.name], failed = self._absent()
            else:
                values[self.body_field.name], failed = self.body_field.validate(
                    body, values, loc=("body",)
                )
            errors += failed
        if errors:
            raise RequestValidationError(errors)
        if self._request_name is not None:
            values[self._request_name] = request
        return values

    async def _body(self, request: JsonRequest) -> Any:
        """The body parsed if it is JSON, its bytes if not (which FastAPI validates, and
        refuses), `_ABSENT` if empty."""
        try:
            raw = await request.body()
        except ClientDisconnect as exc:  # as FastAPI answers it (to nobody, by then)
            raise HTTPException(400, "There was an error parsing the body") from exc
        if not raw:
            return _ABSENT
        if not _is_json(request.headers.get("content-type")):
            return raw
        try:
            return await request.json()
        except orjson.JSONDecodeError as exc:
            error: dict[str, Any] = {"type": "json_invalid", "loc": ("body", exc.pos)}
            error |= {"msg": _JSON_INVALID, "input": {}, "ctx": {"error": exc.msg}}
            raise RequestValidationError([error]) from exc

    def _absent(self) -> tuple[None, list[Any]]:
        assert self.body_field is not None
        return None, [dict(_MISSING)] if self.body_field.field_info.is_required() else []


def _is_json(content_type: str | None) -> bool:
    """`application/json` or `application/<anything>+json`, parameters aside (as FastAPI
    reads it)."""
    if not content_type:
        return False
    media = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))
