"""Route dependencies, as Annotated aliases (all async: FastAPI runs a sync one in a thread)."""

import re
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

from shared.contracts.envelope import EventMetadata
from shared.plumbing.access import Authenticator
from shared.plumbing.auth import COMMAND, Principal
from shared.plumbing.ids import uuid4_text
from shared.plumbing.logging import correlation_id
from shared.plumbing.tracing import current_traceparent, enabled

from ..application.handlers import CommandContext, CommandHandlers
from ..bootstrap import WriteService
from .problems import BadHeader

# A version ETag ("3", weak or bare), or `*`; documented as the header's pattern.
IF_MATCH_PATTERN = r'^\s*(?:\*|(?:W/)?"?[0-9]{1,9}"?)\s*$'
_ETAG = re.compile(r'^\s*(?:W/)?"?([0-9]{1,9})"?\s*$')


async def get_service(request: Request) -> WriteService:
    service: WriteService = request.app.state.service
    return service


Service = Annotated[WriteService, Depends(get_service)]


def parse_if_match(value: str | None) -> int | None:
    """`"3"` -> 3; `*` or absent -> None (no version expected)."""
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.match(value)
    if match is None:
        raise BadHeader(f'If-Match must be a version ETag such as "3", got {value[:40]!r}')
    return int(match.group(1))


async def fingerprint(request: Request) -> str:
    """The identity of a request for idempotency: method, path and canonical JSON body (parsed
    once: `request.json()` keeps what the route's body validation parsed), digested under the
    service's index key (a body may hold an email: a bare hash of it could be guessed)."""
    body = await request.body()
    try:
        canonical = orjson.dumps(await request.json(), option=orjson.OPT_SORT_KEYS) if body else b""
    except ValueError:  # not JSON (any JSON decoder's error is a ValueError)
        canonical = body
    service = await get_service(request)
    return service.keyed_digest(f"{request.method} {request.url.path}\n".encode(), canonical)


def _header(request: Request, name: str, max_length: int) -> str | None:
    value = request.headers.get(name)
    if value is not None and not 0 < len(value) <= max_length:
        msg = f"must be 1 to {max_length} characters long"
        raise RequestValidationError([{"loc": ("header", name), "msg": msg, "type": "value_error"}])
    return value


async def get_context(
    request: Request, caller: Principal, *, staff: str = COMMAND
) -> CommandContext:
    """The command's context from its headers (read directly: declared Header() parameters
    cost a validation pass per header and request; COMMAND_HEADERS documents them). A caller
    with the `staff` scope may act on any customer's data, any other on their own only."""
    idempotency_key = _header(request, "idempotency-key", 200)
    cid = correlation_id.get()
    return CommandContext(
        expected_version=parse_if_match(request.headers.get("if-match")),
        idempotency_key=idempotency_key,
        fingerprint=await fingerprint(request) if idempotency_key else "",
        metadata=EventMetadata(
            correlation_id=cid,
            causation_id=cid,
            command_id=idempotency_key or uuid4_text(),
            # traced: the command's span (in the caller's trace, or a new one when the caller
            # gave none or an invalid one); else the caller's traceparent, passed on
            traceparent=current_traceparent() if enabled() else request.headers.get("traceparent"),
            actor=caller.actor(),
        ),
        subject=caller.subject,
        # ordering:command allows every command, whoever holds it; a customer's token only
        # those on the customer's own data (the handlers see to it)
        customer_id=None if caller.has(staff) else caller.customer_id,
    )


def _documented(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


# The headers every command reads, for the OpenAPI document.
COMMAND_HEADERS: dict[str, Any] = {
    "parameters": [
        _documented(
            "If-Match",
            'The version the stream must be at, as an ETag: "3".',
            pattern=IF_MATCH_PATTERN,
        ),
        _documented(
            "Idempotency-Key",
            "A retry with the same key and body answers the first response again.",
            minLength=1,
            maxLength=200,
        ),
        _documented(
            "traceparent",
            "W3C Trace Context, carried into the events; an invalid one is ignored.",
        ),
    ]
}


async def command(request: Request) -> tuple[CommandHandlers, CommandContext]:
    """The handlers and the context of a command route, read without FastAPI's dependency
    resolution (which costs a pass per dependency and request on the hottest path). The
    route has checked the caller's permission already (see command_route.CommandRoute); this is
    the principal it found."""
    authenticator: Authenticator = request.app.state.auth
    caller = await authenticator.principal(request)
    return (await get_service(request)).handlers, await get_context(request, caller)
